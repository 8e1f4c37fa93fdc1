//! `kcl-bootstrap` command: parse flags, run, map failures to the documented exit codes.

use clap::Parser;

fn main() {
    let cli = kcl_bootstrap::cli::Cli::parse();
    if let Err(e) = kcl_bootstrap::run(&cli) {
        eprintln!("kcl-bootstrap: error: {e}");
        std::process::exit(e.exit_code());
    }
}
