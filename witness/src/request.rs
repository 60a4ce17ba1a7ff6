//! The body of `POST /add-checkpoint` (C2SP tlog-witness v1.0.0): an old
//! size line, up to 63 consistency proof lines, an empty line, and the
//! checkpoint as a signed note.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger::hashing::Hash;

/// At most this many proof lines (tlog-witness: a client MUST NOT send more).
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed add-checkpoint request: {0}")]
pub struct BadRequest(pub &'static str);

impl AddCheckpoint {
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, BadRequest> {
        let mut rest = body;
        let mut line = || -> Result<&[u8], BadRequest> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or(BadRequest("a line does not end in a newline"))?;
            let (l, r) = rest.split_at(end);
            rest = &r[1..];
            Ok(l)
        };
        let old = line()?
            .strip_prefix(b"old ")
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(ledger::decimal::parse)
            .ok_or(BadRequest("the first line is not `old <decimal size>`"))?;
        let mut proof = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(BadRequest("more than 63 consistency proof lines"));
            }
            let hash = std::str::from_utf8(l)
                .ok()
                .and_then(|t| BASE64.decode(t).ok())
                .and_then(|b| Hash::from_slice(&b).ok())
                .ok_or(BadRequest("a proof line is not a base64 hash"))?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: rest.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_the_spec_writes_them() {
        let h = BASE64.encode([7u8; 32]);
        let r = AddCheckpoint::parse(format!("old 20\n{h}\n{h}\n\nnote").as_bytes()).unwrap();
        assert_eq!(
            (r.old, r.proof.len(), &r.checkpoint[..]),
            (20, 2, &b"note"[..])
        );
        for bad in [
            "old 020\n\nx".to_owned(),
            "old -1\n\nx".to_owned(),
            "new 1\n\nx".to_owned(),
            "old 1\nnot base64\n\nx".to_owned(),
            "old 1".to_owned(),
            format!("old 1\n{}\nx", format!("{h}\n").repeat(64)),
        ] {
            assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
