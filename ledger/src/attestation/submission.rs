//! Submissions: a statement's bytes and its signature, as a department
//! sends them (specs/attestation.md §Submission).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use crate::signature::CONTEXT;
use crate::strict_json;

use super::error::{schema, AttestationError};

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
