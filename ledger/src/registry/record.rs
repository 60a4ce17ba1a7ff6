//! The record kinds of the registry (specs/lifecycle.md §State), and how each
//! is named and stored.
//!
//! This file is the whole record model: adding a kind (an index the
//! compliance rules need, say) is a struct and one line of
//! `record_kinds!` below. The overlay, the caches, the store and every
//! [`super::RegistryView`] handle records generically and need no change.

use serde::{Deserialize, Serialize};

use crate::attestation::{Id, PublicKey, Role, ShareAttribute};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentRecord {
    pub name: String,
    pub roles: Vec<Role>,
    /// The `jurisdiction` of the latest `department` entry: a supervisor
    /// reads the cases of the departments of its own (specs/reads.md).
    #[serde(default)]
    pub jurisdiction: String,
    /// The latest `department` entry for this department.
    pub index: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Notarised time of the revocation entry.
    pub time: u64,
    pub index: u64,
    /// Since when the key is declared compromised, if the revocation says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_since: Option<u64>,
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
    /// The case's reply (its first approval or rejection), once there is
    /// one: a second reply is a finding the notary tells at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<u64>,
    /// The third parties a `consent` of the case named, each with the
    /// index of its first such consent: they read the case's entries from
    /// there on (specs/reads.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub third_parties: Vec<ThirdParty>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThirdParty {
    pub department: Id,
    /// The `consent` entry that named it.
    pub index: u64,
}

/// A catalog change (Art. 17), opened by its `catalog_change_notice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogChangeRecord {
    /// The provider that must update its catalog.
    pub provider: Id,
    /// The supervisor that signed the notice, who reviews and publishes.
    pub supervisor: Id,
    /// The notice.
    pub index: u64,
}

/// A dispute (Art. 28), opened by its `dispute` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeRecord {
    pub filer: Id,
    pub with: Id,
    /// The supervisor it was brought to, then each it was escalated to.
    pub supervisors: Vec<Id>,
    /// The `dispute` entry.
    pub index: u64,
    /// The last `dispute_escalation`, once there is one: the dispute is
    /// with the last of `supervisors` since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_since: Option<u64>,
}

/// A return-flow request (Art. 24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnFlowRecord {
    /// The lower-level department that asked.
    pub requester: Id,
    /// The higher-level department asked.
    pub to: Id,
    /// The `return_flow_request` entry.
    pub index: u64,
}

/// A checkpoint key of the log, announced by a `log_key` entry
/// (specs/checkpoint.md §Key rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogKeyRecord {
    /// The `log_key` entry.
    pub index: u64,
}

/// What names a record: the bytes of its name in the store's key.
pub trait RecordName: Clone {
    fn as_bytes(&self) -> &[u8];
}

impl RecordName for Id {
    fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl RecordName for PublicKey {
    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A record kind, for typed reads ([`super::RegistryView::get`]) and writes
/// ([`super::Change::new`]).
pub trait RecordKind: Sized {
    /// What a record of this kind is named by.
    type Name: RecordName;
    fn key(name: &Self::Name) -> RecordKey;
    fn into_record(self) -> Record;
    fn from_record(record: Record) -> Option<Self>;
}

/// A stored record could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("registry record {key:?}: {source}")]
pub struct BadRecord {
    key: RecordKey,
    source: serde_json::Error,
}

/// The kinds, each once: `Variant(Record type, name type) = tag byte`. The
/// tag starts the record's key in the store, so it never changes.
macro_rules! record_kinds {
    ($( $variant:ident($record:ident, $name:ty) = $tag:literal, )*) => {
        /// The name a record is kept under: its kind and its id. A name
        /// holds at most one record; a later entry replaces it.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum RecordKey { $( $variant($name), )* }

        /// One record of any kind.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Record { $( $variant($record), )* }

        $(
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
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )*

        impl RecordKey {
            /// Every kind's tag byte.
            pub const TAGS: &'static [u8] = &[ $( $tag, )* ];

            /// The store's key: the kind's tag byte, then the name's bytes.
            pub fn to_bytes(&self) -> Vec<u8> {
                let (tag, name): (u8, &[u8]) = match self {
                    $( RecordKey::$variant(name) => ($tag, name.as_bytes()), )*
                };
                let mut out = Vec::with_capacity(1 + name.len());
                out.push(tag);
                out.extend_from_slice(name);
                out
            }
        }

        impl Record {
            /// The store's value: the record as JSON.
            pub fn to_json(&self) -> Vec<u8> {
                let json = match self {
                    $( Record::$variant(r) => serde_json::to_vec(r), )*
                };
                json.expect("records are plain data and always serialize")
            }

            /// Reads back what [`Record::to_json`] wrote under `key`.
            pub fn from_json(key: &RecordKey, bytes: &[u8]) -> Result<Record, BadRecord> {
                let record = match key {
                    $( RecordKey::$variant(_) => {
                        serde_json::from_slice::<$record>(bytes).map(Record::$variant)
                    } )*
                };
                record.map_err(|source| BadRecord {
                    key: key.clone(),
                    source,
                })
            }
        }
    };
}

record_kinds! {
    Department(DepartmentRecord, Id) = b'd',
    Key(KeyRecord, PublicKey) = b'k',
    Item(ItemRecord, Id) = b'i',
    Case(CaseRecord, Id) = b'c',
    CatalogChange(CatalogChangeRecord, Id) = b'g',
    Dispute(DisputeRecord, Id) = b'p',
    ReturnFlow(ReturnFlowRecord, Id) = b'r',
    LogKey(LogKeyRecord, PublicKey) = b'l',
}
