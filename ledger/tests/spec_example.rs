//! The worked example of `specs/examples/`, rebuilt here from fixed keys and
//! times with the real append path on a temporary RocksDB store, and checked
//! byte for byte. `UPDATE_SPEC_EXAMPLES=1` rewrites the files after a
//! deliberate format change (which must also update the spec text).

use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use ledger::append::{Log, Outcome, Submission};
use ledger::attestation::{SignedAttestation, CONTEXT};
use ledger::note::NoteSigner;
use ledger::policy::Policy;
use ledger::receipt::Receipt;
use ledger::store::Store;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "example.gov.cn/share-audit/2026";
const T0: u64 = 1_764_201_600_000; // 2025-11-27T00:00:00Z

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

fn statement(department: &str, k: &SigningKey, kind: &str, signed_at: u64, body: &str) -> Vec<u8> {
    format!(
        r#"{{"version":1,"kind":"{kind}","log":"{ORIGIN}","signer":{{"department":"{department}","key":"{}"}},"signed_at":{signed_at},"body":{body}}}"#,
        BASE64.encode(k.verifying_key().as_bytes())
    )
    .into_bytes()
}

struct Example {
    files: Vec<(&'static str, Vec<u8>)>,
    policy: Policy,
    receipt: Receipt,
}

fn build() -> Example {
    let notary = NoteSigner::new(ORIGIN, key(0x11)).unwrap();
    let root = NoteSigner::new("gd.zsj.root", key(0x22)).unwrap();
    let provider = key(0x33);
    let policy_text = format!(
        "log {}\nroot {}\n",
        notary.verifier().encode(),
        root.verifier().encode()
    );
    let policy = Policy::parse(&policy_text).unwrap();

    let statements = [
        (
            root.signing_key().clone(),
            statement(
                "gd.zsj.root",
                &key(0x22),
                "department",
                T0,
                r#"{"id":"gd.rst","name":"广东省人力资源和社会保障厅","roles":["provider"],"jurisdiction":"广东省"}"#,
            ),
        ),
        (
            root.signing_key().clone(),
            statement(
                "gd.zsj.root",
                &key(0x22),
                "department_key",
                T0 + 1000,
                &format!(
                    r#"{{"department":"gd.rst","key":"{}"}}"#,
                    BASE64.encode(provider.verifying_key().as_bytes())
                ),
            ),
        ),
        (
            provider.clone(),
            statement(
                "gd.rst",
                &provider,
                "catalog_entry",
                T0 + 2000,
                r#"{"item":"rst/shebao-jiaofei","name":"企业职工社会保险缴费记录","data_items":["统一社会信用代码","缴费月份","缴费金额"],"format":"JSON","update_frequency":"每日","share_attribute":"conditional","sharing_method":"service_interface","conditions":["仅用于企业信用评价"],"classification":"二级"}"#,
            ),
        ),
    ];

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    Log::initialise(&store, &notary).unwrap();
    let mut log = Log::open(
        Arc::new(store),
        &policy,
        NoteSigner::parse(&notary.encode_private()).unwrap(),
    )
    .unwrap();
    let mut last = None;
    let mut attestation = None;
    for (i, (k, s)) in statements.into_iter().enumerate() {
        let signed = SignedAttestation::sign(s, &k);
        let sub = Submission::parse(signed.clone()).unwrap();
        sub.verify_signature().unwrap();
        // One batch per entry, notarised 100 ms after the signer's claim.
        let out = log.append(&[sub], T0 + 1000 * i as u64 + 100).unwrap();
        match out.into_iter().next().unwrap() {
            Outcome::Appended(r, _) => last = Some(r),
            other => panic!("entry {i}: {other:?}"),
        }
        attestation = Some(signed);
    }
    let receipt = last.unwrap();
    let attestation = attestation.unwrap();
    let checkpoint = ledger::tlog_proof::TlogProof::parse(&receipt.proof)
        .unwrap()
        .checkpoint;
    let files = vec![
        ("policy.txt", policy_text.into_bytes()),
        ("statement.json", attestation.statement.clone()),
        (
            "attestation.json",
            format!("{}\n", attestation.to_json()).into_bytes(),
        ),
        ("entry.txt", receipt.entry.clone()),
        (
            "leaf-hash.txt",
            format!("{}\n", receipt.leaf_hash).into_bytes(),
        ),
        ("checkpoint.txt", checkpoint.into_bytes()),
        (
            "receipt.json",
            format!("{}\n", receipt.to_json_pretty()).into_bytes(),
        ),
    ];
    Example {
        files,
        policy,
        receipt,
    }
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/examples")
}

#[test]
fn worked_example_matches_the_spec_byte_for_byte() {
    let ex = build();
    let dir = examples_dir();
    if std::env::var_os("UPDATE_SPEC_EXAMPLES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &ex.files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &ex.files {
        let on_disk =
            std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("specs/examples/{name}: {e}"));
        assert!(
            on_disk == *bytes,
            "specs/examples/{name} differs from what the code produces"
        );
    }
    ex.receipt.verify(&ex.policy).unwrap();
}

/// The example, recomputed from the spec's definitions with bare SHA-256 and
/// Ed25519 (no ledger code), as a second implementation would.
#[test]
fn worked_example_follows_the_definitions() {
    let dir = examples_dir();
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let statement = read("statement.json");
    let entry = read("entry.txt");

    // specs/attestation.md: the signature covers CONTEXT || statement.
    assert_eq!(CONTEXT, b"share-audit/attestation/v1\n");
    let att: serde_json::Value = serde_json::from_slice(&read("attestation.json")).unwrap();
    assert_eq!(
        BASE64.decode(att["statement"].as_str().unwrap()).unwrap(),
        statement
    );
    let sig: [u8; 64] = BASE64
        .decode(att["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let provider = VerifyingKey::from_bytes(key(0x33).verifying_key().as_bytes()).unwrap();
    provider
        .verify_strict(
            &[CONTEXT, &statement].concat(),
            &Signature::from_bytes(&sig),
        )
        .unwrap();

    // specs/entry.md: header lines, blank line, the statement verbatim.
    let header = format!(
        "share-audit/entry/v1\ntime {}\nsignature {}\n\n",
        T0 + 2100,
        att["signature"].as_str().unwrap()
    );
    assert_eq!(entry, [header.as_bytes(), &statement].concat());

    // specs/attestation.md §Statements: the statement names the log (the
    // policy's origin), and entry.md shows this very entry.
    let fields: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(fields["log"], ORIGIN);
    assert!(String::from_utf8(read("policy.txt"))
        .unwrap()
        .contains(&format!("log {ORIGIN}+")));
    let entry_md = std::fs::read_to_string(dir.join("../entry.md")).unwrap();
    let signature_line = format!("signature {}", att["signature"].as_str().unwrap());
    assert!(
        entry_md.contains(&signature_line),
        "specs/entry.md shows another entry than examples/entry.txt"
    );

    // specs/merkle.md: leaf hash = SHA-256(0x00 || entry).
    let leaf = Sha256::new()
        .chain_update([0u8])
        .chain_update(&entry)
        .finalize();
    assert_eq!(
        String::from_utf8(read("leaf-hash.txt")).unwrap().trim(),
        BASE64.encode(leaf)
    );

    // specs/receipt.md: the receipt carries that entry and two evidence receipts.
    let receipt: serde_json::Value = serde_json::from_slice(&read("receipt.json")).unwrap();
    assert_eq!(receipt["index"], 2);
    assert_eq!(
        BASE64.decode(receipt["entry"].as_str().unwrap()).unwrap(),
        entry
    );
    let evidence: Vec<u64> = receipt["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(evidence, vec![0, 1]);
}
