//! C2SP signed-note: text signed by one or more keys.
//!
//! Implements <https://c2sp.org/signed-note> with Ed25519 signatures (type
//! 0x01) and the timestamped witness cosignatures of
//! <https://c2sp.org/tlog-cosignature> (type 0x04). Verification uses
//! `verify_strict`, and the note rules of the spec: signatures from unknown
//! keys are ignored, a known key's bad signature rejects the whole note, and
//! at least one known key must have signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::hashing::sha256;

/// Signature type byte of a plain Ed25519 note signature.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of a timestamped Ed25519 cosignature (tlog-cosignature).
pub const TYPE_COSIGNATURE: u8 = 0x04;
/// More signature lines than any checkpoint of ours can legitimately carry
/// (the spec requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 64;
/// Upper bound on a note we are willing to parse.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

const EM_DASH_SPACE: &str = "\u{2014} ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("note is not valid UTF-8")]
    NotUtf8,
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    #[error("note has no blank line separating text from signatures")]
    NoSignatureBlock,
    #[error("malformed signature line: {0:?}")]
    BadSignatureLine(String),
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("signature by known key {name}+{id:08x} does not verify")]
    BadSignature { name: String, id: u32 },
    #[error("no signature by a trusted key")]
    NoTrustedSignature,
    #[error("malformed key {0:?}")]
    BadKey(String),
    #[error("this is a private key, not a verifier key: give the public .vkey (the private key is not shown)")]
    PrivateKeyGiven,
    #[error("key name {0:?} is empty or contains a space or '+'")]
    BadKeyName(String),
    #[error("public key is weak (not a canonical point encoding, of small order, or not in the prime-order subgroup)")]
    WeakKey,
}

/// A signature line: key name, key ID and the signature bytes after the ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub bytes: Vec<u8>,
}

/// A parsed signed note. `text` includes its final newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// Key names are non-empty and contain no Unicode space and no '+'.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8; 32]) -> u32 {
    let mut msg = Vec::with_capacity(name.len() + 34);
    msg.extend_from_slice(name.as_bytes());
    msg.push(b'\n');
    msg.push(sig_type);
    msg.extend_from_slice(public_key);
    let h = sha256(&msg);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Refuses public keys that no honest key generator produces, by the one
/// weak-key rule of the ledger ([`crate::signature::usable_key`],
/// specs/checkpoint.md §Keys).
pub fn check_public_key(key: &VerifyingKey) -> Result<(), NoteError> {
    crate::signature::usable_key(key.as_bytes())
        .map(|_| ())
        .map_err(|_| NoteError::WeakKey)
}

/// A public key that verifies note signatures: `name+hexid+base64(type||key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub key_id: u32,
    pub sig_type: u8,
    pub key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, sig_type: u8, key: VerifyingKey) -> Result<VerifierKey, NoteError> {
        check_key_name(name)?;
        check_public_key(&key)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, sig_type, key.as_bytes()),
            sig_type,
            key,
        })
    }

    /// Parses the C2SP verifier key encoding, checking that the ID matches.
    pub fn parse(vkey: &str) -> Result<VerifierKey, NoteError> {
        // A private key given by mistake (the .key for the .vkey) must not be
        // echoed into an error message, a log or a terminal.
        if vkey.contains("PRIVATE+KEY") {
            return Err(NoteError::PrivateKeyGiven);
        }
        let bad = || NoteError::BadKey(vkey.to_owned());
        let mut parts = vkey.trim().splitn(3, '+');
        let (name, id_hex, key_b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(k)) => (n, i, k),
            _ => return Err(bad()),
        };
        check_key_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad())?;
        let raw = BASE64.decode(key_b64).map_err(|_| bad())?;
        if raw.len() != 33 || !matches!(raw[0], TYPE_ED25519 | TYPE_COSIGNATURE) {
            return Err(bad());
        }
        let pk: [u8; 32] = raw[1..].try_into().map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad())?;
        let parsed = VerifierKey::new(name, raw[0], key)?;
        if parsed.key_id != id {
            return Err(bad());
        }
        Ok(parsed)
    }

    pub fn encode(&self) -> String {
        let mut raw = vec![self.sig_type];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(raw))
    }

    /// Whether a signature line claims to come from this key.
    fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Verifies one signature line over the note text.
    fn verify(&self, text: &str, sig: &NoteSignature) -> bool {
        match self.sig_type {
            TYPE_ED25519 => match <[u8; 64]>::try_from(sig.bytes.as_slice()) {
                Ok(s) => self
                    .key
                    .verify_strict(text.as_bytes(), &Signature::from_bytes(&s))
                    .is_ok(),
                Err(_) => false,
            },
            TYPE_COSIGNATURE => {
                // tlog-cosignature: 8-byte big-endian timestamp, then the
                // signature over "cosignature/v1\ntime <T>\n" || note text.
                if sig.bytes.len() != 72 {
                    return false;
                }
                let time = u64::from_be_bytes(sig.bytes[..8].try_into().expect("8 bytes"));
                let s: [u8; 64] = sig.bytes[8..].try_into().expect("64 bytes");
                let msg = cosignature_message(time, text);
                self.key
                    .verify_strict(&msg, &Signature::from_bytes(&s))
                    .is_ok()
            }
            _ => false,
        }
    }
}

fn cosignature_message(time: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

/// A private key that signs notes with Ed25519 (type 0x01).
pub struct NoteSigner {
    verifier: VerifierKey,
    key: SigningKey,
}

impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<NoteSigner, NoteError> {
        let verifier = VerifierKey::new(name, TYPE_ED25519, key.verifying_key())?;
        Ok(NoteSigner { verifier, key })
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Parses the Go `note` private key encoding,
    /// `PRIVATE+KEY+name+hexid+base64(0x01||seed)`.
    pub fn parse(skey: &str) -> Result<NoteSigner, NoteError> {
        let bad = || NoteError::BadKey("(private key)".to_owned());
        let rest = skey.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '+');
        let (name, id_hex, key_b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(k)) => (n, i, k),
            _ => return Err(bad()),
        };
        let raw = BASE64.decode(key_b64).map_err(|_| bad())?;
        if raw.len() != 33 || raw[0] != TYPE_ED25519 {
            return Err(bad());
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| bad())?;
        let signer = NoteSigner::new(name, SigningKey::from_bytes(&seed))?;
        if format!("{:08x}", signer.verifier.key_id) != id_hex {
            return Err(bad());
        }
        Ok(signer)
    }

    pub fn encode_private(&self) -> String {
        let mut raw = vec![TYPE_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.verifier.name,
            self.verifier.key_id,
            BASE64.encode(raw)
        )
    }

    /// The signature line for `text` (without the trailing newline).
    pub fn sign_line(&self, text: &str) -> String {
        let mut raw = self.verifier.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes());
        format!(
            "{EM_DASH_SPACE}{} {}",
            self.verifier.name,
            BASE64.encode(raw)
        )
    }
}

/// Signs `text` (which must end in a newline) and returns the whole note.
pub fn sign(text: &str, signer: &NoteSigner) -> String {
    debug_assert!(text.ends_with('\n'));
    format!("{text}\n{}\n", signer.sign_line(text))
}

impl Note {
    /// Parses a signed note without verifying it.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        if s.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        // The text is separated from the signatures by the last blank line.
        let split = s.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
        let sigs = sigs.strip_suffix('\n').ok_or(NoteError::NoSignatureBlock)?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the note against trusted keys and returns the keys that signed.
    pub fn verify<'k>(&self, keys: &'k [VerifierKey]) -> Result<Vec<&'k VerifierKey>, NoteError> {
        let mut verified = Vec::new();
        for sig in &self.signatures {
            let Some(key) = keys.iter().find(|k| k.matches(sig)) else {
                continue; // unknown keys are ignored (signed-note §Signatures)
            };
            if !key.verify(&self.text, sig) {
                return Err(NoteError::BadSignature {
                    name: sig.name.clone(),
                    id: sig.key_id,
                });
            }
            verified.push(key);
        }
        if verified.is_empty() {
            return Err(NoteError::NoTrustedSignature);
        }
        Ok(verified)
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let bad = || NoteError::BadSignatureLine(line.to_owned());
    let rest = line.strip_prefix(EM_DASH_SPACE).ok_or_else(bad)?;
    let (name, b64) = rest.split_once(' ').ok_or_else(bad)?;
    check_key_name(name).map_err(|_| bad())?;
    let raw = BASE64.decode(b64).map_err(|_| bad())?;
    if raw.len() < 5 {
        return Err(bad());
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        bytes: raw[4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_signer() -> NoteSigner {
        // RFC 8032 §7.1 TEST 1.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        NoteSigner::new(
            "example.gov.cn/share-audit/2026",
            SigningKey::from_bytes(&seed),
        )
        .unwrap()
    }

    #[test]
    fn keys_round_trip() {
        let s = test_signer();
        let vkey = s.verifier().encode();
        assert_eq!(
            vkey,
            "example.gov.cn/share-audit/2026+9fed25a0+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"
        );
        assert_eq!(VerifierKey::parse(&vkey).unwrap(), *s.verifier());
        let again = NoteSigner::parse(&s.encode_private()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let s = test_signer();
        let note = sign("hello\nworld\n", &s);
        let parsed = Note::parse(note.as_bytes()).unwrap();
        assert_eq!(
            parsed
                .verify(std::slice::from_ref(s.verifier()))
                .unwrap()
                .len(),
            1
        );
        let tampered = note.replace("world", "w0rld");
        assert!(matches!(
            Note::parse(tampered.as_bytes())
                .unwrap()
                .verify(std::slice::from_ref(s.verifier())),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        assert_eq!(
            Note::parse(b"no blank line\n"),
            Err(NoteError::NoSignatureBlock)
        );
        assert_eq!(
            Note::parse(b"a\tb\n\n\xe2\x80\x94 k AAAAAAA=\n"),
            Err(NoteError::ControlCharacter)
        );
        assert_eq!(Note::parse(b"\xff\n\n"), Err(NoteError::NotUtf8));
        assert!(matches!(
            Note::parse(b"t\n\n- k AAAAAAAA\n"),
            Err(NoteError::BadSignatureLine(_))
        ));
    }

    #[test]
    fn a_private_key_given_as_a_vkey_is_not_echoed() {
        let private = test_signer().encode_private();
        let err = VerifierKey::parse(&private).unwrap_err();
        assert_eq!(err, NoteError::PrivateKeyGiven);
        let seed = private.rsplit('+').next().unwrap();
        assert!(!err.to_string().contains(seed));
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point (small order) encodes as y = 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(check_public_key(&key), Err(NoteError::WeakKey));
    }
}
