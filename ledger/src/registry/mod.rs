//! The registry: what the log has established so far, as far as deciding on
//! a new entry needs (specs/lifecycle.md §State; the kinds of record are in
//! [`record`]).
//!
//! Every record carries the index of the entry that established it, so a
//! receipt can cite that entry as evidence. The notary reads records from
//! RocksDB, a verifier from the entries it replays; both decide through the
//! same [`RegistryView`] and [`Overlay`], so they cannot disagree.
//!
//! Records are handled generically, by [`RecordKey`]: the kinds themselves
//! are in [`record`], and only there.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::attestation::{Id, Origin, PublicKey, SignerRef};

pub mod record;

pub use record::*;

/// One record set by an accepted entry. Its key and record are of one kind
/// by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    key: RecordKey,
    record: Record,
}

impl Change {
    pub fn new<R: RecordKind>(name: &R::Name, record: R) -> Change {
        Change {
            key: R::key(name),
            record: record.into_record(),
        }
    }

    pub fn key(&self) -> &RecordKey {
        &self.key
    }

    pub fn record(&self) -> &Record {
        &self.record
    }

    pub fn into_parts(self) -> (RecordKey, Record) {
        (self.key, self.record)
    }
}

/// Read access to the registry as of some point of the log.
pub trait RegistryView {
    type Error;
    /// What the trust policy says: the log's origin and its root keys.
    fn trust(&self) -> &TrustRoots;
    /// The record under `key`, if there is one.
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, Self::Error>;

    /// The record of kind `R` named `name`: `view.get::<KeyRecord>(&key)`.
    fn get<R: RecordKind>(&self, name: &R::Name) -> Result<Option<R>, Self::Error> {
        Ok(self.record(&R::key(name))?.and_then(R::from_record))
    }
}

/// A set of records, one per name: what a run of entries established.
#[derive(Debug, Clone, Default)]
pub struct Records {
    records: HashMap<RecordKey, Record>,
}

impl Records {
    /// Sets one record (replacing the one of the same name).
    pub fn apply(&mut self, change: Change) {
        self.insert(change.key, change.record);
    }

    /// Sets a record read back under its own key (the store reads each
    /// record as the kind its key names).
    pub(crate) fn insert(&mut self, key: RecordKey, record: Record) {
        self.records.insert(key, record);
    }

    pub fn get(&self, key: &RecordKey) -> Option<&Record> {
        self.records.get(key)
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record, as the changes that set them.
    pub fn into_changes(self) -> impl Iterator<Item = Change> {
        self.records
            .into_iter()
            .map(|(key, record)| Change { key, record })
    }
}

/// Changes applied on top of a base view. The notary keeps one per batch
/// (later entries of a batch see earlier ones before anything is written);
/// a verifier keeps one over [`TrustRoots`] for everything it replays.
#[derive(Debug)]
pub struct Overlay<V> {
    base: V,
    records: Records,
}

impl<V: RegistryView> Overlay<V> {
    pub fn new(base: V) -> Overlay<V> {
        Overlay {
            base,
            records: Records::default(),
        }
    }

    pub fn apply(&mut self, change: Change) {
        self.records.apply(change);
    }

    /// Every record changed on top of the base.
    pub fn into_records(self) -> Records {
        self.records
    }
}

impl<V: RegistryView> RegistryView for Overlay<V> {
    type Error = V::Error;
    fn trust(&self) -> &TrustRoots {
        self.base.trust()
    }
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, V::Error> {
        match self.records.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.record(key),
        }
    }
}

/// The registry before the first entry: the log's origin and the policy's
/// root keys, no records.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    /// The origin of the log; every statement must name it.
    pub origin: Origin,
    /// The root keys, each with its name as the signer's department.
    pub roots: Vec<RootKey>,
}

/// A root key of the policy and the entries it may sign: index `from` on,
/// up to `until` if set (specs/policy.md §Root key rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKey {
    pub signer: SignerRef,
    pub from: u64,
    pub until: Option<u64>,
}

impl RootKey {
    /// A root key in force from the first entry on.
    pub fn always(signer: SignerRef) -> RootKey {
        RootKey {
            signer,
            from: 0,
            until: None,
        }
    }

    fn in_force_at(&self, index: u64) -> bool {
        self.from <= index && self.until.is_none_or(|u| index < u)
    }
}

impl TrustRoots {
    /// Whether `signer` is a root of the policy, its name and its key, in
    /// force at entry `index`.
    pub fn is_root_at(&self, signer: &SignerRef, index: u64) -> bool {
        self.roots
            .iter()
            .any(|r| &r.signer == signer && r.in_force_at(index))
    }

    /// Whether `key` is the key of a root, whatever name it is used under
    /// and whenever it is in force.
    pub fn is_root_key(&self, key: &PublicKey) -> bool {
        self.roots.iter().any(|r| &r.signer.key == key)
    }

    /// Whether `id` is the name of a root.
    pub fn is_root_name(&self, id: &Id) -> bool {
        self.roots.iter().any(|r| &r.signer.department == id)
    }
}

impl RegistryView for TrustRoots {
    type Error = Infallible;
    fn trust(&self) -> &TrustRoots {
        self
    }
    fn record(&self, _: &RecordKey) -> Result<Option<Record>, Infallible> {
        Ok(None)
    }
}

impl<V: RegistryView> RegistryView for &V {
    type Error = V::Error;
    fn trust(&self) -> &TrustRoots {
        (*self).trust()
    }
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, V::Error> {
        (*self).record(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::{Role, ShareAttribute};

    fn id(s: &str) -> Id {
        Id::try_from(s.to_owned()).unwrap()
    }

    fn department(index: u64) -> DepartmentRecord {
        DepartmentRecord {
            name: "部门".into(),
            roles: vec![Role::Provider],
            jurisdiction: String::new(),
            index,
        }
    }

    fn roots() -> TrustRoots {
        TrustRoots {
            origin: Origin::try_from("example.gov.cn/log".to_owned()).unwrap(),
            roots: vec![RootKey::always(SignerRef {
                department: id("gd.root"),
                key: PublicKey([9; 32]),
            })],
        }
    }

    fn item(index: u64) -> ItemRecord {
        ItemRecord {
            provider: id("gd.rst"),
            share_attribute: ShareAttribute::Conditional,
            index,
        }
    }

    fn case(index: u64) -> CaseRecord {
        CaseRecord {
            requester: id("gd.gaj"),
            provider: id("gd.rst"),
            item: id("rst/x"),
            index,
            reply: None,
            third_parties: vec![],
        }
    }

    #[test]
    fn records_of_different_kinds_under_one_name_are_apart() {
        let mut view = Overlay::new(roots());
        view.apply(Change::new(&id("x"), department(1)));
        view.apply(Change::new(&id("x"), item(2)));
        view.apply(Change::new(&id("x"), case(3)));
        assert_eq!(
            view.get::<DepartmentRecord>(&id("x")).unwrap(),
            Some(department(1))
        );
        assert_eq!(view.get::<ItemRecord>(&id("x")).unwrap(), Some(item(2)));
        assert_eq!(view.get::<CaseRecord>(&id("x")).unwrap(), Some(case(3)));
        assert_eq!(view.get::<DepartmentRecord>(&id("y")).unwrap(), None);
        assert_eq!(view.into_records().len(), 3);
    }

    #[test]
    fn the_overlay_shadows_its_base_and_the_newest_change_wins() {
        let mut below = Overlay::new(roots());
        below.apply(Change::new(&id("gd.rst"), department(1)));
        below.apply(Change::new(&id("rst/x"), item(2)));
        let mut above = Overlay::new(&below);
        above.apply(Change::new(&id("gd.rst"), department(5)));
        above.apply(Change::new(&id("gd.rst"), department(7)));
        let rst = id("gd.rst");
        assert_eq!(
            above.get::<DepartmentRecord>(&rst).unwrap(),
            Some(department(7))
        );
        assert_eq!(
            below.get::<DepartmentRecord>(&rst).unwrap(),
            Some(department(1))
        );
        assert_eq!(
            above.get::<ItemRecord>(&id("rst/x")).unwrap(),
            Some(item(2))
        );
        assert!(above.trust().is_root_name(&id("gd.root")));
        let changes: Vec<Change> = above.into_records().into_changes().collect();
        assert_eq!(changes, vec![Change::new(&id("gd.rst"), department(7))]);
    }

    #[test]
    fn store_keys_and_values_are_stable() {
        // The store's encoding (a tag byte per kind, then the name; the
        // record as JSON) is what existing data directories hold.
        assert_eq!(RecordKey::Department(id("gd.rst")).to_bytes(), b"dgd.rst");
        assert_eq!(RecordKey::Item(id("x")).to_bytes(), b"ix");
        assert_eq!(RecordKey::Case(id("x")).to_bytes(), b"cx");
        assert_eq!(
            RecordKey::Key(PublicKey([1; 32])).to_bytes(),
            [&b"k"[..], &[1; 32]].concat()
        );
        let tags: std::collections::BTreeSet<u8> = RecordKey::TAGS.iter().copied().collect();
        assert_eq!(tags.len(), RecordKey::TAGS.len(), "one tag per kind");
        let key = KeyRecord {
            department: id("gd.rst"),
            valid_from: 5,
            valid_until: Some(9),
            index: 1,
            revoked: Some(Revocation {
                time: 7,
                index: 2,
                compromised_since: None,
            }),
        };
        let pinned: [(RecordKey, Record, &str); 4] = [
            (
                RecordKey::Department(id("gd.rst")),
                Record::Department(department(3)),
                r#"{"name":"部门","roles":["provider"],"jurisdiction":"","index":3}"#,
            ),
            (
                RecordKey::Key(PublicKey([1; 32])),
                Record::Key(key),
                r#"{"department":"gd.rst","valid_from":5,"valid_until":9,"index":1,"revoked":{"time":7,"index":2}}"#,
            ),
            (
                RecordKey::Item(id("rst/x")),
                Record::Item(item(4)),
                r#"{"provider":"gd.rst","share_attribute":"conditional","index":4}"#,
            ),
            (
                RecordKey::Case(id("c1")),
                Record::Case(case(6)),
                r#"{"requester":"gd.gaj","provider":"gd.rst","item":"rst/x","index":6}"#,
            ),
        ];
        for (key, record, json) in pinned {
            assert_eq!(std::str::from_utf8(&record.to_json()).unwrap(), json);
            assert_eq!(Record::from_json(&key, json.as_bytes()).unwrap(), record);
        }
        // Records written before departments kept their jurisdiction read
        // back with none.
        assert_eq!(
            Record::from_json(
                &RecordKey::Department(id("gd.rst")),
                r#"{"name":"部门","roles":["provider"],"index":3}"#.as_bytes()
            )
            .unwrap(),
            Record::Department(department(3))
        );
        // A case with its reply: the reply is written only once there is one.
        let replied = Record::Case(CaseRecord {
            reply: Some(8),
            ..case(6)
        });
        let json =
            r#"{"requester":"gd.gaj","provider":"gd.rst","item":"rst/x","index":6,"reply":8}"#;
        assert_eq!(std::str::from_utf8(&replied.to_json()).unwrap(), json);
        assert_eq!(
            Record::from_json(&RecordKey::Case(id("c1")), json.as_bytes()).unwrap(),
            replied
        );
        // Bytes of one kind do not read as another.
        let department = Record::Department(department(3)).to_json();
        assert!(Record::from_json(&RecordKey::Case(id("gd.rst")), &department).is_err());
    }
}
