//! A submission on its way through the write path, and the answer it waits
//! for: what the HTTP handlers, the verification threads and the sequencer
//! pass along ([`crate::ingest`], [`crate::sequencer`]).

use std::time::Instant;

use ledger::append::{Outcome, Submission};
use ledger::attestation::AttestationError;
use tokio::sync::oneshot;

/// Why a queued submission got no receipt.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    BadSignature(AttestationError),
    /// The store could not be written; nothing of the batch was appended.
    #[error("the store could not be written: {0}")]
    Unavailable(String),
}

pub type Reply = Result<Outcome, Rejection>;

pub struct Job {
    pub submission: Submission,
    pub reply: oneshot::Sender<Reply>,
    pub queued_at: Instant,
}
