//! The share-audit ledger: formats, Merkle log and rules shared by the notary
//! and the offline verifier.
//!
//! | module | concept |
//! |---|---|
//! | [`hashing`] | RFC 9162 leaf and node hashes |
//! | [`proof`] | inclusion and consistency proofs from stored subtree hashes |
//! | [`frontier`] | the right edge of the tree, for appending |
//! | [`note`], [`checkpoint`], [`tlog_proof`] | C2SP signed notes, checkpoints, offline proofs |
//! | [`strict_json`], [`attestation`], [`entry`] | what departments sign and what the log stores |
//! | [`state`], [`lifecycle`] | the registry and case state, and who may sign what |
//! | [`policy`], [`receipt`] | the verifier's trust policy and receipts |
//! | [`tiles`] | C2SP tlog-tiles addressing |
//! | [`time`] | times shown to people, in China Standard Time |
//! | [`keyfile`], [`signature`] | key files; the attestation signature rule |
//! | `store`, `log` (feature `store`) | the RocksDB log and the append path |

pub mod attestation;
pub mod checkpoint;
pub mod entry;
pub mod frontier;
pub mod hashing;
pub mod keyfile;
pub mod lifecycle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod receipt;
pub mod signature;
pub mod state;
pub mod strict_json;
pub mod tiles;
pub mod time;
pub mod tlog_proof;

#[cfg(feature = "store")]
pub mod log;
#[cfg(feature = "store")]
pub mod store;
