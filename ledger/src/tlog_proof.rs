//! C2SP tlog-proof@v1: an offline-verifiable proof that an entry is in the log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! index <index>
//! <base64 hash>            (audit path, leaf sibling first, zero or more lines)
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! See <https://c2sp.org/tlog-proof>. The optional `extra` line is accepted on
//! input but carries nothing this ledger trusts, so it is never written.

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::decimal;
use crate::hashing::Hash;
use crate::note::{Note, VerifierKey};
use crate::proof::{verify_inclusion, ProofError};

const HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    pub index: u64,
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    #[error("tlog-proof does not start with {HEADER:?}")]
    BadHeader,
    #[error("tlog-proof has no valid `index` line")]
    BadIndex,
    #[error("tlog-proof hash line: {0}")]
    BadHash(#[from] crate::hashing::BadHash),
    #[error("tlog-proof has no checkpoint after the audit path")]
    NoCheckpoint,
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("tlog-proof inclusion: {0}")]
    Inclusion(#[from] ProofError),
}

impl TlogProof {
    pub fn encode(&self) -> String {
        let mut out = format!("{HEADER}\nindex {}\n", self.index);
        for h in &self.path {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<TlogProof, TlogProofError> {
        let rest = text.strip_prefix(HEADER).and_then(|r| r.strip_prefix('\n'));
        let mut rest = rest.ok_or(TlogProofError::BadHeader)?;
        if let Some(after) = rest.strip_prefix("extra ") {
            rest = after.split_once('\n').ok_or(TlogProofError::BadIndex)?.1;
        }
        let (index_line, mut rest) = rest.split_once('\n').ok_or(TlogProofError::BadIndex)?;
        let index = index_line
            .strip_prefix("index ")
            .and_then(decimal::parse)
            .ok_or(TlogProofError::BadIndex)?;
        let mut path = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(TlogProofError::NoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            path.push(Hash::from_base64(line)?);
        }
        if rest.is_empty() {
            return Err(TlogProofError::NoCheckpoint);
        }
        Ok(TlogProof {
            index,
            path,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies the checkpoint signature and that `leaf` is at `self.index`.
    pub fn verify(
        &self,
        leaf: &Hash,
        origin: &str,
        keys: &[VerifierKey],
    ) -> Result<Checkpoint, TlogProofError> {
        self.verify_with(leaf, |note| Checkpoint::verify(note, origin, keys))
    }

    /// [`TlogProof::verify`], the checkpoint verified by `verify`.
    pub fn verify_with(
        &self,
        leaf: &Hash,
        verify: impl FnOnce(&[u8]) -> Result<Checkpoint, CheckpointError>,
    ) -> Result<Checkpoint, TlogProofError> {
        let checkpoint = verify(self.checkpoint.as_bytes())?;
        self.includes(leaf, &checkpoint)?;
        Ok(checkpoint)
    }

    /// The checkpoint as carried, its signatures not checked (that takes the
    /// log's keys), and that `leaf` is at `self.index` under its root.
    pub fn verify_unsigned(&self, leaf: &Hash) -> Result<Checkpoint, TlogProofError> {
        let note = Note::parse(self.checkpoint.as_bytes()).map_err(CheckpointError::from)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        self.includes(leaf, &checkpoint)?;
        Ok(checkpoint)
    }

    fn includes(&self, leaf: &Hash, checkpoint: &Checkpoint) -> Result<(), TlogProofError> {
        verify_inclusion(
            self.index,
            checkpoint.size,
            leaf,
            &self.path,
            &checkpoint.root,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let p = TlogProof {
            index: 3,
            path: vec![Hash::empty_tree(), Hash([7; 32])],
            checkpoint: "o\n4\nAAAA\n\n\u{2014} o sig\n".into(),
        };
        assert_eq!(TlogProof::parse(&p.encode()).unwrap(), p);
        let with_extra = p.encode().replacen("index", "extra AAAA\nindex", 1);
        assert_eq!(TlogProof::parse(&with_extra).unwrap(), p);
        assert_eq!(
            TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 01\n\nx"),
            Err(TlogProofError::BadIndex)
        );
        assert_eq!(TlogProof::parse("nope\n"), Err(TlogProofError::BadHeader));
        assert_eq!(
            TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\n\n"),
            Err(TlogProofError::NoCheckpoint)
        );
    }
}
