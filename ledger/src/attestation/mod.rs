//! Attestations: the statements departments sign, and how they are signed.
//!
//! A *statement* is a strict JSON object (see [`crate::strict_json`]):
//!
//! ```json
//! {"version":1,"kind":"approval","log":"example.gov.cn/share-audit/2026",
//!  "signer":{"department":"gd.rst","key":"<base64 Ed25519 key>"},
//!  "signed_at":1764201600000,"body":{"case":"2026-0001"}}
//! ```
//!
//! The department signs `CONTEXT || statement bytes` with Ed25519; the exact
//! bytes it signed are what the log stores and hashes, never a re-encoding.
//! `log` names the one log the statement is for, so it cannot be replayed in
//! another. `kind` selects the body schema; every body refuses unknown
//! fields, so a field one reader ignores cannot mean something to another.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use crate::entry::MAX_STATEMENT_BYTES;
use crate::signature::{self, DecodedKey, SignatureError, SignedStatement};
use crate::strict_json::{self, StrictJsonError};

mod bulk;
mod fields;
mod kinds;

pub use bulk::{parse_bulk, BulkError, BulkItems};
pub use fields::*;
pub use kinds::*;

/// Domain separation: every attestation signature covers these bytes first,
/// so no signature made for another protocol (a note, a TLS handshake, …)
/// can be replayed as an attestation, or the other way round.
pub const CONTEXT: &[u8] = b"share-audit/attestation/v1\n";
/// The only statement version this code reads.
pub const VERSION: u64 = 1;
/// Longest identifier (department, case, catalog item).
pub const MAX_ID_LEN: usize = 128;

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

fn schema<E: std::fmt::Display>(e: E) -> AttestationError {
    AttestationError::Schema(e.to_string())
}

/// Who signed a statement: a department (or a root of the trust policy) and
/// the public key it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerRef {
    pub department: Id,
    pub key: PublicKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementFields<'a> {
    version: u64,
    kind: String,
    log: Origin,
    signer: SignerRef,
    signed_at: u64,
    /// Read once `kind` says which schema applies.
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
}

/// A parsed statement. `signed_at` is the signer's claim (milliseconds since
/// the Unix epoch); deadlines use the notary's time in the entry instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The log this statement is for (its origin).
    pub log: Origin,
    pub signer: SignerRef,
    pub signed_at: u64,
    pub body: Body,
}

impl Statement {
    /// Strictly parses statement bytes.
    pub fn parse(bytes: &[u8]) -> Result<Statement, AttestationError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(AttestationError::TooLarge(bytes.len()));
        }
        // The strict rules on the whole document first, then straight into
        // the typed schema (no intermediate tree).
        strict_json::check(bytes)?;
        let fields: StatementFields = strict_json::from_slice(bytes).map_err(schema)?;
        if fields.version != VERSION {
            return Err(AttestationError::UnsupportedVersion(fields.version));
        }
        let kind =
            Kind::from_name(&fields.kind).ok_or(AttestationError::UnknownKind(fields.kind))?;
        let body = Body::parse(kind, fields.body.get())?;
        kinds::validate(&body)?;
        Ok(Statement {
            log: fields.log,
            signer: fields.signer,
            signed_at: fields.signed_at,
            body,
        })
    }

    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// Canonical bytes for a new statement (what a department tool signs).
    /// Verifiers never re-encode: they use the bytes that were signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "version": VERSION,
            "kind": self.kind().name(),
            "log": self.log,
            "signer": self.signer,
            "signed_at": self.signed_at,
            "body": self.body.to_value(),
        });
        serde_json::to_vec(&v).expect("statement serializes")
    }
}

/// What a department submits: the statement bytes and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAttestation {
    pub statement: Vec<u8>,
    pub signature: [u8; 64],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedAttestationJson {
    statement: String,
    signature: String,
}

/// The bytes an attestation signature covers.
pub fn signed_message(statement: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(CONTEXT.len() + statement.len());
    msg.extend_from_slice(CONTEXT);
    msg.extend_from_slice(statement);
    msg
}

/// Decodes a base64 Ed25519 signature.
pub fn decode_signature(b64: &str) -> Result<[u8; 64], AttestationError> {
    BASE64
        .decode(b64)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or(AttestationError::MalformedSignature)
}

impl SignedAttestation {
    /// Signs statement bytes with a department key.
    pub fn sign(statement: Vec<u8>, key: &SigningKey) -> SignedAttestation {
        let signature = key.sign(&signed_message(&statement)).to_bytes();
        SignedAttestation {
            statement,
            signature,
        }
    }

    /// `{"statement":"<base64>","signature":"<base64>"}`, the submission body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&SignedAttestationJson {
            statement: BASE64.encode(&self.statement),
            signature: BASE64.encode(self.signature),
        })
        .expect("serializes")
    }

    pub fn from_json(bytes: &[u8]) -> Result<SignedAttestation, AttestationError> {
        strict_json::check(bytes)?;
        let j: SignedAttestationJson = strict_json::from_slice(bytes).map_err(schema)?;
        SignedAttestation::from_fields(j)
    }

    fn from_fields(j: SignedAttestationJson) -> Result<SignedAttestation, AttestationError> {
        let statement = BASE64
            .decode(&j.statement)
            .map_err(|_| AttestationError::Schema("statement is not base64".into()))?;
        Ok(SignedAttestation {
            statement,
            signature: decode_signature(&j.signature)?,
        })
    }
}

/// Decodes the signer key: a canonical encoding of a point not of small order.
pub fn decode_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    DecodedKey::new(&key.0).map_err(AttestationError::BadSignerKey)
}

/// A key that may be registered: decodable, not of small order, and with no
/// torsion component (no honest key generator makes one).
pub fn registrable_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    let decoded = decode_key(key)?;
    if !decoded.is_torsion_free() {
        return Err(AttestationError::BadSignerKey(SignatureError::TorsionKey));
    }
    Ok(decoded)
}

/// The signature rule of this ledger ([`crate::signature`]) over
/// `CONTEXT || statement`, under the key the statement names.
pub fn verify_signature(
    statement: &Statement,
    statement_bytes: &[u8],
    signature: &[u8; 64],
) -> Result<(), AttestationError> {
    let key = decode_key(&statement.signer.key)?;
    signature::verify(&SignedStatement {
        key: &key,
        statement: statement_bytes,
        signature,
    })
    .map_err(AttestationError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn statement_json(kind: &str, body: &str) -> String {
        let k = BASE64.encode(key().verifying_key().as_bytes());
        format!(
            r#"{{"version":1,"kind":"{kind}","log":"example.gov.cn/share-audit/2026","signer":{{"department":"gd.rst","key":"{k}"}},"signed_at":1764201600000,"body":{body}}}"#
        )
    }

    #[test]
    fn parses_and_round_trips_every_kind_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(*k));
        }
        assert_eq!(Kind::ALL.len(), 19);
        let s = Statement::parse(statement_json("approval", r#"{"case":"2026-1"}"#).as_bytes())
            .unwrap();
        assert_eq!(s.kind(), Kind::Approval);
        assert_eq!(Statement::parse(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn refuses_bad_statements() {
        let bad = |kind: &str, body: &str| {
            Statement::parse(statement_json(kind, body).as_bytes()).unwrap_err()
        };
        assert!(matches!(
            bad("approval", r#"{"case":"x","extra":1}"#),
            AttestationError::Body { .. }
        ));
        assert!(matches!(
            bad("approval", r#"{}"#),
            AttestationError::Body { .. }
        ));
        assert!(matches!(
            bad("approval", r#"{"case":"has space"}"#),
            AttestationError::Body { .. }
        ));
        assert!(matches!(
            bad("wiretap", r#"{}"#),
            AttestationError::UnknownKind(_)
        ));
        assert!(matches!(
            bad(
                "reply_extension",
                r#"{"case":"c","working_days":11,"reason":"r"}"#
            ),
            AttestationError::Body { .. }
        ));
        let v2 = statement_json("approval", r#"{"case":"c"}"#)
            .replace(r#""version":1"#, r#""version":2"#);
        assert_eq!(
            Statement::parse(v2.as_bytes()),
            Err(AttestationError::UnsupportedVersion(2))
        );
        // One JSON shape per type: objects for structs, strings for enums,
        // optional members omitted rather than null.
        let shapes = [
            statement_json("approval", r#"["c"]"#),
            statement_json("approval", r#"{"case":"c","conditions":null}"#),
            statement_json(
                "delivery",
                r#"{"case":"c","method":{"batch_exchange":null},"data_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#,
            ),
            statement_json("department", r#"{"id":"x","name":"n","roles":[{"provider":null}],"jurisdiction":"j"}"#),
            statement_json("approval", r#"{"case":"c"}"#)
                .replace(r#""signer":{"department":"gd.rst","key":"#, r#""signer":["gd.rst","#)
                .replace(r#""},"signed_at""#, r#""],"signed_at""#),
            r#"[1,"approval","example.gov.cn/share-audit/2026",["gd.rst","AAAA"],1764201600000,{"case":"c"}]"#.to_owned(),
        ];
        for bad in shapes {
            assert!(
                matches!(
                    Statement::parse(bad.as_bytes()),
                    Err(AttestationError::Schema(_) | AttestationError::Body { .. })
                ),
                "accepted {bad}"
            );
        }
        let ok = statement_json(
            "delivery",
            r#"{"case":"c","method":"batch_exchange","data_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#,
        );
        Statement::parse(ok.as_bytes()).unwrap();
        assert!(matches!(
            Statement::parse(&vec![b' '; MAX_STATEMENT_BYTES + 1]),
            Err(AttestationError::TooLarge(_))
        ));
        for date in [
            "2026-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
        ] {
            let app = statement_json(
                "suspension",
                &format!(r#"{{"case":"c","reason":"r","rectify_by":"{date}"}}"#),
            );
            assert!(Statement::parse(app.as_bytes()).is_err(), "{date}");
        }
        let leap = statement_json(
            "suspension",
            r#"{"case":"c","reason":"r","rectify_by":"2028-02-29"}"#,
        );
        Statement::parse(leap.as_bytes()).unwrap();
        let no_log = statement_json("approval", r#"{"case":"c"}"#)
            .replace(r#""log":"example.gov.cn/share-audit/2026","#, "");
        assert!(matches!(
            Statement::parse(no_log.as_bytes()),
            Err(AttestationError::Schema(_))
        ));
        let dup = statement_json("approval", r#"{"case":"c","case":"d"}"#);
        assert!(matches!(
            Statement::parse(dup.as_bytes()),
            Err(AttestationError::Json(StrictJsonError::DuplicateKey(_)))
        ));
    }

    #[test]
    fn signature_is_domain_separated_and_strict() {
        let bytes = statement_json("approval", r#"{"case":"c"}"#).into_bytes();
        let st = Statement::parse(&bytes).unwrap();
        let signed = SignedAttestation::sign(bytes.clone(), &key());
        verify_signature(&st, &bytes, &signed.signature).unwrap();
        // A signature over the bare statement (no context) is refused.
        let bare = key().sign(&bytes).to_bytes();
        assert_eq!(
            verify_signature(&st, &bytes, &bare),
            Err(AttestationError::BadSignature(SignatureError::Equation))
        );
        let round = SignedAttestation::from_json(signed.to_json().as_bytes()).unwrap();
        assert_eq!(round, signed);
    }
}
