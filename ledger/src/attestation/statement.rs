//! Statements: what a department signs (specs/attestation.md §Statements).

use serde::{Deserialize, Serialize};

use crate::signature::{self, SignedStatement};
use crate::strict_json;

use super::error::{schema, AttestationError};
use super::fields::{Id, Origin, PublicKey};
use super::keys::decode_key;
use super::kinds::{self, Body, Kind};
use super::limits::{MAX_STATEMENT_BYTES, VERSION};

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
