//! `kcl-bootstrap` command: parse flags, run, exit with the documented code.

use clap::Parser;

fn main() {
    let cli = kcl_bootstrap::Cli::parse();
    std::process::exit(kcl_bootstrap::main_with(&cli));
}
