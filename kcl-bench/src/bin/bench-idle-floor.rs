//! `bench-idle-floor`: the smallest child that answers `initialize` (reads a line, writes the
//! status, waits for EOF), built like the other Rust children. `kcl-bench` measures its idle
//! memory as the floor that any dynamically linked Rust program has on the machine (libc, the
//! loader, the kernel's fault-around of shared text), to show what a real child adds to it.

use std::io::{BufRead, Write};

fn main() {
    let mut input = std::io::stdin().lock();
    let mut line = String::new();
    if input.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut output = std::io::stdout().lock();
    let _ = output.write_all(b"{\"action\":\"status\",\"responseFor\":\"initialize\"}\n");
    let _ = output.flush();
    // Wait for EOF, as a child waits for its next action.
    while input.read_line(&mut line).unwrap_or(0) > 0 {
        line.clear();
    }
}
