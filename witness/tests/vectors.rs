//! The shared tlog-witness vectors (../shared/vectors/tlog-witness): ten
//! add-checkpoint requests in order to one witness with no state, each
//! answered with the exact status and, where fixed, the exact body.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use witness::cosigner::Cosigner;
use witness::logs::Logs;
use witness::witness::Witness;

fn vectors_dir() -> Option<PathBuf> {
    let base = std::env::var_os("SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let dir = base.join("vectors/tlog-witness");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the shared vectors are missing at {}",
        dir.display()
    );
    eprintln!(
        "\n*** SKIPPED: shared vectors not found at {} (set SHARED_DIR) ***\n",
        dir.display()
    );
    None
}

fn seed(hex: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn the_witness_answers_every_vector_byte_for_byte() {
    let Some(dir) = vectors_dir() else {
        return;
    };
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("steps.json")).unwrap()).unwrap();
    let cosigner = Cosigner::new(
        v["witness_name"].as_str().unwrap(),
        SigningKey::from_bytes(&seed(v["witness_seed_hex"].as_str().unwrap())),
    )
    .unwrap();
    assert_eq!(
        cosigner.verifier().encode(),
        v["witness_vkey"].as_str().unwrap()
    );
    let logs = Logs::parse(&format!("log {}\n", v["log_vkey"].as_str().unwrap())).unwrap();
    let state = tempfile::tempdir().unwrap();
    let witness = Witness::open(logs.clone(), cosigner, state.path()).unwrap();
    let clock = v["witness_clock_unix"].as_u64().unwrap();
    for step in v["steps"].as_array().unwrap() {
        let name = step["request"].as_str().unwrap();
        let body = std::fs::read(dir.join(name)).unwrap();
        let reply = witness.add_checkpoint(&body, clock);
        assert_eq!(
            u64::from(reply.status),
            step["status"].as_u64().unwrap(),
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        if let Some(expected) = step["response"].as_str() {
            assert_eq!(
                String::from_utf8(reply.body.clone()).unwrap(),
                expected,
                "{name}"
            );
        }
        if reply.status == 409 && name.starts_with("02") {
            assert_eq!(reply.content_type, "text/x.tlog.size");
        }
    }
    // The fork of step 08 was kept as evidence, the log's signature and all.
    let kept: Vec<_> = std::fs::read_dir(state.path().join("evidence"))
        .unwrap()
        .collect();
    assert!(!kept.is_empty(), "the fork was kept");
    let fork = std::fs::read(dir.join("08-fork-same-size.txt")).unwrap();
    assert!(kept
        .iter()
        .any(|e| std::fs::read(e.as_ref().unwrap().path())
            .unwrap()
            .ends_with(&fork)));

    // A restart remembers size 8: a request from size 3 is told 8.
    drop(witness);
    let again = Witness::open(
        logs,
        Cosigner::new(
            v["witness_name"].as_str().unwrap(),
            SigningKey::from_bytes(&seed(v["witness_seed_hex"].as_str().unwrap())),
        )
        .unwrap(),
        state.path(),
    )
    .unwrap();
    let reply = again.add_checkpoint(
        &std::fs::read(dir.join("07-good-3-to-8.txt")).unwrap(),
        clock,
    );
    assert_eq!((reply.status, reply.body), (409, b"8\n".to_vec()));
}
