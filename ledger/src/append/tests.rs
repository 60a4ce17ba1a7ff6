//! The append path on a real RocksDB store: prepare, write, finish, in
//! order and pipelined; duplicates; refusals; recovery.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;

use super::*;
use crate::attestation::SignedAttestation;
use crate::lifecycle::SubjectKind;
use crate::registry::RegistryView;

const ORIGIN: &str = "append.example.gov.cn/share-audit/2026";
const ROOT: &str = "gd.zsj.root";
const T: u64 = 1_764_201_600_000;

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

struct TestLog {
    log: Log,
    policy: Policy,
    _dir: tempfile::TempDir,
}

fn new_log() -> TestLog {
    let notary = NoteSigner::new(ORIGIN, key(0x11)).unwrap();
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

fn signed(dept: &str, signer: &SigningKey, kind: &str, body: &str) -> Submission {
    let statement = format!(
        r#"{{"version":1,"kind":"{kind}","log":"{ORIGIN}","signer":{{"department":"{dept}","key":"{}"}},"signed_at":{T},"body":{body}}}"#,
        BASE64.encode(signer.verifying_key().as_bytes())
    );
    Submission::parse(SignedAttestation::sign(statement.into_bytes(), signer)).unwrap()
}

fn department(id: &str) -> Submission {
    signed(
        ROOT,
        &key(0x22),
        "department",
        &format!(r#"{{"id":"{id}","name":"部门","roles":["provider"],"jurisdiction":"广东省"}}"#),
    )
}

fn department_key(id: &str, k: &SigningKey) -> Submission {
    signed(
        ROOT,
        &key(0x22),
        "department_key",
        &format!(
            r#"{{"department":"{id}","key":"{}"}}"#,
            BASE64.encode(k.verifying_key().as_bytes())
        ),
    )
}

fn catalog_entry(dept: &str, k: &SigningKey, item: &str) -> Submission {
    signed(
        dept,
        k,
        "catalog_entry",
        &format!(
            r#"{{"item":"{item}","name":"n","data_items":["a"],"format":"JSON","update_frequency":"每日","share_attribute":"unconditional","sharing_method":"service_interface","classification":"二级"}}"#
        ),
    )
}

fn appended(o: &Outcome) -> &Receipt {
    match o {
        Outcome::Appended(r, _) => r,
        other => panic!("expected an appended entry, got {other:?}"),
    }
}

fn duplicate(o: &Outcome) -> &Receipt {
    match o {
        Outcome::Duplicate(r, _) => r,
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

#[test]
fn pipelined_batches_decide_on_what_is_prepared_and_answer_once_written() {
    let mut t = new_log();
    let provider = key(0x33);
    // Batch A registers a provider; batch B, prepared before A is written,
    // is signed by it: B must see A's records in memory.
    let a = t
        .log
        .prepare(
            &[department("gd.rst"), department_key("gd.rst", &provider)],
            T,
        )
        .unwrap();
    let b = t
        .log
        .prepare(&[catalog_entry("gd.rst", &provider, "rst/x")], T + 1)
        .unwrap();
    assert_eq!(a.checkpoint().unwrap().0, 2);
    assert_eq!(b.checkpoint().unwrap().0, 3);
    // Nothing is shown as committed before it is written.
    assert_eq!(t.log.tree().size, 0);
    assert_eq!(t.log.records.borrow().unwritten_batches(), 2);

    a.commit(t.log.store()).unwrap();
    let out_a = t.log.finish(a).unwrap();
    assert_eq!(t.log.tree().size, 2);
    b.commit(t.log.store()).unwrap();
    let out_b = t.log.finish(b).unwrap();
    assert_eq!(t.log.tree().size, 3);
    assert_eq!(t.log.records.borrow().unwritten_batches(), 0);
    assert!(t.log.in_flight.is_empty());

    for o in out_a.iter().chain(&out_b) {
        appended(o).verify(&t.policy).unwrap();
    }
    let catalog = appended(&out_b[0]);
    assert_eq!(catalog.index, 2);
    let cited: Vec<u64> = catalog.evidence.iter().map(|e| e.index).collect();
    assert_eq!(cited, vec![0, 1]);
    // Evidence is each entry's original receipt: against the checkpoint of
    // its own batch (size 2), not the newest.
    assert_eq!(
        crate::tlog_proof::TlogProof::parse(&catalog.evidence[0].proof)
            .unwrap()
            .checkpoint,
        t.log.store().checkpoint(2).unwrap().unwrap()
    );
    // Both batches and their records are on disk.
    let view = t.log.store().view(&t.log.trust);
    assert_eq!(
        view.get::<crate::registry::ItemRecord>(&"rst/x".to_owned().try_into().unwrap())
            .unwrap()
            .unwrap()
            .index,
        2
    );
    assert_eq!(t.log.store().tree().unwrap().unwrap().size, 3);
}

#[test]
fn a_statement_is_appended_once() {
    let mut t = new_log();
    let dept = department("gd.rst");
    // Twice in one batch: appended, then its receipt again.
    let out = t.log.append(&[dept.clone(), dept.clone()], T).unwrap();
    assert_eq!(appended(&out[0]), duplicate(&out[1]));
    // In a batch prepared while the first is not written yet.
    let k = department_key("gd.rst", &key(0x33));
    let first = t.log.prepare(std::slice::from_ref(&k), T).unwrap();
    let second = t.log.prepare(&[k.clone(), dept.clone()], T).unwrap();
    assert!(
        second.checkpoint().is_none(),
        "the second batch appends nothing"
    );
    first.commit(t.log.store()).unwrap();
    let out_first = t.log.finish(first).unwrap();
    second.commit(t.log.store()).unwrap();
    let out_second = t.log.finish(second).unwrap();
    let original = appended(&out_first[0]);
    let again = duplicate(&out_second[0]);
    assert_eq!(
        (again.index, &again.entry),
        (original.index, &original.entry)
    );
    again.verify(&t.policy).unwrap();
    // Once written: against the newest committed checkpoint.
    let later = t.log.append(&[dept], T).unwrap();
    let later = duplicate(&later[0]);
    assert_eq!(later.index, 0);
    assert!(later.proof.contains(t.log.checkpoint()));
    assert_eq!(t.log.tree().size, 2);
}

#[test]
fn refusals_append_nothing_and_keep_nothing() {
    let mut t = new_log();
    t.log.append(&[department("gd.rst")], T).unwrap();
    let checkpoint = t.log.checkpoint().to_owned();
    // Departments nobody registered, each signing with a key of its own.
    let strangers: Vec<Submission> = (0..200u8)
        .map(|i| catalog_entry(&format!("gd.x{i}"), &key(i.wrapping_add(0x40)), "x/y"))
        .collect();
    let batch = t.log.prepare(&strangers, T + 1).unwrap();
    assert!(batch.checkpoint().is_none());
    batch.commit(t.log.store()).unwrap();
    let out = t.log.finish(batch).unwrap();
    assert!(out
        .iter()
        .all(|o| matches!(o, Outcome::Refused(r) if r.code() == "unknown_department")));
    assert_eq!(t.log.checkpoint(), checkpoint);
    assert_eq!(t.log.store().tree().unwrap().unwrap().size, 1);
    // The misses are not kept: only the one department read from the store
    // or written by a batch.
    assert!(t.log.records.borrow().len() <= 1);
}

#[test]
fn recovery_forgets_what_was_prepared_and_not_written() {
    let mut t = new_log();
    t.log.append(&[department("gd.rst")], T).unwrap();
    let lost = t
        .log
        .prepare(
            &[department_key("gd.rst", &key(0x33)), department("gd.gaj")],
            T + 1,
        )
        .unwrap();
    drop(lost); // its write failed, say
    t.log.recover().unwrap();
    assert_eq!(t.log.prepared.size(), 1);
    assert!(t.log.in_flight.is_empty());
    // The key registration is decided again, at the same index.
    let out = t
        .log
        .append(&[department_key("gd.rst", &key(0x33))], T + 2)
        .unwrap();
    assert_eq!(appended(&out[0]).index, 1);
    // and signs from then on; the department the lost batch registered
    // does not exist.
    let out = t
        .log
        .append(
            &[
                catalog_entry("gd.rst", &key(0x33), "rst/x"),
                department_key("gd.gaj", &key(0x34)),
            ],
            T + 3,
        )
        .unwrap();
    appended(&out[0]).verify(&t.policy).unwrap();
    assert!(matches!(&out[1], Outcome::Refused(r) if r.code() == "unknown_department"));
}

#[test]
fn notarised_time_never_decreases() {
    let mut t = new_log();
    t.log.append(&[department("gd.rst")], T + 1000).unwrap();
    // A batch sequenced with an earlier clock reading takes the last time.
    let out = t.log.append(&[department("gd.gaj")], T).unwrap();
    let entry = crate::entry::Entry::parse(&appended(&out[0]).entry).unwrap();
    assert_eq!(entry.time, T + 1000);
    assert_eq!(t.log.tree().last_time, T + 1000);
}

#[test]
fn a_stored_receipt_is_the_receipt_the_batch_answered() {
    let mut t = new_log();
    let provider = key(0x33);
    t.log
        .append(
            &[department("gd.rst"), department_key("gd.rst", &provider)],
            T,
        )
        .unwrap();
    let out = t
        .log
        .append(&[catalog_entry("gd.rst", &provider, "rst/x")], T + 1)
        .unwrap();
    let answered = appended(&out[0]);
    let head = (t.log.tree().size, t.log.checkpoint().to_owned());
    let stored = stored_receipt(
        t.log.store(),
        answered.index,
        (head.0, &head.1),
        &mut EvidenceCache::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(stored.to_json(), answered.to_json());
    assert_eq!(
        full_receipt(t.log.store(), answered.index)
            .unwrap()
            .as_ref(),
        Some(answered)
    );
    // Beyond the tree of the head: no receipt.
    let none = stored_receipt(
        t.log.store(),
        3,
        (head.0, &head.1),
        &mut EvidenceCache::default(),
    );
    assert_eq!(none.unwrap(), None);
    let smaller = stored_receipt(
        t.log.store(),
        2,
        (2, &head.1),
        &mut EvidenceCache::default(),
    );
    assert_eq!(smaller.unwrap(), None);
}

#[test]
fn the_case_index_is_written_with_each_batch_and_rebuilt_when_missing() {
    let mut t = new_log();
    let (provider, requester) = (key(0x33), key(0x44));
    let requester_dept = signed(
        ROOT,
        &key(0x22),
        "department",
        r#"{"id":"gd.gaj","name":"部门","roles":["requester"],"jurisdiction":"广东省"}"#,
    );
    let application = signed(
        "gd.gaj",
        &requester,
        "application",
        r#"{"case":"c1","item":"rst/x","provider":"gd.rst","data_items":["a"],"legal_basis":"l","use_scenario":"s","scope_of_use":"s","sharing_method":"service_interface","use_until":"2027-12-31","approved_by":"a","declaration":true}"#,
    );
    let approval = signed("gd.rst", &provider, "approval", r#"{"case":"c1"}"#);
    let batch = [
        department("gd.rst"),
        department_key("gd.rst", &provider),
        requester_dept,
        department_key("gd.gaj", &requester),
        catalog_entry("gd.rst", &provider, "rst/x"),
        application,
        approval,
    ];
    let p = t.log.prepare(&batch, T).unwrap();
    p.commit(t.log.store()).unwrap();
    for o in t.log.finish(p).unwrap() {
        appended(&o);
    }
    let id = |s: &str| crate::attestation::Id::try_from(s.to_owned()).unwrap();
    let expect = |store: &Store| {
        assert_eq!(
            store.subject_entries(SubjectKind::Case, &id("c1")).unwrap(),
            vec![5, 6]
        );
        // Both parties are filed by the application; the provider's
        // approval adds no one.
        for (party, latest) in [("gd.gaj", 5), ("gd.rst", 5)] {
            assert_eq!(
                store.department_subjects(&id(party)).unwrap(),
                vec![(SubjectKind::Case, id("c1"), latest)]
            );
        }
        assert_eq!(store.department_subjects(&id("gd.other")).unwrap(), vec![]);
    };
    expect(t.log.store());

    // An index lost (or a store written before it existed) is rebuilt
    // from the entries when the log is opened.
    let store = t.log.store().clone();
    store.forget_index().unwrap();
    assert_eq!(
        store.subject_entries(SubjectKind::Case, &id("c1")).unwrap(),
        Vec::<u64>::new()
    );
    let notary = NoteSigner::new(ORIGIN, key(0x11)).unwrap();
    drop(t.log);
    let log = Log::open(store, &t.policy, notary).unwrap();
    expect(log.store());
}
