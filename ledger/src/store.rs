//! The RocksDB log: entries, tree hashes, indexes, registry and checkpoints.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `entries` | index (u64 BE) | entry bytes |
//! | `nodes` | level (u8) ‖ index (u64 BE) | hash of the complete subtree |
//! | `leaves` | leaf hash | index (u64 BE) — the leaf-hash index |
//! | `statements` | SHA-256(statement) | index (u64 BE) — resubmission dedup |
//! | `evidence` | index | indexes (u64 BE each) the decision relied on |
//! | `checkpoints` | tree size (u64 BE) | signed checkpoint note |
//! | `state` | tag ‖ id | the registry: JSON record (see [`crate::registry::record`]) |
//! | `cases` | `e` ‖ kind ‖ len ‖ id ‖ index (u64 BE) | empty — the entries of each subject (a case, catalog change, dispute or return-flow request), for queries |
//! | `cases` | `d` ‖ len ‖ department ‖ kind ‖ id | index (u64 BE) of an entry of the subject that named the department or that it signed — the subjects each department takes part in |
//! | `default` | `tree` | size (u64 BE) ‖ last notarised time (u64 BE) |
//! | `default` | `indexed/v2` | size (u64 BE) up to which `cases` is complete |
//!
//! `cases` is an index, not part of the log: a store without it (or with it
//! behind the tree) has it rebuilt from the entries when the log is opened
//! ([`Store::catch_up_index`]).
//!
//! A whole batch — entries, hashes, indexes, registry records, the new checkpoint and
//! the tree size — is one `WriteBatch` written with `sync`, so after a crash
//! the store holds every acknowledged batch and nothing of any other.
//! Proofs read O(log n) stored hashes; the tree is never rebuilt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::attestation::{Id, Statement};
use crate::entry::Entry;
use crate::frontier::Frontier;
use crate::hashing::Hash;
use crate::lifecycle::{permitted_signer, subject_of, Signer, SubjectKind};
use crate::proof::{range_nodes, NodeId, NodeSource};
use crate::registry::{Change, Record, RecordKey, RegistryView, TrustRoots};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode,
    MemtableFactory, Options, SliceTransform, WriteBatch, WriteOptions, DB,
};

const CF_ENTRIES: &str = "entries";
const CF_NODES: &str = "nodes";
const CF_LEAVES: &str = "leaves";
const CF_STATEMENTS: &str = "statements";
const CF_EVIDENCE: &str = "evidence";
const CF_CHECKPOINTS: &str = "checkpoints";
/// The registry's records (its on-disk name predates the module's).
const CF_REGISTRY: &str = "state";
const CF_CASES: &str = "cases";
const TREE_KEY: &[u8] = b"tree";
const INDEXED_KEY: &[u8] = b"indexed/v2";
/// The marker of the first layout of `cases` (cases only), replaced.
const INDEXED_V1_KEY: &[u8] = b"indexed";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("RocksDB: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    #[error("store is not initialised (run `notary init`)")]
    NotInitialised,
    #[error("store is already initialised")]
    AlreadyInitialised,
    #[error("store is being reopened after a failed write")]
    Unavailable,
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// Size and time of the tree as last committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeState {
    pub size: u64,
    /// Notarised time of the newest entry (ms); entries never go back in time.
    pub last_time: u64,
}

/// Everything one append batch writes, applied atomically by [`Store::commit`].
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// New entries from `first_index` on, with their leaf hash and statement digest.
    pub entries: Vec<(Vec<u8>, Hash, [u8; 32])>,
    pub evidence: Vec<Vec<u64>>,
    pub nodes: Vec<(NodeId, Hash)>,
    pub changes: Vec<Change>,
    pub first_index: u64,
    pub tree: Option<TreeState>,
    /// The signed checkpoint for the new tree size.
    pub checkpoint: Option<(u64, String)>,
    /// Keys and values of the `cases` index for the new entries ([`index_keys`]).
    pub index: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A length-prefixed id, so that one id's keys never run into another's.
fn id_bytes(out: &mut Vec<u8>, id: &Id) {
    let bytes = id.as_str().as_bytes();
    out.push(u8::try_from(bytes.len()).expect("identifiers are at most 128 bytes"));
    out.extend_from_slice(bytes);
}

fn kind_tag(kind: SubjectKind) -> u8 {
    match kind {
        SubjectKind::Case => b'c',
        SubjectKind::CatalogChange => b'g',
        SubjectKind::Dispute => b'p',
        SubjectKind::ReturnFlowRequest => b'r',
    }
}

fn subject_prefix(kind: SubjectKind, id: &Id) -> Vec<u8> {
    let mut k = vec![b'e', kind_tag(kind)];
    id_bytes(&mut k, id);
    k
}

fn department_prefix(department: &Id) -> Vec<u8> {
    let mut k = vec![b'd'];
    id_bytes(&mut k, department);
    k
}

/// The keys and values of the `cases` index for entry `index`: the entry
/// under its subject, and the subject under its signer and each department
/// the entry makes a party to it (a supervisor that extends a deadline is
/// found by its findings too).
pub fn index_keys(statement: &Statement, index: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let Some((kind, id, mut parties)) = subject_of(&statement.body) else {
        return vec![];
    };
    let mut entry = subject_prefix(kind, id);
    entry.extend_from_slice(&index.to_be_bytes());
    let mut keys = vec![(entry, vec![])];
    // A step only a case's own party signs adds no one: its signer is
    // filed already (one key fewer for most entries).
    if !matches!(
        permitted_signer(&statement.body),
        Signer::CaseProvider(_) | Signer::CaseRequester(_)
    ) {
        parties.push(&statement.signer.department);
    }
    for party in parties {
        let mut k = department_prefix(party);
        k.push(kind_tag(kind));
        id_bytes(&mut k, id);
        keys.push((k, index.to_be_bytes().to_vec()));
    }
    keys
}

pub struct Store {
    path: PathBuf,
    /// `None` only while the database is being reopened (see [`Store::reopen`]).
    db: RwLock<Option<Arc<DB>>>,
    /// Every node at level [`UPPER_LEVEL`] or above, in memory: there are
    /// only n/128 of them, and they are most of the hashes of every proof,
    /// so proofs cost the same few reads whatever the size of the log.
    upper: RwLock<HashMap<NodeId, Hash>>,
}

/// Nodes at this level and above are kept in memory (see [`Store`]).
pub const UPPER_LEVEL: u8 = 8;

fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).expect("column family created at open")
}

fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn node_key(id: NodeId) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = id.level;
    k[1..].copy_from_slice(&id.index.to_be_bytes());
    k
}

fn read_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("u64 value is not 8 bytes"))
}

impl Store {
    /// Opens (creating if missing) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::with_db(path, open_db(path, false)?)
    }

    /// Opens the store at `path` read-only: what was durably written when it
    /// opened, while a notary may go on writing it (a read-only instance
    /// takes no lock). For `notary export`.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.join("CURRENT").is_file() {
            return Err(StoreError::NotInitialised);
        }
        Store::with_db(path, open_db(path, true)?)
    }

    fn with_db(path: &Path, db: DB) -> Result<Store, StoreError> {
        let upper = load_upper(&db)?;
        Ok(Store {
            path: path.to_owned(),
            db: RwLock::new(Some(Arc::new(db))),
            upper: RwLock::new(upper),
        })
    }

    /// Closes and reopens the database. RocksDB stops taking writes after a
    /// failed write (for instance when the disk was full) until it is
    /// reopened; reopening replays the write-ahead log, so the store is then
    /// exactly what was durably written. Readers see `Unavailable` meanwhile.
    pub fn reopen(&self) -> Result<(), StoreError> {
        let old = self.db.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(old) = old {
            // Wait for in-flight reads to drop their handles: RocksDB allows
            // one open instance per directory.
            let weak = Arc::downgrade(&old);
            drop(old);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while weak.strong_count() > 0 {
                if std::time::Instant::now() > deadline {
                    return Err(StoreError::Unavailable);
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let db = open_db(&self.path, false)?;
        *self.upper.write().unwrap_or_else(|p| p.into_inner()) = load_upper(&db)?;
        *self.db.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(db));
        Ok(())
    }

    /// The directory of the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<Arc<DB>, StoreError> {
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Unavailable)
    }
}

/// Reads every stored node at [`UPPER_LEVEL`] or above.
fn load_upper(db: &DB) -> Result<HashMap<NodeId, Hash>, StoreError> {
    let mut upper = HashMap::new();
    let start = node_key(NodeId::new(UPPER_LEVEL, 0));
    for item in db.iterator_cf(
        cf(db, CF_NODES),
        IteratorMode::From(&start, Direction::Forward),
    ) {
        let (k, v) = item?;
        let id = NodeId::new(k[0], read_u64(&k[1..])?);
        upper.insert(
            id,
            Hash::from_slice(&v).map_err(|_| corrupt("node is not 32 bytes"))?,
        );
    }
    Ok(upper)
}

/// Buckets of each hash memtable (8 bytes each). The memtables of all
/// families share one 128 MiB budget, so one of digests is flushed at a few
/// hundred thousand keys: a few per bucket.
const HASH_MEMTABLE_BUCKETS: usize = 1 << 16;

fn open_db(path: &Path, read_only: bool) -> Result<DB, StoreError> {
    let cache = Cache::new_lru_cache(256 << 20);
    let cf = |name: &str, compress: bool, bloom: bool| {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        if bloom {
            table.set_bloom_filter(10.0, false);
        }
        let mut o = Options::default();
        o.set_block_based_table_factory(&table);
        if name == CF_LEAVES || name == CF_STATEMENTS {
            // Keys are SHA-256 digests, only ever looked up whole: a hash
            // memtable inserts and finds one in constant time, where the
            // default skip list pays a search through a random position
            // for each (a third of the writer's CPU per entry, and a fifth
            // of the sequencer's; docs/performance.md). The prefix is the
            // whole key (always 32 bytes: `Hash` and `[u8; 32]` by type);
            // nothing iterates these families (an iterator would need
            // `total_order_seek`).
            o.set_prefix_extractor(SliceTransform::create_fixed_prefix(32));
            o.set_memtable_factory(MemtableFactory::HashLinkList {
                bucket_count: HASH_MEMTABLE_BUCKETS,
            });
        }
        o.set_compression_type(if compress {
            DBCompressionType::Lz4
        } else {
            DBCompressionType::None
        });
        ColumnFamilyDescriptor::new(name, o)
    };
    let cfs = vec![
        cf(CF_ENTRIES, true, false),
        // Hashes are incompressible; nodes are read by key and scanned for tiles.
        cf(CF_NODES, false, true),
        cf(CF_LEAVES, false, true),
        cf(CF_STATEMENTS, false, true),
        cf(CF_EVIDENCE, true, false),
        cf(CF_CHECKPOINTS, true, false),
        cf(CF_REGISTRY, true, true),
        cf(CF_CASES, true, false),
    ];
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_background_jobs(2);
    // Hash memtables take one writer at a time, which is all there is.
    opts.set_allow_concurrent_memtable_write(false);
    opts.set_bytes_per_sync(1 << 20);
    // One budget for the memtables of all column families, so memory does not
    // grow with their number.
    opts.set_db_write_buffer_size(128 << 20);
    if read_only {
        opts.create_if_missing(false);
        opts.create_missing_column_families(false);
        return Ok(DB::open_cf_descriptors_read_only(&opts, path, cfs, false)?);
    }
    Ok(DB::open_cf_descriptors(&opts, path, cfs)?)
}

impl Store {
    fn get(&self, name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let value = db.get_pinned_cf(cf(&db, name), key)?.map(|v| v.to_vec());
        Ok(value)
    }

    pub fn tree(&self) -> Result<Option<TreeState>, StoreError> {
        let db = self.db()?;
        let value = db.get_pinned(TREE_KEY)?;
        match value {
            None => Ok(None),
            Some(v) if v.len() == 16 => Ok(Some(TreeState {
                size: read_u64(&v[..8])?,
                last_time: read_u64(&v[8..])?,
            })),
            Some(_) => Err(corrupt("tree state is not 16 bytes")),
        }
    }

    /// Writes the empty tree and its signed checkpoint; refuses a store that has a tree.
    pub fn initialise(&self, empty_checkpoint: String) -> Result<(), StoreError> {
        if self.tree()?.is_some() {
            return Err(StoreError::AlreadyInitialised);
        }
        self.commit(&CommitBatch {
            tree: Some(TreeState {
                size: 0,
                last_time: 0,
            }),
            checkpoint: Some((0, empty_checkpoint)),
            ..CommitBatch::default()
        })
    }

    /// Reads the right edge of the committed tree, and checks it against the
    /// newest checkpoint's root.
    pub fn frontier(&self, tree: TreeState) -> Result<Frontier, StoreError> {
        let hashes = self.nodes(&range_nodes(0, tree.size))?;
        Frontier::from_parts(tree.size, hashes).map_err(|e| corrupt(e.to_string()))
    }

    /// Applies a batch atomically and durably (one `WriteBatch`, `sync`).
    pub fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let db = self.db()?;
        let cf = |name| cf(&db, name);
        let mut wb = WriteBatch::default();
        for (i, (entry, leaf, digest)) in batch.entries.iter().enumerate() {
            let index = batch.first_index + i as u64;
            wb.put_cf(cf(CF_ENTRIES), u64_key(index), entry);
            wb.put_cf(cf(CF_LEAVES), leaf.0, u64_key(index));
            wb.put_cf(cf(CF_STATEMENTS), digest, u64_key(index));
        }
        for (i, ev) in batch.evidence.iter().enumerate() {
            let index = batch.first_index + i as u64;
            let bytes: Vec<u8> = ev.iter().flat_map(|n| n.to_be_bytes()).collect();
            wb.put_cf(cf(CF_EVIDENCE), u64_key(index), bytes);
        }
        for (id, h) in &batch.nodes {
            wb.put_cf(cf(CF_NODES), node_key(*id), h.0);
        }
        for change in &batch.changes {
            let value = change.record().to_json();
            wb.put_cf(cf(CF_REGISTRY), change.key().to_bytes(), value);
        }
        if let Some((size, note)) = &batch.checkpoint {
            wb.put_cf(cf(CF_CHECKPOINTS), u64_key(*size), note.as_bytes());
        }
        for (key, value) in &batch.index {
            wb.put_cf(cf(CF_CASES), key, value);
        }
        if let Some(t) = batch.tree {
            let mut v = [0u8; 16];
            v[..8].copy_from_slice(&t.size.to_be_bytes());
            v[8..].copy_from_slice(&t.last_time.to_be_bytes());
            wb.put(TREE_KEY, v);
            // Every commit after the index caught up keeps it complete.
            wb.put(INDEXED_KEY, u64_key(t.size));
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        db.write_opt(wb, &opts)?;
        let mut upper = self.upper.write().unwrap_or_else(|p| p.into_inner());
        upper.extend(
            batch
                .nodes
                .iter()
                .filter(|(id, _)| id.level >= UPPER_LEVEL)
                .copied(),
        );
        Ok(())
    }

    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(CF_ENTRIES, &u64_key(index))
    }

    /// Entries `[start, end)`, in order.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let db = self.db()?;
        let iter = db.iterator_cf(
            cf(&db, CF_ENTRIES),
            IteratorMode::From(&u64_key(start), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            let index = read_u64(&k)?;
            if index >= end {
                break;
            }
            if index != start + out.len() as u64 {
                return Err(corrupt(format!(
                    "entry {} missing",
                    start + out.len() as u64
                )));
            }
            out.push(v.to_vec());
        }
        Ok(out)
    }

    /// The index of an entry whose statement has this SHA-256 digest.
    pub fn statement_index(&self, digest: &[u8; 32]) -> Result<Option<u64>, StoreError> {
        self.get(CF_STATEMENTS, digest)?
            .map(|v| read_u64(&v))
            .transpose()
    }

    /// The index of the entry with this leaf hash.
    pub fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        self.get(CF_LEAVES, &leaf.0)?
            .map(|v| read_u64(&v))
            .transpose()
    }

    pub fn evidence(&self, index: u64) -> Result<Vec<u64>, StoreError> {
        let v = self.get(CF_EVIDENCE, &u64_key(index))?.unwrap_or_default();
        v.chunks(8).map(read_u64).collect()
    }

    pub fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        self.get(CF_CHECKPOINTS, &u64_key(size))?
            .map(|v| String::from_utf8(v).map_err(|_| corrupt("checkpoint is not UTF-8")))
            .transpose()
    }

    /// The first checkpoint at or after `size`: for an entry at `index`,
    /// `size = index + 1` gives the checkpoint of the batch that appended it.
    pub fn checkpoint_from(&self, size: u64) -> Result<Option<(u64, String)>, StoreError> {
        self.checkpoint_seek(size, Direction::Forward)
    }

    /// Every stored checkpoint of size `from` to `to` (inclusive), in
    /// increasing size, each given to `each` as it is read.
    pub fn each_checkpoint<E: From<StoreError>>(
        &self,
        from: u64,
        to: u64,
        mut each: impl FnMut(u64, String) -> Result<(), E>,
    ) -> Result<(), E> {
        let db = self.db()?;
        for item in db.iterator_cf(
            cf(&db, CF_CHECKPOINTS),
            IteratorMode::From(&u64_key(from), Direction::Forward),
        ) {
            let (k, v) = item.map_err(StoreError::from)?;
            let size = read_u64(&k)?;
            if size > to {
                break;
            }
            let note =
                String::from_utf8(v.to_vec()).map_err(|_| corrupt("checkpoint is not UTF-8"))?;
            each(size, note)?;
        }
        Ok(())
    }

    /// The newest checkpoint of size at most `size`.
    pub fn checkpoint_at_most(&self, size: u64) -> Result<Option<(u64, String)>, StoreError> {
        self.checkpoint_seek(size, Direction::Reverse)
    }

    /// The first stored checkpoint from `size` on, in `direction`.
    fn checkpoint_seek(
        &self,
        size: u64,
        direction: Direction,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let db = self.db()?;
        let mut iter = db.iterator_cf(
            cf(&db, CF_CHECKPOINTS),
            IteratorMode::From(&u64_key(size), direction),
        );
        match iter.next() {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item?;
                let note = String::from_utf8(v.to_vec())
                    .map_err(|_| corrupt("checkpoint is not UTF-8"))?;
                Ok(Some((read_u64(&k)?, note)))
            }
        }
    }

    /// The newest signed checkpoint.
    pub fn latest_checkpoint(&self) -> Result<(u64, String), StoreError> {
        let db = self.db()?;
        let mut iter = db.iterator_cf(cf(&db, CF_CHECKPOINTS), IteratorMode::End);
        let (k, v) = iter.next().ok_or(StoreError::NotInitialised)??;
        let note = String::from_utf8(v.to_vec()).map_err(|_| corrupt("checkpoint is not UTF-8"))?;
        Ok((read_u64(&k)?, note))
    }

    /// Hashes of complete subtrees: upper levels from memory, the rest in
    /// one batched read.
    pub fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let mut out = vec![Hash([0; 32]); ids.len()];
        let mut lower = Vec::with_capacity(ids.len());
        {
            let upper = self.upper.read().unwrap_or_else(|p| p.into_inner());
            for (i, id) in ids.iter().enumerate() {
                match upper.get(id) {
                    Some(h) => out[i] = *h,
                    None => lower.push(i),
                }
            }
        }
        if lower.is_empty() {
            return Ok(out);
        }
        let keys: Vec<[u8; 9]> = lower.iter().map(|&i| node_key(ids[i])).collect();
        let db = self.db()?;
        let values = db.batched_multi_get_cf(cf(&db, CF_NODES), keys.iter(), false);
        for (&i, v) in lower.iter().zip(values) {
            let id = ids[i];
            out[i] = match v? {
                Some(bytes) => Hash::from_slice(&bytes)
                    .map_err(|_| corrupt(format!("node {id:?} is not 32 bytes")))?,
                None => return Err(corrupt(format!("node {id:?} is missing"))),
            };
        }
        Ok(out)
    }

    /// `count` consecutive hashes at `level` from `start`, for tiles: one
    /// range scan over keys that sort together.
    pub fn node_run(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let db = self.db()?;
        let from = node_key(NodeId::new(level, start));
        let mut out = Vec::with_capacity(count as usize);
        for item in db.iterator_cf(
            cf(&db, CF_NODES),
            IteratorMode::From(&from, Direction::Forward),
        ) {
            if out.len() as u64 == count {
                break;
            }
            let (k, v) = item?;
            let expected = node_key(NodeId::new(level, start + out.len() as u64));
            if *k != expected {
                return Err(corrupt(format!(
                    "node {} at level {level} is missing",
                    start + out.len() as u64
                )));
            }
            out.push(Hash::from_slice(&v).map_err(|_| corrupt("node is not 32 bytes"))?);
        }
        if out.len() as u64 != count {
            return Err(corrupt(format!(
                "level {level} ends before {}",
                start + count
            )));
        }
        Ok(out)
    }

    /// The registry record under `key`, as committed.
    pub fn record(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.get(CF_REGISTRY, &key.to_bytes())?
            .map(|v| Record::from_json(key, &v).map_err(|e| corrupt(e.to_string())))
            .transpose()
    }

    /// The indexes of a subject's entries, in order.
    pub fn subject_entries(&self, kind: SubjectKind, id: &Id) -> Result<Vec<u64>, StoreError> {
        self.scan_cases(&subject_prefix(kind, id), |key, _| read_u64(key))
    }

    /// The subjects a department takes part in (signed an entry of, or was
    /// named by one: for a case, its provider and requester), each with an
    /// entry of it, by kind and id.
    pub fn department_subjects(
        &self,
        department: &Id,
    ) -> Result<Vec<(SubjectKind, Id, u64)>, StoreError> {
        self.scan_cases(&department_prefix(department), |key, value| {
            let bad = || corrupt("a subject in the index is malformed");
            let (&tag, rest) = key.split_first().ok_or_else(bad)?;
            let kind = SubjectKind::ALL
                .into_iter()
                .find(|k| kind_tag(*k) == tag)
                .ok_or_else(bad)?;
            let id = rest
                .split_first()
                .and_then(|(_, id)| std::str::from_utf8(id).ok())
                .and_then(|s| Id::try_from(s.to_owned()).ok())
                .ok_or_else(bad)?;
            Ok((kind, id, read_u64(value)?))
        })
    }

    fn scan_cases<T>(
        &self,
        prefix: &[u8],
        mut item: impl FnMut(&[u8], &[u8]) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        for kv in db.iterator_cf(
            cf(&db, CF_CASES),
            IteratorMode::From(prefix, Direction::Forward),
        ) {
            let (k, v) = kv?;
            match k.strip_prefix(prefix) {
                Some(rest) => out.push(item(rest, &v)?),
                None => break,
            }
        }
        Ok(out)
    }

    /// Brings the `cases` index up to the committed tree, from the entries:
    /// for a store written before the index existed, or whose index was
    /// removed. Returns how many entries were indexed.
    pub fn catch_up_index(&self) -> Result<u64, StoreError> {
        let size = self.tree()?.map_or(0, |t| t.size);
        // An index of the first layout is dropped and built again.
        if self.get_default(INDEXED_V1_KEY)?.is_some() {
            self.forget_index()?;
        }
        let mut next = match self.get_default(INDEXED_KEY)? {
            Some(v) => read_u64(&v)?,
            None => 0,
        };
        let from = next;
        while next < size {
            let end = size.min(next + 4096);
            let mut wb = WriteBatch::default();
            let db = self.db()?;
            for (i, bytes) in self.entries(next, end)?.iter().enumerate() {
                let statement = Entry::parse(bytes)
                    .and_then(|e| e.parse_statement())
                    .map_err(|e| corrupt(format!("entry {}: {e}", next + i as u64)))?;
                for (key, value) in index_keys(&statement, next + i as u64) {
                    wb.put_cf(cf(&db, CF_CASES), key, value);
                }
            }
            wb.put(INDEXED_KEY, u64_key(end));
            db.write(wb)?;
            next = end;
        }
        Ok(size - from.min(size))
    }

    /// Drops the `cases` index; it is rebuilt when the log is next opened
    /// ([`Store::catch_up_index`]).
    pub fn forget_index(&self) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut wb = WriteBatch::default();
        for kv in db.iterator_cf(cf(&db, CF_CASES), IteratorMode::Start) {
            wb.delete_cf(cf(&db, CF_CASES), kv?.0);
        }
        wb.delete(INDEXED_KEY);
        wb.delete(INDEXED_V1_KEY);
        db.write(wb)?;
        Ok(())
    }

    fn get_default(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db()?.get(key)?)
    }

    /// The committed registry, with the policy's root keys.
    pub fn view<'a>(&'a self, roots: &'a TrustRoots) -> StoreView<'a> {
        StoreView { store: self, roots }
    }
}

impl NodeSource for Store {
    type Error = StoreError;
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        Store::nodes(self, ids)
    }
}

/// [`RegistryView`] over the committed registry.
pub struct StoreView<'a> {
    store: &'a Store,
    roots: &'a TrustRoots,
}

impl RegistryView for StoreView<'_> {
    type Error = StoreError;
    fn trust(&self) -> &TrustRoots {
        self.roots
    }
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.store.record(key)
    }
}
