//! What one committed batch leaves in the RocksDB store (the column
//! families of `store.rs`), read back before and after reopening; and the
//! store's refusals.

use ledger::attestation::{Id, PublicKey, Role};
use ledger::frontier::Frontier;
use ledger::hashing::{leaf_hash, sha256};
use ledger::registry::{Change, DepartmentRecord, KeyRecord, Record, RecordKey, Revocation};
use ledger::store::{CommitBatch, Store, StoreError, TreeState};

fn id(s: &str) -> Id {
    Id::try_from(s.to_owned()).unwrap()
}

/// Commits three entries (indexes 0..3) with records, evidence and a
/// checkpoint "note of size 3".
fn commit_three(store: &Store) -> (Vec<Vec<u8>>, Frontier) {
    let entries: Vec<Vec<u8>> = (0..3u8).map(|i| vec![b'e', i]).collect();
    let mut frontier = Frontier::empty();
    let mut commit = CommitBatch {
        first_index: 0,
        ..CommitBatch::default()
    };
    for (i, e) in entries.iter().enumerate() {
        let leaf = leaf_hash(e);
        frontier.push(leaf, |id, h| commit.nodes.push((id, h)));
        commit.entries.push((e.clone(), leaf, sha256(&[i as u8])));
        commit.evidence.push((0..i as u64).collect());
    }
    commit.changes = vec![
        Change::new(
            &id("gd.rst"),
            DepartmentRecord {
                name: "n".into(),
                roles: vec![Role::Provider],
                jurisdiction: "广东省".into(),
                index: 0,
            },
        ),
        Change::new(
            &PublicKey([7; 32]),
            KeyRecord {
                department: id("gd.rst"),
                valid_from: 5,
                valid_until: None,
                index: 1,
                revoked: Some(Revocation {
                    time: 9,
                    index: 2,
                    compromised_since: None,
                }),
            },
        ),
    ];
    commit.tree = Some(TreeState {
        size: 3,
        last_time: 42,
    });
    commit.checkpoint = Some((3, "note of size 3".into()));
    store.commit(&commit).unwrap();
    (entries, frontier)
}

fn check(store: &Store, entries: &[Vec<u8>], built: &Frontier) {
    assert_eq!(
        store.tree().unwrap(),
        Some(TreeState {
            size: 3,
            last_time: 42
        })
    );
    for (i, e) in entries.iter().enumerate() {
        let i = i as u64;
        assert_eq!(store.entry(i).unwrap().as_ref(), Some(e));
        assert_eq!(store.leaf_index(&leaf_hash(e)).unwrap(), Some(i));
        assert_eq!(store.statement_index(&sha256(&[i as u8])).unwrap(), Some(i));
        assert_eq!(store.evidence(i).unwrap(), (0..i).collect::<Vec<_>>());
    }
    assert_eq!(store.entry(3).unwrap(), None);
    assert_eq!(store.entries(1, 3).unwrap(), entries[1..].to_vec());
    assert_eq!(store.statement_index(&sha256(b"other")).unwrap(), None);
    assert_eq!(
        store.checkpoint(3).unwrap().as_deref(),
        Some("note of size 3")
    );
    assert_eq!(store.checkpoint(2).unwrap(), None);
    // The checkpoint of the batch that appended entry i is the first at or
    // after size i + 1: size 3 for each of the three.
    assert_eq!(
        store.checkpoint_from(1).unwrap(),
        Some((3, "note of size 3".to_owned()))
    );
    assert_eq!(store.checkpoint_from(4).unwrap(), None);
    assert_eq!(
        store.latest_checkpoint().unwrap(),
        (3, "note of size 3".to_owned())
    );
    let frontier = store.frontier(store.tree().unwrap().unwrap()).unwrap();
    assert_eq!(frontier.size(), 3);
    assert_eq!(frontier.root(), built.root());
    let record = store.record(&RecordKey::Key(PublicKey([7; 32]))).unwrap();
    match record {
        Some(Record::Key(k)) => assert_eq!(k.revoked.unwrap().index, 2),
        other => panic!("key record: {other:?}"),
    }
    assert!(matches!(
        store.record(&RecordKey::Department(id("gd.rst"))).unwrap(),
        Some(Record::Department(d)) if d.roles == [Role::Provider]
    ));
    assert_eq!(store.record(&RecordKey::Case(id("gd.rst"))).unwrap(), None);
}

#[test]
fn a_committed_batch_reads_back_whole_before_and_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.tree().unwrap(), None);
    assert!(matches!(
        store.latest_checkpoint(),
        Err(StoreError::NotInitialised)
    ));
    store.initialise("note of size 0".into()).unwrap();
    assert!(matches!(
        store.initialise("again".into()),
        Err(StoreError::AlreadyInitialised)
    ));
    let (entries, built) = commit_three(&store);
    check(&store, &entries, &built);
    store.reopen().unwrap();
    check(&store, &entries, &built);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    check(&store, &entries, &built);
    assert_eq!(
        store.checkpoint(0).unwrap().as_deref(),
        Some("note of size 0")
    );
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path()).unwrap();
    assert!(matches!(Store::open(dir.path()), Err(StoreError::Db(_))));
}

/// Stores written before the digest-keyed families got hash memtables
/// (skip lists everywhere, no prefix extractor) open and find their
/// digests: those flushed to table files and those still only in the
/// write-ahead log, which is replayed into the new memtables.
#[test]
fn a_store_written_with_skip_list_memtables_finds_its_digests() {
    let dir = tempfile::tempdir().unwrap();
    let flushed = (sha256(b"flushed"), leaf_hash(b"flushed"));
    let logged = (sha256(b"logged"), leaf_hash(b"logged"));
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let families = [
            "entries",
            "nodes",
            "leaves",
            "statements",
            "evidence",
            "checkpoints",
            "state",
            "cases",
        ];
        let db = rocksdb::DB::open_cf(&opts, dir.path(), families).unwrap();
        let put = |(digest, leaf): &([u8; 32], ledger::hashing::Hash), index: u64| {
            let statements = db.cf_handle("statements").unwrap();
            let leaves = db.cf_handle("leaves").unwrap();
            db.put_cf(statements, digest, index.to_be_bytes()).unwrap();
            db.put_cf(leaves, leaf.0, index.to_be_bytes()).unwrap();
        };
        put(&flushed, 7);
        for name in ["statements", "leaves"] {
            db.flush_cf(db.cf_handle(name).unwrap()).unwrap();
        }
        put(&logged, 8);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.statement_index(&flushed.0).unwrap(), Some(7));
    assert_eq!(store.leaf_index(&flushed.1).unwrap(), Some(7));
    assert_eq!(store.statement_index(&logged.0).unwrap(), Some(8));
    assert_eq!(store.leaf_index(&logged.1).unwrap(), Some(8));
    assert_eq!(store.statement_index(&sha256(b"absent")).unwrap(), None);
}
