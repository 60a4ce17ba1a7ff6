//! The statement and registry rules of specs/lifecycle.md §Rules, through the
//! real append path ([`Log`] on a temporary RocksDB store) and the receipt
//! verifier: what the notary decides and what an auditor re-decides.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use ledger::append::{Log, Outcome, Submission};
use ledger::attestation::SignedAttestation;
use ledger::lifecycle::{Refusal, MAX_SIGNED_AHEAD_MS, MAX_SIGNED_BEFORE_MS};
use ledger::note::NoteSigner;
use ledger::policy::Policy;
use ledger::receipt::{EvidenceReceipt, Holds, Receipt, ReceiptError};
use ledger::store::Store;

const ORIGIN: &str = "rules.example.gov.cn/share-audit/2026";
const ROOT: &str = "gd.zsj.root";
const T0: u64 = 1_764_201_600_000;

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

fn b64key(k: &SigningKey) -> String {
    BASE64.encode(k.verifying_key().as_bytes())
}

/// A log on a fresh store, its policy, and the store's directory.
struct TestLog {
    log: Log,
    policy: Policy,
    _dir: tempfile::TempDir,
}

fn new_log(notary_byte: u8, origin: &str) -> TestLog {
    let notary = NoteSigner::new(origin, key(notary_byte)).unwrap();
    let root = NoteSigner::new(ROOT, key(0x22)).unwrap();
    let policy = Policy::parse(&format!(
        "log {}\nroot {}\n",
        notary.verifier().encode(),
        root.verifier().encode()
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    Log::initialise(&store, &notary).unwrap();
    let log = Log::open(Arc::new(store), &policy, notary).unwrap();
    TestLog {
        log,
        policy,
        _dir: dir,
    }
}

/// A statement for `log`, signed by `signer` (department `dept`).
fn signed(
    log: &str,
    dept: &str,
    signer: &SigningKey,
    kind: &str,
    signed_at: u64,
    body: &str,
) -> Submission {
    let statement = format!(
        r#"{{"version":1,"kind":"{kind}","log":"{log}","signer":{{"department":"{dept}","key":"{}"}},"signed_at":{signed_at},"body":{body}}}"#,
        b64key(signer)
    );
    let sub = Submission::parse(SignedAttestation::sign(statement.into_bytes(), signer)).unwrap();
    sub.verify_signature().unwrap();
    sub
}

fn root_signed(kind: &str, body: &str) -> Submission {
    signed(ORIGIN, ROOT, &key(0x22), kind, T0, body)
}

fn department(id: &str, roles: &str) -> Submission {
    root_signed(
        "department",
        &format!(r#"{{"id":"{id}","name":"部门","roles":{roles},"jurisdiction":"广东省"}}"#),
    )
}

fn department_key(id: &str, k: &SigningKey) -> Submission {
    root_signed(
        "department_key",
        &format!(r#"{{"department":"{id}","key":"{}"}}"#, b64key(k)),
    )
}

const CATALOG: &str = r#"{"item":"rst/x","name":"n","data_items":["a"],"format":"JSON","update_frequency":"每日","share_attribute":"unconditional","sharing_method":"service_interface","classification":"二级"}"#;

fn refusal(outcome: &Outcome) -> &Refusal {
    match outcome {
        Outcome::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn receipt(outcome: Outcome) -> Receipt {
    match outcome {
        Outcome::Appended(r, _) => r,
        other => panic!("expected an appended entry, got {other:?}"),
    }
}

/// A provider registered with key 0x33 in entries 0 and 1.
fn with_provider(t: &mut TestLog) {
    let out = t
        .log
        .append(
            &[
                department("gd.rst", r#"["provider"]"#),
                department_key("gd.rst", &key(0x33)),
            ],
            T0 + 100,
        )
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, Outcome::Appended(..))));
}

#[test]
fn a_statement_for_another_log_is_refused_here_and_by_verifiers() {
    let mut a = new_log(0x11, ORIGIN);
    let mut b = new_log(0x12, "other.gov.cn/share-audit/2026");
    // The registration entries of log A, replayed into log B that trusts the same root.
    let replay = [
        department("gd.rst", r#"["provider"]"#),
        department_key("gd.rst", &key(0x33)),
    ];
    let in_a = a.log.append(&replay, T0 + 100).unwrap();
    assert!(in_a.iter().all(|o| matches!(o, Outcome::Appended(..))));
    let in_b = b.log.append(&replay, T0 + 100).unwrap();
    for o in &in_b {
        assert_eq!(refusal(o).code(), "wrong_log");
    }
    assert_eq!(b.log.tree().size, 0);

    // A receipt of log A does not verify under B's policy, nor would an
    // entry naming A in a log whose policy says B.
    let r = receipt(in_a.into_iter().nth(1).unwrap());
    r.verify(&a.policy).unwrap();
    assert!(r.verify(&b.policy).is_err());
}

#[test]
fn signed_at_must_be_close_to_the_notarised_time() {
    let mut t = new_log(0x11, ORIGIN);
    with_provider(&mut t);
    let now = T0 + 1_000_000_000;
    let at = |signed_at| {
        signed(
            ORIGIN,
            "gd.rst",
            &key(0x33),
            "catalog_entry",
            signed_at,
            CATALOG,
        )
    };
    let out = t
        .log
        .append(
            &[
                at(now + MAX_SIGNED_AHEAD_MS + 1),
                at(now - MAX_SIGNED_BEFORE_MS - 1),
                at(now - MAX_SIGNED_BEFORE_MS),
            ],
            now,
        )
        .unwrap();
    assert!(matches!(refusal(&out[0]), Refusal::SignedInFuture { .. }));
    assert!(matches!(refusal(&out[1]), Refusal::SignedTooLongAgo { .. }));
    assert_eq!(refusal(&out[0]).code(), "signed_at_out_of_range");
    let r = receipt(out.into_iter().nth(2).unwrap());
    r.verify(&t.policy).unwrap();
}

#[test]
fn a_revocation_takes_effect_at_the_next_index_even_in_one_batch() {
    let mut t = new_log(0x11, ORIGIN);
    with_provider(&mut t);
    let provider = key(0x33);
    let entry = |item: &str| {
        signed(
            ORIGIN,
            "gd.rst",
            &provider,
            "catalog_entry",
            T0,
            &CATALOG.replace("rst/x", item),
        )
    };
    let revoke = root_signed(
        "key_revocation",
        &format!(
            r#"{{"department":"gd.rst","key":"{}","reason":"泄露"}}"#,
            b64key(&provider)
        ),
    );
    let out = t
        .log
        .append(&[entry("rst/a"), revoke, entry("rst/b")], T0 + 200)
        .unwrap();
    let mut out = out.into_iter();
    let before = receipt(out.next().unwrap());
    let revocation = receipt(out.next().unwrap());
    assert!(matches!(
        refusal(&out.next().unwrap()),
        Refusal::KeyRevoked(_, 3)
    ));
    // Same notarised time, different indexes: the entry before the
    // revocation stays valid, for the notary and for the verifier.
    let time = |r: &Receipt| ledger::entry::Entry::parse(&r.entry).unwrap().time;
    assert_eq!(time(&before), time(&revocation));
    assert_eq!((before.index, revocation.index), (2, 3));
    before.verify(&t.policy).unwrap();
}

#[test]
fn root_keys_and_names_are_the_policys_own() {
    let mut t = new_log(0x11, ORIGIN);
    let root = key(0x22);
    let out = t
        .log
        .append(
            &[
                department(ROOT, r#"["provider"]"#),
                department("gd.rst", r#"["provider"]"#),
                department_key("gd.rst", &root),
                // The root key under a department's name signs no case or catalog step.
                signed(ORIGIN, "gd.rst", &root, "catalog_entry", T0, CATALOG),
            ],
            T0 + 100,
        )
        .unwrap();
    assert_eq!(refusal(&out[0]).code(), "reserved_for_root");
    assert!(matches!(out[1], Outcome::Appended(..)));
    assert_eq!(refusal(&out[2]).code(), "reserved_for_root");
    assert_eq!(refusal(&out[3]).code(), "root_signs_only_registry");
}

#[test]
fn a_key_window_must_not_be_empty() {
    let mut t = new_log(0x11, ORIGIN);
    let time = T0 + 100;
    let window = |k: u8, extra: &str| {
        root_signed(
            "department_key",
            &format!(
                r#"{{"department":"gd.rst","key":"{}"{extra}}}"#,
                b64key(&key(k))
            ),
        )
    };
    let out = t
        .log
        .append(
            &[
                department("gd.rst", r#"["provider"]"#),
                window(0x40, &format!(r#","valid_until":{time}"#)),
                window(0x41, &format!(r#","valid_until":{}"#, time + 1)),
            ],
            time,
        )
        .unwrap();
    assert_eq!(refusal(&out[1]).code(), "empty_validity_window");
    assert!(matches!(out[2], Outcome::Appended(..)));
}

/// The provider's registration as another history has it: another name,
/// so the trees differ from the first entry on.
fn renamed_provider() -> Submission {
    root_signed(
        "department",
        r#"{"id":"gd.rst","name":"另一个名字","roles":["provider"],"jurisdiction":"广东省"}"#,
    )
}

#[test]
fn a_fork_in_the_checkpoints_of_one_receipt_is_reported() {
    // Two histories under one notary key: the same registrations, but the
    // department named differently, so the trees differ from size 1 on.
    let mut honest = new_log(0x11, ORIGIN);
    let mut forked = new_log(0x11, ORIGIN);
    with_provider(&mut honest);
    let other = renamed_provider();
    let forked_out = forked
        .log
        .append(&[other, department_key("gd.rst", &key(0x33))], T0 + 100)
        .unwrap();
    let forked_registration = receipt(forked_out.into_iter().next().unwrap());

    let entry = signed(ORIGIN, "gd.rst", &key(0x33), "catalog_entry", T0, CATALOG);
    let mut r = receipt(honest.log.append(&[entry], T0 + 200).unwrap().remove(0));
    r.verify(&honest.policy).unwrap();
    // Swap in the other history's receipt of entry 0: its checkpoint (size
    // 2, the size of the batch that appended it) differs from the honest one.
    let i = r.evidence.iter().position(|e| e.index == 0).unwrap();
    r.evidence[i] = Arc::new(EvidenceReceipt::new(forked_registration).unwrap());
    let honest_size_2 = r.evidence.iter().find(|e| e.index == 1).unwrap();
    assert_ne!(
        ledger::tlog_proof::TlogProof::parse(&honest_size_2.proof)
            .unwrap()
            .checkpoint,
        ledger::tlog_proof::TlogProof::parse(&r.evidence[i].proof)
            .unwrap()
            .checkpoint
    );
    match r.verify(&honest.policy) {
        Err(ReceiptError::Fork { size: 2, .. }) => {}
        other => panic!("the fork went unreported: {other:?}"),
    }
}

#[test]
fn two_receipts_of_one_entry_are_a_fork_or_a_malformed_receipt() {
    let mut honest = new_log(0x11, ORIGIN);
    let mut forked = new_log(0x11, ORIGIN);
    with_provider(&mut honest);
    let other = renamed_provider();
    // In the other history, entry 0 is appended alone (a checkpoint of size 1).
    let forked_0 = receipt(forked.log.append(&[other], T0 + 100).unwrap().remove(0));
    let entry = signed(ORIGIN, "gd.rst", &key(0x33), "catalog_entry", T0, CATALOG);
    let r = receipt(honest.log.append(&[entry], T0 + 200).unwrap().remove(0));

    // Entry 0 as the honest log has it, and as the other history has it.
    let mut two_histories = r.clone();
    two_histories
        .evidence
        .push(Arc::new(EvidenceReceipt::new(forked_0).unwrap()));
    match two_histories.verify(&honest.policy) {
        Err(ReceiptError::ForkedEntry { index: 0 }) => {}
        other => panic!("two entries at index 0 went unreported: {other:?}"),
    }
    // The same evidence twice is no fork, but no receipt either.
    let mut twice = r.clone();
    twice.evidence.push(twice.evidence[0].clone());
    match twice.verify(&honest.policy) {
        Err(ReceiptError::DuplicateEvidence { .. }) => {}
        other => panic!("duplicate evidence accepted: {other:?}"),
    }
    r.verify(&honest.policy).unwrap();
}

/// Signs `statement` as Ed25519 does, but with a random nonce: another
/// valid signature of the same statement.
fn sign_with_random_nonce(k: &SigningKey, statement: &[u8]) -> [u8; 64] {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    let secret = ed25519_dalek::hazmat::ExpandedSecretKey::from(&k.to_bytes());
    let r = Scalar::from_bytes_mod_order(rand::random::<[u8; 32]>());
    let big_r = (r * B).compress().to_bytes();
    let challenge = Scalar::from_hash(
        Sha512::new()
            .chain_update(big_r)
            .chain_update(k.verifying_key().as_bytes())
            .chain_update(ledger::attestation::CONTEXT)
            .chain_update(statement),
    );
    let big_s = r + challenge * secret.scalar;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(big_s.as_bytes());
    sig
}

#[test]
fn a_receipt_holds_its_statement_under_the_signature_notarised_first() {
    let mut t = new_log(0x11, ORIGIN);
    with_provider(&mut t);
    let first = signed(ORIGIN, "gd.rst", &key(0x33), "catalog_entry", T0, CATALOG);
    let r = receipt(
        t.log
            .append(std::slice::from_ref(&first), T0 + 200)
            .unwrap()
            .remove(0),
    );
    assert_eq!(r.check_holds(&first.attestation).unwrap(), Holds::Same);

    // The same statement with another valid signature: its receipt is the
    // entry notarised first.
    let mut second = first.attestation.clone();
    second.signature = sign_with_random_nonce(&key(0x33), &second.statement);
    assert_ne!(second.signature, first.attestation.signature);
    Submission::parse(second.clone())
        .unwrap()
        .verify_signature()
        .unwrap();
    assert_eq!(r.check_holds(&second).unwrap(), Holds::OtherSignature);

    // Another statement is not held.
    let mut other = first.attestation.clone();
    other.statement = CATALOG.replace("rst/x", "rst/y").into_bytes();
    assert!(matches!(
        r.check_holds(&other),
        Err(ReceiptError::OtherAttestation { .. })
    ));

    // An entry whose own signature is bad does not hold the statement, even
    // with a consistent leaf hash and proof (the log is not trusted to
    // have checked it).
    let mut bad = signed(
        ORIGIN,
        "gd.rst",
        &key(0x33),
        "catalog_entry",
        T0 + 1,
        CATALOG,
    );
    bad.attestation.signature[0] ^= 1;
    let forged = receipt(
        t.log
            .append(std::slice::from_ref(&bad), T0 + 300)
            .unwrap()
            .remove(0),
    );
    let mut honest = bad.attestation.clone();
    honest.signature[0] ^= 1;
    assert!(matches!(
        forged.check_holds(&honest),
        Err(ReceiptError::Entry { .. })
    ));
}

#[test]
fn a_rotated_key_signs_until_its_successor_begins() {
    let mut t = new_log(0x11, ORIGIN);
    with_provider(&mut t);
    let (old, new) = (key(0x33), key(0x34));
    let entry = |k: &SigningKey, item: &str| {
        signed(
            ORIGIN,
            "gd.rst",
            k,
            "catalog_entry",
            T0,
            &CATALOG.replace("rst/x", item),
        )
    };
    let rotation = |replaces: &SigningKey, k: u8, dept: &str| {
        root_signed(
            "department_key",
            &format!(
                r#"{{"department":"{dept}","key":"{}","replaces":"{}"}}"#,
                b64key(&key(k)),
                b64key(replaces)
            ),
        )
    };
    let out = t
        .log
        .append(
            &[
                entry(&old, "rst/a"),
                department("gd.other", r#"["provider"]"#),
                rotation(&key(0x50), 0x35, "gd.rst"),
                rotation(&old, 0x36, "gd.other"),
                rotation(&old, 0x34, "gd.rst"),
                entry(&old, "rst/b"),
                entry(&new, "rst/c"),
            ],
            T0 + 200,
        )
        .unwrap();
    let before = receipt(out[0].clone());
    assert_eq!(refusal(&out[2]).code(), "unknown_key");
    assert_eq!(refusal(&out[3]).code(), "key_of_other_department");
    let rotated = receipt(out[4].clone());
    // Its evidence: the department, then the key it replaces.
    let cited: Vec<u64> = rotated.evidence.iter().map(|e| e.index).collect();
    assert_eq!(cited, vec![0, 1]);
    assert_eq!(refusal(&out[5]).code(), "key_expired");
    let after = receipt(out[6].clone());
    for r in [&before, &rotated, &after] {
        r.verify(&t.policy).unwrap();
    }
    // A revoked key is not rotated out again.
    let out = t
        .log
        .append(
            &[
                root_signed(
                    "key_revocation",
                    &format!(
                        r#"{{"department":"gd.rst","key":"{}","reason":"轮换后停用"}}"#,
                        b64key(&old)
                    ),
                ),
                rotation(&old, 0x37, "gd.rst"),
            ],
            T0 + 300,
        )
        .unwrap();
    assert!(matches!(out[0], Outcome::Appended(..)));
    assert_eq!(refusal(&out[1]).code(), "key_already_revoked");
}

#[test]
fn a_compromise_is_declared_at_or_before_the_revocation() {
    let mut t = new_log(0x11, ORIGIN);
    with_provider(&mut t);
    let revoke = |since: u64| {
        root_signed(
            "key_revocation",
            &format!(
                r#"{{"department":"gd.rst","key":"{}","reason":"泄露","compromised_since":{since}}}"#,
                b64key(&key(0x33))
            ),
        )
    };
    let time = T0 + 500;
    let out = t
        .log
        .append(&[revoke(time + 1), revoke(time)], time)
        .unwrap();
    assert_eq!(refusal(&out[0]).code(), "compromise_in_future");
    receipt(out[1].clone()).verify(&t.policy).unwrap();
}

#[test]
fn a_log_key_is_a_new_key_of_nobody_else() {
    let mut t = new_log(0x11, ORIGIN);
    with_provider(&mut t);
    let log_key = |k: &str| root_signed("log_key", &format!(r#"{{"key":"{k}"}}"#));
    let small_order = BASE64.encode([0u8; 32]);
    let out = t
        .log
        .append(
            &[
                log_key(&small_order),
                log_key(&b64key(&key(0x22))),
                log_key(&b64key(&key(0x33))),
                log_key(&b64key(&key(0x60))),
                department_key("gd.rst", &key(0x60)),
                signed(
                    ORIGIN,
                    "gd.rst",
                    &key(0x33),
                    "log_key",
                    T0,
                    &format!(r#"{{"key":"{}"}}"#, b64key(&key(0x61))),
                ),
            ],
            T0 + 200,
        )
        .unwrap();
    assert_eq!(refusal(&out[0]).code(), "weak_key");
    assert_eq!(refusal(&out[1]).code(), "reserved_for_root");
    assert_eq!(refusal(&out[2]).code(), "key_already_registered");
    receipt(out[3].clone()).verify(&t.policy).unwrap();
    assert_eq!(refusal(&out[4]).code(), "key_already_registered");
    assert_eq!(refusal(&out[5]).code(), "not_root");
}

#[test]
fn a_root_key_signs_only_within_its_range() {
    let notary = NoteSigner::new(ORIGIN, key(0x11)).unwrap();
    let old = NoteSigner::new(ROOT, key(0x22)).unwrap();
    let new = NoteSigner::new(ROOT, key(0x23)).unwrap();
    let policy = Policy::parse(&format!(
        "log {}\nroot {} until 2\nroot {} from 2\n",
        notary.verifier().encode(),
        old.verifier().encode(),
        new.verifier().encode()
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    Log::initialise(&store, &notary).unwrap();
    let mut log = Log::open(Arc::new(store), &policy, notary).unwrap();
    let by = |k: u8, id: &str| {
        signed(
            ORIGIN,
            ROOT,
            &key(k),
            "department",
            T0,
            &format!(
                r#"{{"id":"{id}","name":"部门","roles":["provider"],"jurisdiction":"广东省"}}"#
            ),
        )
    };
    let out = log
        .append(
            &[
                by(0x23, "gd.a"),
                by(0x22, "gd.b"),
                by(0x22, "gd.c"),
                by(0x22, "gd.d"),
                by(0x23, "gd.e"),
            ],
            T0 + 100,
        )
        .unwrap();
    // Entries 0 and 1 are the old key's; from entry 2 on, the new key's.
    assert_eq!(refusal(&out[0]).code(), "not_root");
    let first = receipt(out[1].clone());
    let second = receipt(out[2].clone());
    assert_eq!((first.index, second.index), (0, 1));
    assert_eq!(refusal(&out[3]).code(), "not_root");
    let third = receipt(out[4].clone());
    assert_eq!(third.index, 2);
    for r in [&first, &second, &third] {
        r.verify(&policy).unwrap();
    }
}
