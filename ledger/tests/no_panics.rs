//! Every parser of untrusted input returns an error instead of panicking,
//! on random bytes and on valid inputs (the worked example of specs/examples)
//! that were truncated or had bytes flipped; and the JSON readers accept
//! only the one shape the specs give each value (attestation.md §Strict
//! JSON): a valid document with one value reshaped is always refused.

use ledger::attestation::{SignedAttestation, Statement};
use ledger::entry::Entry;
use ledger::note::{Note, VerifierKey};
use ledger::policy::Policy;
use ledger::read_signature::{ReadSignature, Target};
use ledger::receipt::Receipt;
use ledger::tiles::TileId;
use ledger::tlog_proof::TlogProof;
use proptest::prelude::*;
use serde_json::Value;

fn example(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../specs/examples")
            .join(name),
    )
    .unwrap()
}

/// Runs every parser; only a panic fails (errors are expected).
fn parse_everything(bytes: &[u8]) {
    let _ = Statement::parse(bytes);
    let _ = SignedAttestation::from_json(bytes);
    let _ = Entry::parse(bytes).map(|e| e.parse_statement());
    let _ = Note::parse(bytes);
    let _ = Receipt::from_json(bytes);
    let _ = ledger::strict_json::check(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = TlogProof::parse(text);
        let _ = Policy::parse(text);
        let _ = VerifierKey::parse(text);
        let _ = TileId::parse(text);
        let _ = ledger::checkpoint::Checkpoint::parse_body(text);
        let _ = ledger::calendar::CalendarFile::parse("fuzz", text);
        // A read signature: the text as either header, and split in two.
        let _ = ReadSignature::parse(text, text);
        let (input, signature) = text.split_at(text.floor_char_boundary(text.len() / 2));
        if let Ok(sig) = ReadSignature::parse(&format!("read={input}"), signature) {
            let _ = sig.check_time(u64::MAX, u64::MAX);
        }
    }
}

proptest! {
    /// A valid read signature with bytes flipped never verifies unless
    /// it is the one signed.
    #[test]
    fn mutated_read_signatures_never_verify(flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..4)) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let target = Target { method: "GET", authority: "notary.gov.cn", path: "/v1/receipts/1", query: None };
        let (input, signature) = ledger::read_signature::sign(&key, &target, 1_764_201_600, 60, "q4lJ0p2Wm5k3s7Yc1VxZ8A");
        let both = format!("{input}\n{signature}");
        let mutated = mutate(both.clone().into_bytes(), &flips, usize::MAX);
        if let Ok(text) = String::from_utf8(mutated) {
            if let Some((i, s)) = text.split_once('\n') {
                if let Ok(sig) = ReadSignature::parse(i, s) {
                    prop_assert!(text == both || sig.verify(&target).is_err(), "{text}");
                }
            }
        }
    }
}

fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for &(at, x) in flips {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
    }
    bytes.truncate(bytes.len().saturating_sub(cut % 8));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&bytes);
    }

    #[test]
    fn mutated_valid_inputs(which in 0usize..6, flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..4), cut in any::<usize>()) {
        let name = ["statement.json", "attestation.json", "entry.txt", "checkpoint.txt", "receipt.json", "policy.txt"][which];
        let bytes = mutate(example(name), &flips, cut);
        parse_everything(&bytes);
        // A mutated receipt must not verify unless the mutation changed nothing that matters.
        if name == "receipt.json" && !flips.is_empty() {
            if let Ok(r) = Receipt::from_json(&bytes) {
                let policy = Policy::parse(std::str::from_utf8(&example("policy.txt")).unwrap()).unwrap();
                let original = Receipt::from_json(&example("receipt.json")).unwrap();
                if r != original {
                    prop_assert!(r.verify(&policy).is_err(), "a changed receipt verified");
                }
            }
        }
    }
}

/// A way to reshape one value of a valid document into something a
/// general-purpose JSON reader (serde's derive) would still map onto the
/// same types.
#[derive(Debug, Clone, Copy)]
enum Reshape {
    /// An object becomes the array of its members' values, in the order
    /// written (the order of the fields, in these documents).
    ObjectToArray,
    /// A member's value becomes `null`.
    MemberToNull,
    /// A string `s` becomes `{"s": null}` (serde's form of an enum variant).
    StringToVariantObject,
}

/// JSON that keeps the order of object members as written (serde_json's
/// `Value` sorts them), so that an object can become the array serde would
/// read as the same struct.
#[derive(Debug, Clone)]
enum Json {
    Scalar(Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Scalar(b.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Scalar(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Scalar(n.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Scalar(s.into()))
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(Json::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry()? {
                    out.push((k, v));
                }
                Ok(Json::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Json {
    fn encode(&self) -> String {
        match self {
            Json::Scalar(v) => v.to_string(),
            Json::Array(a) => format!(
                "[{}]",
                a.iter().map(Json::encode).collect::<Vec<_>>().join(",")
            ),
            Json::Object(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.encode()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    /// Every value at which `reshape` applies, by visiting order.
    fn count(&self, reshape: Reshape, is_member: bool) -> usize {
        let here = match (reshape, self) {
            (Reshape::ObjectToArray, Json::Object(_)) => 1,
            (Reshape::MemberToNull, _) if is_member => 1,
            (Reshape::StringToVariantObject, Json::Scalar(Value::String(_))) => 1,
            _ => 0,
        };
        here + match self {
            Json::Scalar(_) => 0,
            Json::Array(a) => a.iter().map(|v| v.count(reshape, false)).sum(),
            Json::Object(m) => m.iter().map(|(_, v)| v.count(reshape, true)).sum(),
        }
    }

    /// Reshapes the `n`-th value at which `reshape` applies; returns how
    /// many such values remain to skip if it is not in this one.
    fn reshape(&mut self, reshape: Reshape, is_member: bool, mut n: usize) -> Option<usize> {
        let applies = match (reshape, &*self) {
            (Reshape::ObjectToArray, Json::Object(_)) => true,
            (Reshape::MemberToNull, _) => is_member,
            (Reshape::StringToVariantObject, Json::Scalar(Value::String(_))) => true,
            _ => false,
        };
        if applies {
            if n == 0 {
                *self = match (reshape, std::mem::replace(self, Json::Scalar(Value::Null))) {
                    (Reshape::ObjectToArray, Json::Object(m)) => {
                        Json::Array(m.into_iter().map(|(_, v)| v).collect())
                    }
                    (Reshape::MemberToNull, _) => Json::Scalar(Value::Null),
                    (Reshape::StringToVariantObject, Json::Scalar(Value::String(s))) => {
                        Json::Object(vec![(s, Json::Scalar(Value::Null))])
                    }
                    _ => unreachable!(),
                };
                return None;
            }
            n -= 1;
        }
        match self {
            Json::Scalar(_) => Some(n),
            Json::Array(a) => a
                .iter_mut()
                .try_fold(n, |n, v| v.reshape(reshape, false, n)),
            Json::Object(m) => m
                .iter_mut()
                .try_fold(n, |n, (_, v)| v.reshape(reshape, true, n)),
        }
    }
}

fn reshaped(valid: &[u8], reshape: Reshape, pick: usize) -> Vec<u8> {
    let mut doc: Json = serde_json::from_slice(valid).unwrap();
    let positions = doc.count(reshape, false);
    assert!(positions > 0, "{reshape:?} applies nowhere");
    assert!(doc.reshape(reshape, false, pick % positions).is_none());
    doc.encode().into_bytes()
}

/// Valid statements covering objects (signer, body, `other`), enums, lists
/// of enums and optional members.
fn valid_statements() -> Vec<Vec<u8>> {
    let key = "F8t5+ytBIPKx7GXkGY1uCLKOgT/rAeSkAIObheGAgM4=";
    let statement = |kind: &str, body: &str| {
        format!(r#"{{"version":1,"kind":"{kind}","log":"example.gov.cn/share-audit/2026","signer":{{"department":"gd.rst","key":"{key}"}},"signed_at":1764201602000,"body":{body}}}"#).into_bytes()
    };
    vec![
        example("statement.json"),
        statement(
            "department",
            r#"{"id":"gd.rst","name":"厅","roles":["provider","source"],"jurisdiction":"广东省"}"#,
        ),
        statement(
            "application",
            r#"{"case":"C-1","item":"rst/x","provider":"gd.rst","data_items":["a"],"legal_basis":"l","use_scenario":"u","scope_of_use":"s","sharing_method":"batch_exchange","use_until":"2027-12-31","approved_by":"张三","declaration":true,"other":{"用途说明":"企业信用评价"}}"#,
        ),
        statement(
            "delivery",
            r#"{"case":"C-1","method":"file_download","data_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","description":"首批"}"#,
        ),
        statement(
            "consent",
            r#"{"case":"C-1","scope":"third_party","third_party":"gd.x","description":"d"}"#,
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn reshaped_statements_are_refused(which in 0usize..5, how in 0usize..3, pick in any::<usize>()) {
        let valid = &valid_statements()[which];
        prop_assert!(Statement::parse(valid).is_ok());
        let reshape = [Reshape::ObjectToArray, Reshape::MemberToNull, Reshape::StringToVariantObject][how];
        let bad = reshaped(valid, reshape, pick);
        prop_assert!(Statement::parse(&bad).is_err(), "{reshape:?} accepted: {}", String::from_utf8_lossy(&bad));
    }

    #[test]
    fn reshaped_receipts_and_submissions_are_refused(which in 0usize..2, how in 0usize..3, pick in any::<usize>()) {
        let name = ["receipt.json", "attestation.json"][which];
        let valid = example(name);
        let reshape = [Reshape::ObjectToArray, Reshape::MemberToNull, Reshape::StringToVariantObject][how];
        let bad = reshaped(&valid, reshape, pick);
        if name == "receipt.json" {
            prop_assert!(Receipt::from_json(&valid).is_ok());
            prop_assert!(Receipt::from_json(&bad).is_err(), "{reshape:?} accepted");
        } else {
            prop_assert!(SignedAttestation::from_json(&valid).is_ok());
            prop_assert!(SignedAttestation::from_json(&bad).is_err(), "{reshape:?} accepted");
        }
    }
}

/// The reshaping is what it claims: a struct written as the array of its
/// values in field order is what serde alone accepts, and strict reading
/// refuses.
#[test]
fn field_order_arrays_are_what_plain_serde_takes() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Signer {
        department: String,
        key: String,
    }
    let valid = br#"{"department":"gd.rst","key":"K"}"#;
    let array = reshaped(valid, Reshape::ObjectToArray, 0);
    assert_eq!(array, br#"["gd.rst","K"]"#);
    assert!(serde_json::from_slice::<Signer>(&array).is_ok());
    assert!(ledger::strict_json::from_slice::<Signer>(&array).is_err());
    let receipt = reshaped(&example("receipt.json"), Reshape::ObjectToArray, 0);
    assert!(receipt.starts_with(br#"["share-audit/receipt/v1",2,"#));
    assert!(Receipt::from_json(&receipt).is_err());
}
