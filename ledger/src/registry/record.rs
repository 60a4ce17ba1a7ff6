//! The record kinds of the registry (specs/lifecycle.md §State), and how each
//! is named and stored.
//!
//! This file is the whole record model: adding a kind (an index the
//! compliance rules need, say) is a struct, a variant of [`RecordKey`] and of
//! [`Record`], their arms below and a [`RecordKind`] impl. The overlay, the
//! caches, the store and every [`super::RegistryView`] handle records
//! generically and need no change.

use serde::{Deserialize, Serialize};

use crate::attestation::{Id, PublicKey, Role, ShareAttribute};

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

/// The name a record is kept under: its kind and its id. A name holds at
/// most one record; a later entry replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    Department(Id),
    Key(PublicKey),
    Item(Id),
    Case(Id),
}

/// One record of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Department(DepartmentRecord),
    Key(KeyRecord),
    Item(ItemRecord),
    Case(CaseRecord),
}

/// A record kind, for typed reads ([`super::RegistryView::get`]) and writes
/// ([`super::Change::new`]).
pub trait RecordKind: Sized {
    /// What a record of this kind is named by.
    type Name;
    fn key(name: &Self::Name) -> RecordKey;
    fn into_record(self) -> Record;
    fn from_record(record: Record) -> Option<Self>;
}

macro_rules! record_kind {
    ($record:ident, $variant:ident, $name:ty) => {
        impl RecordKind for $record {
            type Name = $name;
            fn key(name: &$name) -> RecordKey {
                RecordKey::$variant(name.clone())
            }
            fn into_record(self) -> Record {
                Record::$variant(self)
            }
            fn from_record(record: Record) -> Option<$record> {
                match record {
                    Record::$variant(r) => Some(r),
                    _ => None,
                }
            }
        }
    };
}

record_kind!(DepartmentRecord, Department, Id);
record_kind!(KeyRecord, Key, PublicKey);
record_kind!(ItemRecord, Item, Id);
record_kind!(CaseRecord, Case, Id);

/// A stored record could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("registry record {key:?}: {source}")]
pub struct BadRecord {
    key: RecordKey,
    source: serde_json::Error,
}

impl RecordKey {
    /// The store's key: one tag byte per kind, then the id's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (tag, id): (u8, &[u8]) = match self {
            RecordKey::Department(id) => (b'd', id.as_str().as_bytes()),
            RecordKey::Key(key) => (b'k', &key.0),
            RecordKey::Item(id) => (b'i', id.as_str().as_bytes()),
            RecordKey::Case(id) => (b'c', id.as_str().as_bytes()),
        };
        let mut out = Vec::with_capacity(1 + id.len());
        out.push(tag);
        out.extend_from_slice(id);
        out
    }
}

impl Record {
    /// The store's value: the record as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let json = match self {
            Record::Department(r) => serde_json::to_vec(r),
            Record::Key(r) => serde_json::to_vec(r),
            Record::Item(r) => serde_json::to_vec(r),
            Record::Case(r) => serde_json::to_vec(r),
        };
        json.expect("records are plain data and always serialize")
    }

    /// Reads back what [`Record::to_json`] wrote under `key`.
    pub fn from_json(key: &RecordKey, bytes: &[u8]) -> Result<Record, BadRecord> {
        let record = match key {
            RecordKey::Department(_) => serde_json::from_slice(bytes).map(Record::Department),
            RecordKey::Key(_) => serde_json::from_slice(bytes).map(Record::Key),
            RecordKey::Item(_) => serde_json::from_slice(bytes).map(Record::Item),
            RecordKey::Case(_) => serde_json::from_slice(bytes).map(Record::Case),
        };
        record.map_err(|source| BadRecord {
            key: key.clone(),
            source,
        })
    }
}
