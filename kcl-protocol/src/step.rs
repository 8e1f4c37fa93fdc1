//! What the engine does with each daemon message: [`Step`], an owned summary of the parsed line
//! (so the line buffer is free again during the callback), with the KCL 1.x mapping.

use crate::processor::InitializeInput;
use crate::record::ExtendedSequenceNumber;
use crate::wire::Inbound;

/// An owned summary of a parsed line, so the line buffer is free again during the callback.
pub(crate) enum Step {
    Skip,
    Initialize(InitializeInput),
    ProcessRecords,
    /// `status` names the action the daemon waits for: `leaseLost`, or `shutdown` (KCL 1.x).
    LeaseLost {
        status: &'static str,
    },
    /// `status`: `shardEnded`, or `shutdown` (KCL 1.x).
    ShardEnded {
        status: &'static str,
    },
    ShutdownRequested,
    StrayReply,
    Unknown(String),
}

impl Step {
    /// What to do with a daemon message.
    #[inline]
    pub(crate) fn from_message(message: Inbound<'_>) -> Step {
        match message {
            Inbound::Initialize {
                shard_id,
                sequence_number,
                sub_sequence_number,
            } => {
                let checkpoint = match sequence_number.as_deref() {
                    None => None,
                    Some(text) => {
                        match ExtendedSequenceNumber::from_parts(text, sub_sequence_number) {
                            Ok(position) => Some(position),
                            Err(error) => {
                                tracing::warn!(
                                    "initialize: ignoring the starting checkpoint: {error}"
                                );
                                None
                            }
                        }
                    }
                };
                Step::Initialize(InitializeInput::new(shard_id, checkpoint))
            }
            Inbound::ProcessRecords => Step::ProcessRecords,
            Inbound::LeaseLost => Step::LeaseLost {
                status: "leaseLost",
            },
            Inbound::ShardEnded => Step::ShardEnded {
                status: "shardEnded",
            },
            Inbound::ShutdownRequested => Step::ShutdownRequested,
            Inbound::CheckpointReply { .. } => Step::StrayReply,
            Inbound::LegacyShutdown { reason } => match reason.as_deref() {
                Some("TERMINATE") => Step::ShardEnded {
                    status: LEGACY_SHUTDOWN,
                },
                Some("ZOMBIE") => Step::LeaseLost {
                    status: LEGACY_SHUTDOWN,
                },
                other => {
                    tracing::warn!(
                        reason = ?other,
                        "legacy shutdown with an unknown reason: handling it as a lost lease \
                         (no checkpoint, nothing acknowledged as processed)"
                    );
                    Step::LeaseLost {
                        status: LEGACY_SHUTDOWN,
                    }
                }
            },
            Inbound::Unknown { action } => Step::Unknown(action.into_owned()),
        }
    }

    /// The status the daemon now waits for (and times out on), for steps that call the processor.
    pub(crate) fn awaited_status(&self) -> Option<&'static str> {
        match self {
            Step::Initialize(_) => Some("initialize"),
            Step::ProcessRecords => Some("processRecords"),
            Step::LeaseLost { status } | Step::ShardEnded { status } => Some(status),
            Step::ShutdownRequested => Some("shutdownRequested"),
            Step::Skip | Step::StrayReply | Step::Unknown(_) => None,
        }
    }
}

/// What a legacy `shutdown` is acknowledged as.
const LEGACY_SHUTDOWN: &str = "shutdown";
