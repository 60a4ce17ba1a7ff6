//! The signature of an authenticated read (specs/reads.md §The request
//! signature): an RFC 9421 HTTP Message Signature with the `ed25519`
//! algorithm (RFC 9421 §3.3.6), label `read`, covering `@method`,
//! `@authority`, `@path` and `@query`, with `created`, `expires`, `nonce`,
//! `keyid` (the base64 public key), `alg` and `tag="share-audit/read/v1"`.
//!
//! The signed bytes are the signature base of RFC 9421 §2.5. It starts with
//! `"@method": `, which no attestation (`share-audit/attestation/v1`), note
//! (a key name, which holds no space) or cosignature (`cosignature/v1`)
//! message can start with: a read signature is never anything else.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};

use crate::attestation::PublicKey;
use crate::signature::{self, DecodedKey, SignatureError};

/// The label of the signature in `Signature-Input` and `Signature`.
pub const LABEL: &str = "read";
/// The `tag` parameter: what the signature is for, and its version.
pub const TAG: &str = "share-audit/read/v1";
/// The covered components, in their order.
pub const COMPONENTS: &str = r#"("@method" "@authority" "@path" "@query")"#;
/// The longest a signature may stay valid: `expires − created`, seconds.
pub const MAX_LIFETIME_S: u64 = 300;
/// How far ahead of the notary's clock `created` may be, seconds.
pub const MAX_CLOCK_AHEAD_S: u64 = 5;
/// Nonce length, in characters of base64.
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=64;

/// What a read request asks for: the components the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub method: &'a str,
    /// Host and port as the client addressed the notary (RFC 9421 §2.2.3),
    /// lower case.
    pub authority: &'a str,
    /// The path as sent, not percent-decoded (RFC 9421 §2.2.6).
    pub path: &'a str,
    /// The query as sent, without its `?`; `None` or empty for none.
    pub query: Option<&'a str>,
}

impl Target<'_> {
    /// The signature base of RFC 9421 §2.5, with `params` the serialized
    /// signature parameters (the `Signature-Input` member's value).
    pub fn signature_base(&self, params: &str) -> String {
        format!(
            "\"@method\": {}\n\"@authority\": {}\n\"@path\": {}\n\"@query\": ?{}\n\"@signature-params\": {params}",
            self.method,
            self.authority,
            self.path,
            self.query.unwrap_or("")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadSignatureError {
    #[error("the request needs exactly one Signature-Input and one Signature header, in ASCII; reads of entry contents are signed (specs/reads.md)")]
    Missing,
    #[error("the read signature headers are malformed: {0}")]
    Malformed(&'static str),
    #[error("the read signature does not verify: {0}")]
    BadSignature(SignatureError),
    #[error("the read signature was created at {created}, ahead of the notary's clock ({now})")]
    CreatedInFuture { created: u64, now: u64 },
    #[error("the read signature expired at {expires} (the notary's clock says {now})")]
    Expired { expires: u64, now: u64 },
    #[error("the read signature is valid for {0} s; at most 300 s is accepted")]
    TooLong(u64),
    #[error("the read signature was created before the notary started; sign the request again")]
    BeforeStart,
}

/// A parsed `Signature-Input` and `Signature` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSignature {
    pub created: u64,
    pub expires: u64,
    pub nonce: String,
    pub key: PublicKey,
    pub signature: [u8; 64],
    /// The member's value as sent: what `@signature-params` covers.
    params: String,
}

impl ReadSignature {
    /// Parses the two headers' values. Exactly one member each, labelled
    /// `read`; exactly the components and parameters of specs/reads.md.
    pub fn parse(input: &str, signature: &str) -> Result<ReadSignature, ReadSignatureError> {
        use ReadSignatureError::Malformed;
        let params = input.strip_prefix("read=").ok_or(Malformed(
            "Signature-Input must have one member, labelled read",
        ))?;
        let rest = params.strip_prefix(COMPONENTS).ok_or(Malformed(
            r#"the covered components must be ("@method" "@authority" "@path" "@query")"#,
        ))?;
        let (mut created, mut expires, mut nonce, mut keyid, mut alg, mut tag) =
            (None, None, None, None, None, None);
        for param in rest.split(';').skip(1) {
            let (name, value) = param
                .split_once('=')
                .ok_or(Malformed("a signature parameter has no value"))?;
            let slot = match name {
                "created" => &mut created,
                "expires" => &mut expires,
                "nonce" => &mut nonce,
                "keyid" => &mut keyid,
                "alg" => &mut alg,
                "tag" => &mut tag,
                _ => return Err(Malformed("unknown signature parameter")),
            };
            if slot.replace(value).is_some() {
                return Err(Malformed("a signature parameter is given twice"));
            }
        }
        if !rest.is_empty() && !rest.starts_with(';') {
            return Err(Malformed("the parameters must follow the components"));
        }
        let integer =
            |v: Option<&str>, what| v.and_then(crate::decimal::parse).ok_or(Malformed(what));
        let created = integer(created, "created must be an integer (seconds)")?;
        let expires = integer(expires, "expires must be an integer (seconds)")?;
        let nonce = quoted(nonce).ok_or(Malformed("nonce must be a quoted string"))?;
        if !NONCE_LEN.contains(&nonce.len())
            || !nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b))
        {
            return Err(Malformed("nonce must be 16 to 64 characters of base64"));
        }
        let key = quoted(keyid)
            .and_then(|k| PublicKey::try_from(k.to_owned()).ok())
            .ok_or(Malformed(
                "keyid must be the base64 of a 32-byte public key",
            ))?;
        if quoted(alg) != Some("ed25519") {
            return Err(Malformed(r#"alg must be "ed25519""#));
        }
        if quoted(tag) != Some(TAG) {
            return Err(Malformed(r#"tag must be "share-audit/read/v1""#));
        }
        let signature = signature
            .strip_prefix("read=:")
            .and_then(|s| s.strip_suffix(':'))
            .and_then(|s| BASE64.decode(s).ok())
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(Malformed("Signature must be read=:<base64 of 64 bytes>:"))?;
        Ok(ReadSignature {
            created,
            expires,
            nonce: nonce.to_owned(),
            key,
            signature,
            params: params.to_owned(),
        })
    }

    /// The time rules, with `now` the notary's clock and `started` when the
    /// notary started (seconds): `created ≤ now + 5`, `now ≤ expires`,
    /// `expires − created ≤ 300`, `created ≥ started`.
    pub fn check_time(&self, now: u64, started: u64) -> Result<(), ReadSignatureError> {
        if self.expires < self.created || self.expires - self.created > MAX_LIFETIME_S {
            return Err(ReadSignatureError::TooLong(
                self.expires.saturating_sub(self.created),
            ));
        }
        if self.created > now.saturating_add(MAX_CLOCK_AHEAD_S) {
            return Err(ReadSignatureError::CreatedInFuture {
                created: self.created,
                now,
            });
        }
        if now > self.expires {
            return Err(ReadSignatureError::Expired {
                expires: self.expires,
                now,
            });
        }
        if self.created < started {
            return Err(ReadSignatureError::BeforeStart);
        }
        Ok(())
    }

    /// Checks the signature over `target` by the signature rule
    /// (specs/attestation.md §Signature rule), the key being usable.
    pub fn verify(&self, target: &Target) -> Result<(), ReadSignatureError> {
        let key = DecodedKey::new(&self.key.0).map_err(ReadSignatureError::BadSignature)?;
        let base = target.signature_base(&self.params);
        signature::verify_message(&key, base.as_bytes(), &self.signature)
            .map_err(ReadSignatureError::BadSignature)
    }
}

fn quoted(v: Option<&str>) -> Option<&str> {
    v?.strip_prefix('"')?.strip_suffix('"')
}

/// The `Signature-Input` and `Signature` header values of a read of
/// `target` signed with `key`, valid from `created` for `lifetime` seconds.
pub fn sign(
    key: &SigningKey,
    target: &Target,
    created: u64,
    lifetime: u64,
    nonce: &str,
) -> (String, String) {
    let keyid = BASE64.encode(key.verifying_key().as_bytes());
    let params = format!(
        r#"{COMPONENTS};created={created};expires={};nonce="{nonce}";keyid="{keyid}";alg="ed25519";tag="{TAG}""#,
        created + lifetime
    );
    let signature = key.sign(target.signature_base(&params).as_bytes());
    (
        format!("{LABEL}={params}"),
        format!("{LABEL}=:{}:", BASE64.encode(signature.to_bytes())),
    )
}

/// A fresh random nonce (16 random bytes in base64, 24 characters).
pub fn new_nonce() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    BASE64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    const TARGET: Target = Target {
        method: "GET",
        authority: "notary.example.gov.cn",
        path: "/v1/receipts/12",
        query: None,
    };

    #[test]
    fn a_signed_read_verifies_and_its_base_is_rfc_9421() {
        let (input, sig) = sign(&key(), &TARGET, 1_764_201_600, 60, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let parsed = ReadSignature::parse(&input, &sig).unwrap();
        assert_eq!(parsed.verify(&TARGET), Ok(()));
        assert_eq!(parsed.check_time(1_764_201_630, 0), Ok(()));
        let base = TARGET.signature_base(&parsed.params);
        assert!(base.starts_with("\"@method\": GET\n\"@authority\": notary.example.gov.cn\n\"@path\": /v1/receipts/12\n\"@query\": ?\n\"@signature-params\": (\"@method\""));
        assert!(base.ends_with(r#";tag="share-audit/read/v1""#));
    }

    #[test]
    fn another_target_or_authority_does_not_verify() {
        let (input, sig) = sign(&key(), &TARGET, 1_764_201_600, 60, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let parsed = ReadSignature::parse(&input, &sig).unwrap();
        for other in [
            Target {
                path: "/v1/receipts/13",
                ..TARGET
            },
            Target {
                authority: "other.gov.cn",
                ..TARGET
            },
            Target {
                query: Some("a=1"),
                ..TARGET
            },
            Target {
                method: "POST",
                ..TARGET
            },
        ] {
            assert!(matches!(
                parsed.verify(&other),
                Err(ReadSignatureError::BadSignature(_))
            ));
        }
    }

    #[test]
    fn changed_parameters_do_not_verify() {
        let (input, sig) = sign(&key(), &TARGET, 1_764_201_600, 60, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let later = input.replace("expires=1764201660", "expires=1764201700");
        let parsed = ReadSignature::parse(&later, &sig).unwrap();
        assert!(parsed.verify(&TARGET).is_err());
    }

    #[test]
    fn malformed_headers_are_named() {
        let (input, sig) = sign(&key(), &TARGET, 1_764_201_600, 60, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let cases = [
            input.replace("read=", "sig1="),
            input.replace(r#" "@query""#, ""),
            input.replace(r#"alg="ed25519""#, r#"alg="rsa-pss-sha512""#),
            input.replace("share-audit/read/v1", "share-audit/attestation/v1"),
            input.replace("q4lJ0p2Wm5k3s7Yc1VxZ8A", "short"),
            input.replace("created=", "created=0x"),
            format!("{input};created=1"),
            format!("{input};foo=1"),
        ];
        for bad in cases {
            assert!(
                matches!(
                    ReadSignature::parse(&bad, &sig),
                    Err(ReadSignatureError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(ReadSignature::parse(&input, "read=:AAAA:").is_err());
    }

    #[test]
    fn time_rules() {
        let (input, sig) = sign(&key(), &TARGET, 1000, 60, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let p = ReadSignature::parse(&input, &sig).unwrap();
        assert_eq!(p.check_time(995, 0), Ok(()));
        assert!(matches!(
            p.check_time(994, 0),
            Err(ReadSignatureError::CreatedInFuture { .. })
        ));
        assert_eq!(p.check_time(1060, 0), Ok(()));
        assert!(matches!(
            p.check_time(1061, 0),
            Err(ReadSignatureError::Expired { .. })
        ));
        assert_eq!(
            p.check_time(1000, 1001),
            Err(ReadSignatureError::BeforeStart)
        );
        let (input, sig) = sign(&key(), &TARGET, 1000, 301, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let p = ReadSignature::parse(&input, &sig).unwrap();
        assert_eq!(p.check_time(1000, 0), Err(ReadSignatureError::TooLong(301)));
    }
}
