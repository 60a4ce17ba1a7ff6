//! Every parser of untrusted input returns an error instead of panicking,
//! on random bytes and on valid inputs (the worked example of specs/examples)
//! that were truncated or had bytes flipped; and the JSON readers accept
//! only the one shape the specs give each value (attestation.md §Strict
//! JSON): a valid document with one value reshaped is always refused.

use ledger::attestation::{SignedAttestation, Statement};
use ledger::entry::Entry;
use ledger::note::{Note, VerifierKey};
use ledger::policy::Policy;
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
/// general-purpose JSON reader would still map onto the same types.
#[derive(Debug, Clone, Copy)]
enum Reshape {
    /// An object becomes the array of its values, in order.
    ObjectToArray,
    /// A member's value becomes `null`.
    MemberToNull,
    /// A string `s` becomes `{"s": null}` (serde's form of an enum variant).
    StringToVariantObject,
}

/// Every position (as a path of object keys and array indexes) at which
/// `reshape` applies.
fn positions(v: &Value, reshape: Reshape, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    let applies = match (reshape, v) {
        (Reshape::ObjectToArray, Value::Object(_)) => true,
        (Reshape::MemberToNull, _) => matches!(path.last(), Some(Value::String(_))),
        (Reshape::StringToVariantObject, Value::String(_)) => true,
        _ => false,
    };
    if applies {
        out.push(path.clone());
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                path.push(Value::String(k.clone()));
                positions(child, reshape, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(Value::from(i));
                positions(child, reshape, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        step => &mut v[step.as_u64().unwrap() as usize],
    })
}

fn reshaped(doc: &Value, reshape: Reshape, pick: usize) -> Option<Vec<u8>> {
    let mut found = Vec::new();
    positions(doc, reshape, &mut Vec::new(), &mut found);
    let path = found.get(pick % found.len().max(1))?;
    let mut doc = doc.clone();
    let target = at(&mut doc, path);
    *target = match (reshape, target.take()) {
        (Reshape::ObjectToArray, Value::Object(m)) => {
            Value::Array(m.into_iter().map(|(_, v)| v).collect())
        }
        (Reshape::MemberToNull, _) => Value::Null,
        (Reshape::StringToVariantObject, Value::String(s)) => serde_json::json!({ s: null }),
        _ => unreachable!("positions() chose a value of the right type"),
    };
    Some(serde_json::to_vec(&doc).unwrap())
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
        let doc: Value = serde_json::from_slice(valid).unwrap();
        let bad = reshaped(&doc, reshape, pick).unwrap();
        prop_assert!(Statement::parse(&bad).is_err(), "{reshape:?} accepted: {}", String::from_utf8_lossy(&bad));
    }

    #[test]
    fn reshaped_receipts_and_submissions_are_refused(which in 0usize..2, how in 0usize..3, pick in any::<usize>()) {
        let name = ["receipt.json", "attestation.json"][which];
        let valid = example(name);
        let reshape = [Reshape::ObjectToArray, Reshape::MemberToNull, Reshape::StringToVariantObject][how];
        let doc: Value = serde_json::from_slice(&valid).unwrap();
        let bad = reshaped(&doc, reshape, pick).unwrap();
        if name == "receipt.json" {
            prop_assert!(Receipt::from_json(&valid).is_ok());
            prop_assert!(Receipt::from_json(&bad).is_err(), "{reshape:?} accepted");
        } else {
            prop_assert!(SignedAttestation::from_json(&valid).is_ok());
            prop_assert!(SignedAttestation::from_json(&bad).is_err(), "{reshape:?} accepted");
        }
    }
}
