//! The crate README shows `examples/log_and_checkpoint.rs` verbatim, so the processor a newcomer
//! copies is one that compiles (cargo builds the example with the tests).

#[test]
fn readme_shows_the_example_verbatim() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/log_and_checkpoint.rs");
    assert!(
        readme.contains(&format!("```rust\n{example}```\n")),
        "README.md must show examples/log_and_checkpoint.rs verbatim in a ```rust block; copy it again"
    );
}
