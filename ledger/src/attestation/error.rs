//! Why a statement or a submission is refused before its signer is looked at.

use crate::signature::SignatureError;
use crate::strict_json::StrictJsonError;

use super::limits::{MAX_STATEMENT_BYTES, VERSION};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("statement is {0} bytes; the limit is {MAX_STATEMENT_BYTES}")]
    TooLarge(usize),
    #[error("submission is {bytes} bytes; the limit is {limit}")]
    SubmissionTooLarge { bytes: usize, limit: usize },
    #[error("statement is not strict JSON: {0}")]
    Json(#[from] StrictJsonError),
    #[error("statement does not match the schema: {0}")]
    Schema(String),
    #[error("unsupported statement version {0} (this notary reads version {VERSION})")]
    UnsupportedVersion(u64),
    #[error("unknown statement kind {0:?}")]
    UnknownKind(String),
    #[error("body of {kind} does not match its schema: {reason}")]
    Body { kind: &'static str, reason: String },
    #[error("signer key: {0}")]
    BadSignerKey(SignatureError),
    #[error("signature is not 64 bytes of base64")]
    MalformedSignature,
    #[error("signature does not verify under the signer key: {0}")]
    BadSignature(SignatureError),
}

pub(super) fn schema<E: std::fmt::Display>(e: E) -> AttestationError {
    AttestationError::Schema(e.to_string())
}
