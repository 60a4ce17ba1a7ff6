//! C2SP tlog-checkpoint: the signed tree head of the log.
//!
//! The body is exactly three lines, `<origin>\n<size>\n<base64 root>\n`
//! (<https://c2sp.org/tlog-checkpoint>); this ledger never writes extension
//! lines and refuses checkpoints that carry them. The body is signed as a
//! C2SP signed note by the notary's Ed25519 key(s).

use crate::decimal;
use crate::hashing::Hash;
use crate::note::{self, Note, NoteError, NoteSigner, VerifierKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint body is not three lines of origin, size and root")]
    Malformed,
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    #[error("checkpoint size {0:?} is not a decimal without leading zeroes")]
    BadSize(String),
    #[error("checkpoint root: {0}")]
    BadRoot(#[from] crate::hashing::BadHash),
    #[error("checkpoint has extension lines, which this log never writes")]
    ExtensionLines,
    #[error("checkpoint is for log {got:?}, expected {expected:?}")]
    WrongOrigin { expected: String, got: String },
    #[error("the checkpoint of size {size} is signed by {key}, a log key the policy does not put in force for that size (specs/policy.md §Log key rotation)")]
    KeyNotInForce { key: String, size: u64 },
    #[error("checkpoint signature: {0}")]
    Note(#[from] NoteError),
}

impl Checkpoint {
    /// The note text that is signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Malformed)?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() > 3 {
            return Err(CheckpointError::ExtensionLines);
        }
        let [origin, size, root] = lines[..] else {
            return Err(CheckpointError::Malformed);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = decimal::parse(size).ok_or_else(|| CheckpointError::BadSize(size.to_owned()))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Hash::from_base64(root)?,
        })
    }

    /// The signed note carrying this checkpoint.
    pub fn sign(&self, signer: &NoteSigner) -> String {
        note::sign(&self.body(), signer)
    }

    /// Verifies a signed checkpoint for log `origin` against the log's keys.
    /// Signatures by other keys (e.g. witnesses not in `keys`) are ignored.
    pub fn verify(
        signed: &[u8],
        origin: &str,
        keys: &[VerifierKey],
    ) -> Result<Checkpoint, CheckpointError> {
        Ok(Checkpoint::verify_by(signed, origin, keys)?.0)
    }

    /// [`Checkpoint::verify`], also saying which of `keys` signed: the
    /// audit checks that it was the key in force (specs/checkpoint.md §Key
    /// rotation).
    pub fn verify_by<'k>(
        signed: &[u8],
        origin: &str,
        keys: &'k [VerifierKey],
    ) -> Result<(Checkpoint, Vec<&'k VerifierKey>), CheckpointError> {
        let note = Note::parse(signed)?;
        let signers = note.verify(keys)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin {
                expected: origin.to_owned(),
                got: checkpoint.origin,
            });
        }
        Ok((checkpoint, signers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_lines_are_refused() {
        let root = Hash::empty_tree().to_base64();
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n0\n{root}\next\n")),
            Err(CheckpointError::ExtensionLines)
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n0\n{root}")),
            Err(CheckpointError::Malformed)
        );
        assert!(Checkpoint::parse_body(&format!("o\n0\n{root}\n")).is_ok());
    }
}
