//! What a department's system does: hold a key, sign statements, submit
//! them to the notary and keep the receipts.

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use ledger::attestation::{AttestationError, Kind, SignedAttestation, Statement};
use ledger::note::NoteSigner;
use ledger::policy::Policy;
use ledger::receipt::{Holds, Receipt, ReceiptError};
use serde_json::{json, Value};

pub use ledger::keyfile;

/// Milliseconds since the Unix epoch: what `signed_at` claims.
pub use ledger::time::now_ms;

/// A department (or root) signing key; its key name is the department id.
#[derive(Clone)]
pub struct DepartmentKey {
    pub department: String,
    pub key: SigningKey,
}

impl DepartmentKey {
    pub fn generate(
        department: &str,
    ) -> Result<(DepartmentKey, NoteSigner), ledger::note::NoteError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let signer = NoteSigner::new(department, key.clone())?;
        Ok((
            DepartmentKey {
                department: department.to_owned(),
                key,
            },
            signer,
        ))
    }

    pub fn from_signer(signer: &NoteSigner) -> DepartmentKey {
        DepartmentKey {
            department: signer.verifier().name.clone(),
            key: signer.signing_key().clone(),
        }
    }

    /// The public key as statements carry it (base64 of 32 bytes).
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    /// Builds the statement for the log `log` (its origin), checks it as the
    /// notary will, and signs it.
    pub fn sign(
        &self,
        log: &str,
        kind: Kind,
        body: Value,
        signed_at_ms: u64,
    ) -> Result<SignedAttestation, AttestationError> {
        let bytes = self.statement(log, kind, body, signed_at_ms);
        let statement = Statement::parse(&bytes)?;
        // The notary would refuse to register such a key (weak_key): say so
        // before the root signs it.
        if let ledger::attestation::Body::DepartmentKey(k) = &statement.body {
            ledger::attestation::registrable_key(&k.key)?;
        }
        Ok(SignedAttestation::sign(bytes, &self.key))
    }

    /// The statement bytes [`DepartmentKey::sign`] signs, not yet checked.
    pub fn statement(&self, log: &str, kind: Kind, body: Value, signed_at_ms: u64) -> Vec<u8> {
        let statement = json!({
            "version": ledger::attestation::VERSION,
            "kind": kind.name(),
            "log": log,
            "signer": { "department": self.department, "key": self.public_key_base64() },
            "signed_at": signed_at_ms,
            "body": body,
        });
        serde_json::to_vec(&statement).expect("JSON serializes")
    }
}

/// Reads a private key file written by `dept keygen`.
pub fn load_key(path: &std::path::Path) -> Result<DepartmentKey, keyfile::KeyFileError> {
    let signer = keyfile::read_signer(path)?;
    Ok(DepartmentKey::from_signer(&signer))
}

pub mod client;

pub use client::{Client, ClientError, SubmitResponse};

/// POSTs a signed attestation to `<notary>/v1/attestations` once, over
/// plain HTTP or TLS with the system's CA certificates (no retries).
pub fn submit(
    notary: &str,
    attestation: &SignedAttestation,
) -> Result<SubmitResponse, ClientError> {
    let mut client = Client::new(notary, None)?;
    client.retries = 0;
    client.submit(attestation)
}

/// `sha256:<hex>` of `salt || data` (specs/attestation.md §Field types:
/// low-entropy data is salted so that its digest cannot be guessed).
pub fn digest(mut data: impl std::io::Read, salt: Option<&[u8]>) -> std::io::Result<String> {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    if let Some(salt) = salt {
        hash.update(salt);
    }
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = data.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(hash.finalize())))
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptCheckError {
    #[error("not a receipt: {0}")]
    Malformed(ReceiptError),
    #[error("{0}")]
    Invalid(ReceiptError),
}

/// Checks what the notary answered before a department keeps it as its
/// receipt: a receipt for exactly `attestation` (its statement and
/// signature, the leaf hash, the audit path to the checkpoint's root) and,
/// given the trust policy, fully verified as an auditor would.
pub fn check_receipt(
    body: &Value,
    attestation: &SignedAttestation,
    policy: Option<&Policy>,
) -> Result<Receipt, ReceiptCheckError> {
    let receipt =
        Receipt::from_json(body.to_string().as_bytes()).map_err(ReceiptCheckError::Malformed)?;
    let holds = receipt
        .check_holds(attestation)
        .map_err(ReceiptCheckError::Invalid)?;
    if holds == Holds::OtherSignature {
        cli::errln!(
            "note: the log holds this statement with another valid signature, submitted before; the receipt is for that entry"
        );
    }
    if let Some(policy) = policy {
        receipt.verify(policy).map_err(ReceiptCheckError::Invalid)?;
    }
    Ok(receipt)
}
