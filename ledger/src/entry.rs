//! The log entry: what the notary appends and the Merkle leaf hashes.
//!
//! ```text
//! share-audit/entry/v1\n
//! time <notarised time, ms since the Unix epoch>\n
//! signature <base64 of the 64-byte Ed25519 signature>\n
//! \n
//! <statement bytes, exactly as signed>
//! ```
//!
//! The header is ASCII with one field per line in this fixed order, so the
//! entry has exactly one encoding. The statement follows verbatim to the end
//! of the entry. The notary's time inside the leaf is what deadlines are
//! computed from. Entries are at most 65,535 bytes, the C2SP tlog-tiles limit.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::attestation::{self, AttestationError, SignedAttestation, Statement};
use crate::decimal;
use crate::hashing::{leaf_hash, Hash};

pub const HEADER: &str = "share-audit/entry/v1";
/// Largest entry: entry bundles length-prefix entries with a uint16.
pub const MAX_ENTRY_BYTES: usize = 65_535;
/// Longest header: a 20-digit time is the longest a u64 prints.
pub const MAX_HEADER_BYTES: usize = HEADER.len() + 6 + 20 + 11 + 88 + 2;
/// Largest statement (set by the attestation format): its entry fits the
/// limit whatever the notarised time.
pub use crate::attestation::MAX_STATEMENT_BYTES;
const _: () = assert!(MAX_STATEMENT_BYTES == MAX_ENTRY_BYTES - MAX_HEADER_BYTES);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("entry would be {0} bytes; the limit is {MAX_ENTRY_BYTES}")]
    TooLarge(usize),
    #[error("entry header is malformed: {0}")]
    Malformed(&'static str),
    #[error("entry statement: {0}")]
    Statement(#[from] AttestationError),
}

/// A log entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Notarised time, milliseconds since the Unix epoch.
    pub time: u64,
    pub signature: [u8; 64],
    /// The statement bytes exactly as signed.
    pub statement: Vec<u8>,
}

impl Entry {
    pub fn new(time: u64, attestation: &SignedAttestation) -> Entry {
        Entry {
            time,
            signature: attestation.signature,
            statement: attestation.statement.clone(),
        }
    }

    /// Length of the encoding, without building it.
    pub fn encoded_len(time: u64, statement_len: usize) -> usize {
        // header + "\ntime " + digits + "\nsignature " + 88 base64 chars + "\n\n"
        HEADER.len() + 6 + decimal_len(time) + 11 + 88 + 2 + statement_len
    }

    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let len = Entry::encoded_len(self.time, self.statement.len());
        if len > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(len));
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(HEADER.as_bytes());
        out.extend_from_slice(b"\ntime ");
        out.extend_from_slice(self.time.to_string().as_bytes());
        out.extend_from_slice(b"\nsignature ");
        out.extend_from_slice(BASE64.encode(self.signature).as_bytes());
        out.extend_from_slice(b"\n\n");
        out.extend_from_slice(&self.statement);
        debug_assert_eq!(out.len(), len);
        Ok(out)
    }

    /// Parses the header; the statement is kept as bytes (see [`Entry::statement`]).
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let mut rest = bytes;
        if !take_line(&mut rest, HEADER)?.is_empty() {
            return Err(EntryError::Malformed("unknown entry version"));
        }
        let time =
            decimal::parse(take_line(&mut rest, "time ")?).ok_or(EntryError::Malformed("time"))?;
        let signature = attestation::decode_signature(take_line(&mut rest, "signature ")?)
            .map_err(|_| EntryError::Malformed("signature"))?;
        if !take_line(&mut rest, "")?.is_empty() {
            return Err(EntryError::Malformed("no blank line after the header"));
        }
        let entry = Entry {
            time,
            signature,
            statement: rest.to_vec(),
        };
        // Exactly one encoding: re-encoding must give the same bytes.
        if entry.encode()? != bytes {
            return Err(EntryError::Malformed("non-canonical header"));
        }
        Ok(entry)
    }

    pub fn parse_statement(&self) -> Result<Statement, EntryError> {
        Ok(Statement::parse(&self.statement)?)
    }

    /// Verifies the department's signature over the statement.
    pub fn verify_signature(&self, statement: &Statement) -> Result<(), EntryError> {
        Ok(attestation::verify_signature(
            statement,
            &self.statement,
            &self.signature,
        )?)
    }

    pub fn leaf_hash(&self) -> Result<Hash, EntryError> {
        Ok(leaf_hash(&self.encode()?))
    }
}

/// Splits off one header line and strips its expected prefix.
fn take_line<'a>(rest: &mut &'a [u8], prefix: &'static str) -> Result<&'a str, EntryError> {
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(EntryError::Malformed("missing line"))?;
    let line = std::str::from_utf8(&rest[..end]).map_err(|_| EntryError::Malformed("not ASCII"))?;
    *rest = &rest[end + 1..];
    line.strip_prefix(prefix)
        .ok_or(EntryError::Malformed(prefix))
}

fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            time: 1764201600123,
            signature: [9; 64],
            statement: br#"{"a":1}"#.to_vec(),
        }
    }

    #[test]
    fn round_trip_and_length() {
        let e = entry();
        let bytes = e.encode().unwrap();
        assert_eq!(bytes.len(), Entry::encoded_len(e.time, e.statement.len()));
        assert_eq!(Entry::parse(&bytes).unwrap(), e);
        assert!(bytes.starts_with(b"share-audit/entry/v1\ntime 1764201600123\nsignature "));
        let zero = Entry { time: 0, ..entry() };
        assert_eq!(zero.encode().unwrap().len(), Entry::encoded_len(0, 7));
    }

    #[test]
    fn limits_match_specs_entry_md() {
        assert_eq!(MAX_HEADER_BYTES, 147);
        assert_eq!(MAX_STATEMENT_BYTES, 65_388);
        let longest = Entry {
            time: u64::MAX,
            statement: vec![b' '; MAX_STATEMENT_BYTES],
            ..entry()
        };
        assert_eq!(longest.encode().unwrap().len(), MAX_ENTRY_BYTES);
    }

    #[test]
    fn refuses_variants_and_oversize() {
        let bytes = entry().encode().unwrap();
        let s = String::from_utf8(bytes.clone()).unwrap();
        assert!(Entry::parse(s.replace("time 1", "time 01").as_bytes()).is_err());
        assert!(Entry::parse(s.replace("entry/v1", "entry/v2").as_bytes()).is_err());
        assert!(Entry::parse(s.replace("\n\n", "\n").as_bytes()).is_err());
        let big = Entry {
            statement: vec![b' '; MAX_ENTRY_BYTES],
            ..entry()
        };
        assert!(matches!(big.encode(), Err(EntryError::TooLarge(_))));
    }
}
