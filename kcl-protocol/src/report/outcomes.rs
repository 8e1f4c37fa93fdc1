//! Counting the outcomes of the checkpoints a child asked the daemon for during one callback.

use crate::checkpoint::CheckpointError;

/// The result names of the report format, in a fixed order (index into the counters).
pub(crate) const RESULT_NAMES: [&str; 8] = [
    "ok",
    "ThrottlingException",
    "ShutdownException",
    "InvalidStateException",
    "KinesisClientLibDependencyException",
    "IllegalArgumentException",
    "protocol_error",
    "io_error",
];

/// How many checkpoints ended how, since the last report. Fixed counters, so counting allocates
/// nothing; another exception name of the daemon is kept by name (the first one seen).
#[derive(Debug, Default)]
pub(crate) struct CheckpointOutcomes {
    counts: [u32; RESULT_NAMES.len()],
    other: Option<(String, u32)>,
}

impl CheckpointOutcomes {
    /// Counts the daemon's answer to one checkpoint request.
    pub(crate) fn note(&mut self, result: &Result<(), CheckpointError>) {
        let index = match result {
            Ok(()) => 0,
            Err(CheckpointError::Throttling) => 1,
            Err(CheckpointError::Shutdown) => 2,
            Err(CheckpointError::InvalidState) => 3,
            Err(CheckpointError::Dependency) => 4,
            Err(CheckpointError::IllegalArgument) => 5,
            Err(CheckpointError::Protocol(_)) => 6,
            Err(CheckpointError::Io(_)) => 7,
            Err(CheckpointError::Other(name)) => {
                match &mut self.other {
                    Some((known, count)) if known == name => *count += 1,
                    Some(_) => {} // A second unknown name in one callback: rare, not worth a Vec.
                    None => self.other = Some((name.clone(), 1)),
                }
                return;
            }
            // Refused by the library, never sent.
            Err(CheckpointError::Outstanding(_)) => return,
        };
        self.counts[index] += 1;
    }

    /// Each result with a non-zero count.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        let known = RESULT_NAMES
            .iter()
            .zip(self.counts)
            .filter(|(_, count)| *count > 0)
            .map(|(name, count)| (*name, count));
        known.chain(
            self.other
                .as_ref()
                .map(|(name, count)| (name.as_str(), *count)),
        )
    }

    pub(crate) fn clear(&mut self) {
        self.counts = [0; RESULT_NAMES.len()];
        self.other = None;
    }
}
