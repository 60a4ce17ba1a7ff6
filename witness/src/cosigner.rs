//! The witness key and the cosignature/v1 lines it makes
//! (C2SP tlog-cosignature v1.0.0): a note signature line whose key ID is
//! `SHA-256(name || "\n" || 0x04 || key)[:4]` and whose signature is a
//! timestamp (8 bytes, big-endian seconds) and an Ed25519 signature over
//! `"cosignature/v1\ntime " T "\n" || checkpoint text`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use ledger::note::{key_id, NoteError, VerifierKey, TYPE_COSIGNATURE};

/// A witness key: its name and Ed25519 key.
pub struct Cosigner {
    verifier: VerifierKey,
    key: SigningKey,
}

/// The private key file's prefix: not a note signing key (type 0x01).
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

impl Cosigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Cosigner, NoteError> {
        let verifier = VerifierKey::new(name, TYPE_COSIGNATURE, key.verifying_key())?;
        Ok(Cosigner { verifier, key })
    }

    /// The vkey line others put in their policy (`witness <vkey>`).
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// `PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)`.
    pub fn encode_private(&self) -> String {
        let mut raw = vec![TYPE_COSIGNATURE];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.verifier.name,
            self.verifier.key_id,
            BASE64.encode(raw)
        )
    }

    pub fn parse_private(text: &str) -> Result<Cosigner, NoteError> {
        let bad = || NoteError::BadKey("the witness key file".into());
        let rest = text.trim().strip_prefix(PRIVATE_PREFIX).ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '+');
        let (name, id, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(k)) => (n, i, k),
            _ => return Err(bad()),
        };
        let raw = BASE64.decode(b64).map_err(|_| bad())?;
        if raw.len() != 33 || raw[0] != TYPE_COSIGNATURE {
            return Err(bad());
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| bad())?;
        let cosigner = Cosigner::new(name, SigningKey::from_bytes(&seed))?;
        if format!("{:08x}", cosigner.verifier.key_id) != id {
            return Err(bad());
        }
        Ok(cosigner)
    }

    /// The cosignature line of the checkpoint whose note text is `text`,
    /// made at `time` (seconds since the Unix epoch).
    pub fn cosign(&self, text: &str, time: u64) -> String {
        let message = format!("cosignature/v1\ntime {time}\n{text}");
        let signature = self.key.sign(message.as_bytes()).to_bytes();
        let mut raw = Vec::with_capacity(4 + 8 + 64);
        raw.extend_from_slice(&self.verifier.key_id.to_be_bytes());
        raw.extend_from_slice(&time.to_be_bytes());
        raw.extend_from_slice(&signature);
        format!("— {} {}\n", self.verifier.name, BASE64.encode(raw))
    }
}

/// The key ID of a cosigner key (type 0x04).
pub fn cosigner_key_id(name: &str, key: &[u8; 32]) -> u32 {
    key_id(name, TYPE_COSIGNATURE, key)
}
