//! The crate README shows kcl-protocol's `examples/log_and_checkpoint.rs` verbatim, so the
//! processor it shows is one that compiles (kcl-protocol's tests build the example).

mod common;
use common::*;

#[test]
fn readme_shows_the_kcl_protocol_example_verbatim() {
    if packaged() {
        return;
    }
    let readme = include_str!("../README.md");
    let example = repository_file("kcl-protocol/examples/log_and_checkpoint.rs").unwrap();
    assert!(
        readme.contains(&format!("```rust\n{example}```\n")),
        "README.md must show kcl-protocol/examples/log_and_checkpoint.rs verbatim; copy it again"
    );
}
