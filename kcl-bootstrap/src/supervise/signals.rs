//! The signals the supervisor forwards, delivered as messages on a channel by a thread of
//! signal-hook's (so nothing but a flag write runs in the signal handler).

use std::sync::mpsc::{self, Receiver};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

/// The forwarded signals: the three that stop a JVM (its shutdown hooks run), and SIGQUIT (a
/// thread dump on the JVM's stdout).
pub(crate) const FORWARDED: [i32; 4] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT];

/// Whether `signal` asks for a stop (every forwarded one but SIGQUIT).
pub(crate) fn stops(signal: i32) -> bool {
    signal != SIGQUIT
}

/// Whether a repeated `signal` escalates to SIGKILL (SIGTERM and SIGINT, as in "press Ctrl-C
/// again").
pub(crate) fn escalates(signal: i32) -> bool {
    signal == SIGTERM || signal == SIGINT
}

/// The signal's name.
pub(crate) fn name(signal: i32) -> String {
    match signal {
        SIGTERM => "SIGTERM".into(),
        SIGINT => "SIGINT".into(),
        SIGHUP => "SIGHUP".into(),
        SIGQUIT => "SIGQUIT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        other => format!("signal {other}"),
    }
}

/// Catches [`FORWARDED`] from now on; each one arrives on the returned channel.
pub(crate) fn listen() -> std::io::Result<Receiver<i32>> {
    let mut signals = Signals::new(FORWARDED)?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("kcl-bootstrap-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if sender.send(signal).is_err() {
                    break;
                }
            }
        })?;
    Ok(receiver)
}
