//! The crate README shows kcl-protocol's `examples/log_and_checkpoint.rs` verbatim, so the
//! processor it shows is one that compiles (kcl-protocol's tests build the example).

#[test]
fn readme_shows_the_kcl_protocol_example_verbatim() {
    let readme = include_str!("../README.md");
    let example = include_str!("../../kcl-protocol/examples/log_and_checkpoint.rs");
    assert!(
        readme.contains(&format!("```rust\n{example}```\n")),
        "README.md must show kcl-protocol/examples/log_and_checkpoint.rs verbatim; copy it again"
    );
}
