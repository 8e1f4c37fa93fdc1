//! Checking `executableName` the way the daemon will start it: split on runs of spaces, no
//! shell (no quotes, no `$VAR`, no `~`), a name with `/` relative to the working directory, a bare
//! name on `PATH`.

use super::super::context::Context;
use super::super::diagnostic::Diagnostic;
use super::super::origin::Origin;
use crate::display::{shown, shown_path};
use std::path::PathBuf;

/// Words joined when looking for a path that contains spaces.
const MAX_JOINED_WORDS: usize = 16;

pub(super) fn check_executable(
    value: &str,
    ctx: &Context,
    out: &mut Vec<Diagnostic>,
    origin: &Origin,
) {
    let err = |message: String| Diagnostic::error(Some(origin.clone()), message);
    let warn = |message: String| Diagnostic::warning(Some(origin.clone()), message);
    let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    let Some((&program, args)) = words.split_first() else {
        return;
    };
    if value.contains('\t') {
        out.push(warn(
            "'executableName' contains a tab: the daemon splits only on spaces, so the tab stays inside an \
             argument"
                .into(),
        ));
    }
    if value.contains(['"', '\'']) {
        let argv: Vec<String> = words.iter().map(|w| format!("[{}]", shown(w))).collect();
        out.push(err(format!(
            "'executableName' contains quotes, but the daemon runs it without a shell: it splits on spaces and passes \
             quotes on literally, so it would run {}; remove the quotes (wrap a command line in a script if you \
             need one)",
            argv.join(" ")
        )));
        return;
    }
    let shell_syntax = args
        .iter()
        .find(|a| a.contains(['$', '|', ';', '&', '<', '>', '`']) || a.starts_with('~'));
    if let Some(arg) = shell_syntax {
        out.push(warn(format!(
            "'executableName': the argument '{}' looks like shell syntax, but the daemon uses no shell and passes it \
             on literally",
            shown(arg)
        )));
    }
    if let Some(cause) = shell_word_cause(program) {
        out.push(err(format!(
            "'executableName': '{}' {cause}; the daemon runs the program without a shell. Write the program's real \
             path",
            shown(program)
        )));
        return;
    }
    let candidate = if program.contains('/') {
        Some(ctx.cwd().join(program))
    } else {
        None
    };
    if let Some(path) = candidate.as_ref().filter(|p| p.is_dir()) {
        out.push(err(format!(
            "'executableName': {} is a directory, not a program; point executableName at the built binary",
            shown_path(path)
        )));
        return;
    }
    if let Some(found) = resolve_program(program, ctx) {
        if !crate::java::is_executable(&found) {
            out.push(err(format!(
                "'executableName': {} is not executable; run `chmod +x {}` or point at the built binary",
                shown_path(&found),
                shown_path(&found)
            )));
        }
        return;
    }
    // Not found: is it a path with spaces that the daemon would cut apart?
    for n in 2..=words.len().min(MAX_JOINED_WORDS) {
        let joined = words[..n].join(" ");
        if resolve_program(&joined, ctx).is_some() || ctx.cwd().join(&joined).is_dir() {
            out.push(err(format!(
                "'executableName': the path '{}' contains a space, but the daemon splits executableName on \
                 spaces (no quoting) and would try to run '{}'; move the program or link it from a path \
                 without spaces",
                shown(&joined),
                shown(program)
            )));
            return;
        }
    }
    let hint = if program.contains('/') {
        format!(
            "relative paths resolve against the working directory, {}",
            shown_path(ctx.cwd())
        )
    } else {
        "a bare name is looked up on PATH; use ./name or an absolute path for a program in the current directory"
            .into()
    };
    out.push(err(format!(
        "'executableName': program '{}' not found ({hint}). Build your processor (cargo build --release) and \
         point executableName at it",
        shown(program)
    )));
}

/// Why a program word means something only to a shell, if it does.
fn shell_word_cause(program: &str) -> Option<&'static str> {
    if program.starts_with('~') {
        Some("starts with '~', which only a shell expands to a home directory")
    } else if program.contains('$') {
        Some("holds '$', and only a shell expands variables")
    } else if program.contains(['|', ';', '&', '<', '>', '`', '*', '?']) {
        Some("holds shell syntax (|, ;, &, <, >, `, * or ?), which the daemon does not interpret")
    } else {
        None
    }
}

fn resolve_program(program: &str, ctx: &Context) -> Option<PathBuf> {
    if program.contains('/') {
        let p = ctx.cwd().join(program);
        p.is_file().then_some(p)
    } else {
        which::which_in(program, ctx.path_env(), ctx.cwd()).ok()
    }
}
