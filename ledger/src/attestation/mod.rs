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

mod bulk;
mod error;
mod fields;
mod keys;
mod kinds;
mod limits;
mod schema;
mod statement;
mod submission;

pub use crate::signature::CONTEXT;
pub use bulk::{parse_bulk, BulkError, BulkItems};
pub use error::AttestationError;
pub use fields::*;
pub use keys::{decode_key, registrable_key, EXAMPLE_KEY};
pub use kinds::*;
pub use limits::{MAX_ID_LEN, MAX_STATEMENT_BYTES, VERSION};
pub use statement::{verify_signature, SignerRef, Statement};
pub use submission::{decode_signature, signed_message, SignedAttestation};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::SignatureError;
    use crate::strict_json::StrictJsonError;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use ed25519_dalek::{Signer as _, SigningKey};

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
        assert_eq!(Kind::ALL.len(), 29);
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

    #[test]
    fn every_example_body_parses_and_matches_its_schema() {
        for kind in Kind::ALL {
            let body = kind.example_body();
            let json = statement_json(kind.name(), &body.to_string());
            Statement::parse(json.as_bytes())
                .unwrap_or_else(|e| panic!("{}: example refused: {e}", kind.name()));
            let schema = kind.body_schema();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let given: Vec<&str> = body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut sorted = required.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                given,
                "{}: the example has the required members",
                kind.name()
            );
            // Each required member is one the parser requires.
            for name in &required {
                let mut without = body.clone();
                without.as_object_mut().unwrap().remove(*name);
                let json = statement_json(kind.name(), &without.to_string());
                let err = Statement::parse(json.as_bytes()).unwrap_err().to_string();
                assert!(err.contains(&format!("missing field `{name}`")), "{err}");
            }
            // And no member outside the schema is taken.
            if let Body::DepartmentKey(k) = Statement::parse(json.as_bytes()).unwrap().body {
                let seed_one = SigningKey::from_bytes(&[1; 32]).verifying_key();
                assert_eq!(
                    k.key.0,
                    seed_one.to_bytes(),
                    "{}",
                    BASE64.encode(seed_one.as_bytes())
                );
                assert_eq!(
                    registrable_key(&k.key),
                    Err(AttestationError::BadSignerKey(SignatureError::PublishedKey)),
                    "the example key is refused at registration"
                );
            }
            let extra = statement_json(kind.name(), &serde_json::json!({"zzz": 1}).to_string());
            assert!(Statement::parse(extra.as_bytes()).is_err());
        }
    }
}
