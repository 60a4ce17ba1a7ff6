//! What the log has established so far, as far as deciding on a new entry
//! needs: registered departments and keys, catalog items, and open cases.
//!
//! Every record carries the index of the entry that established it, so a
//! receipt can cite that entry as evidence. The notary reads these records
//! from RocksDB, a verifier from the entries it replays; both decide through
//! the same [`LedgerView`] and [`Overlay`], so they cannot disagree.

use std::collections::HashMap;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::attestation::{Id, Origin, PublicKey, Role, ShareAttribute, SignerRef};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentRecord {
    pub name: String,
    pub roles: Vec<Role>,
    /// The latest `department` entry for this department.
    pub index: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Notarised time of the revocation entry.
    pub time: u64,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub department: Id,
    pub valid_from: u64,
    pub valid_until: Option<u64>,
    /// The `department_key` entry.
    pub index: u64,
    pub revoked: Option<Revocation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub provider: Id,
    pub share_attribute: ShareAttribute,
    /// The latest `catalog_entry` for this item.
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub requester: Id,
    pub provider: Id,
    pub item: Id,
    /// The `application` that opened the case.
    pub index: u64,
}

/// One record written by an accepted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Department(Id, DepartmentRecord),
    Key(PublicKey, KeyRecord),
    Item(Id, ItemRecord),
    Case(Id, CaseRecord),
}

/// Read access to the established state.
pub trait LedgerView {
    type Error;
    /// What the trust policy says: the log's origin and its root keys.
    fn trust(&self) -> &TrustRoots;
    fn department(&self, id: &Id) -> Result<Option<DepartmentRecord>, Self::Error>;
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, Self::Error>;
    fn item(&self, id: &Id) -> Result<Option<ItemRecord>, Self::Error>;
    fn case(&self, id: &Id) -> Result<Option<CaseRecord>, Self::Error>;
}

/// A set of records, one per name: what a run of entries established.
#[derive(Debug, Clone, Default)]
pub struct Records {
    departments: HashMap<Id, DepartmentRecord>,
    keys: HashMap<PublicKey, KeyRecord>,
    items: HashMap<Id, ItemRecord>,
    cases: HashMap<Id, CaseRecord>,
}

impl Records {
    /// Sets one record (replacing the one of the same name).
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Department(id, r) => {
                self.departments.insert(id, r);
            }
            Change::Key(k, r) => {
                self.keys.insert(k, r);
            }
            Change::Item(id, r) => {
                self.items.insert(id, r);
            }
            Change::Case(id, r) => {
                self.cases.insert(id, r);
            }
        }
    }

    pub fn department(&self, id: &Id) -> Option<&DepartmentRecord> {
        self.departments.get(id)
    }
    pub fn key(&self, key: &PublicKey) -> Option<&KeyRecord> {
        self.keys.get(key)
    }
    pub fn item(&self, id: &Id) -> Option<&ItemRecord> {
        self.items.get(id)
    }
    pub fn case(&self, id: &Id) -> Option<&CaseRecord> {
        self.cases.get(id)
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        self.departments.len() + self.keys.len() + self.items.len() + self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, as the changes that set them.
    pub fn into_changes(self) -> Vec<Change> {
        let mut out = Vec::with_capacity(self.len());
        out.extend(
            self.departments
                .into_iter()
                .map(|(k, v)| Change::Department(k, v)),
        );
        out.extend(self.keys.into_iter().map(|(k, v)| Change::Key(k, v)));
        out.extend(self.items.into_iter().map(|(k, v)| Change::Item(k, v)));
        out.extend(self.cases.into_iter().map(|(k, v)| Change::Case(k, v)));
        out
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

impl<V: LedgerView> Overlay<V> {
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

fn layered<T: Clone, E>(
    top: Option<&T>,
    base: impl FnOnce() -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    match top {
        Some(r) => Ok(Some(r.clone())),
        None => base(),
    }
}

impl<V: LedgerView> LedgerView for Overlay<V> {
    type Error = V::Error;
    fn trust(&self) -> &TrustRoots {
        self.base.trust()
    }
    fn department(&self, id: &Id) -> Result<Option<DepartmentRecord>, V::Error> {
        layered(self.records.department(id), || self.base.department(id))
    }
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, V::Error> {
        layered(self.records.key(key), || self.base.key(key))
    }
    fn item(&self, id: &Id) -> Result<Option<ItemRecord>, V::Error> {
        layered(self.records.item(id), || self.base.item(id))
    }
    fn case(&self, id: &Id) -> Result<Option<CaseRecord>, V::Error> {
        layered(self.records.case(id), || self.base.case(id))
    }
}

/// The state before the first entry: the log's origin and the policy's root
/// keys, nothing else.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    /// The origin of the log; every statement must name it.
    pub origin: Origin,
    /// The root keys, each with its name as the signer's department.
    pub roots: Vec<SignerRef>,
}

impl TrustRoots {
    /// Whether `signer` is a root of the policy: its name and its key.
    pub fn is_root(&self, signer: &SignerRef) -> bool {
        self.roots.contains(signer)
    }

    /// Whether `key` is the key of a root, whatever name it is used under.
    pub fn is_root_key(&self, key: &PublicKey) -> bool {
        self.roots.iter().any(|r| &r.key == key)
    }
}

impl LedgerView for TrustRoots {
    type Error = Infallible;
    fn trust(&self) -> &TrustRoots {
        self
    }
    fn department(&self, _: &Id) -> Result<Option<DepartmentRecord>, Infallible> {
        Ok(None)
    }
    fn key(&self, _: &PublicKey) -> Result<Option<KeyRecord>, Infallible> {
        Ok(None)
    }
    fn item(&self, _: &Id) -> Result<Option<ItemRecord>, Infallible> {
        Ok(None)
    }
    fn case(&self, _: &Id) -> Result<Option<CaseRecord>, Infallible> {
        Ok(None)
    }
}

impl<V: LedgerView> LedgerView for &V {
    type Error = V::Error;
    fn trust(&self) -> &TrustRoots {
        (*self).trust()
    }
    fn department(&self, id: &Id) -> Result<Option<DepartmentRecord>, V::Error> {
        (*self).department(id)
    }
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, V::Error> {
        (*self).key(key)
    }
    fn item(&self, id: &Id) -> Result<Option<ItemRecord>, V::Error> {
        (*self).item(id)
    }
    fn case(&self, id: &Id) -> Result<Option<CaseRecord>, V::Error> {
        (*self).case(id)
    }
}
