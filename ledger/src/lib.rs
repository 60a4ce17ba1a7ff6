//! The share-audit ledger: formats, Merkle log and rules shared by the notary
//! and the offline verifier. Each module is one concept of `specs/`:
//!
//! | module | concept | spec |
//! |---|---|---|
//! | [`hashing`] | RFC 9162 leaf and node hashes | merkle.md |
//! | [`proof`] | inclusion and consistency proofs from stored subtree hashes | merkle.md |
//! | [`frontier`] | the right edge of the tree, for appending | merkle.md |
//! | [`tiles`] | C2SP tlog-tiles addressing | api.md |
//! | [`note`] | C2SP signed notes and keys | checkpoint.md |
//! | [`checkpoint`] | C2SP checkpoints | checkpoint.md |
//! | [`tlog_proof`] | C2SP tlog-proof, the offline proof of one entry | checkpoint.md |
//! | [`decimal`] | numbers as the text formats write them | checkpoint.md, entry.md |
//! | [`strict_json`] | the one JSON dialect statements are written in | attestation.md |
//! | [`signature`] | the attestation signature rule and its batch check; the weak-key rule | attestation.md, checkpoint.md |
//! | [`attestation`] | what departments sign: statements, kinds, submissions | attestation.md |
//! | [`entry`] | what the log stores for each attestation | entry.md |
//! | [`registry`] | departments, keys, catalog items and cases established so far | lifecycle.md |
//! | [`lifecycle`] | who may sign what, and what each entry establishes | lifecycle.md |
//! | [`calendar`] | working days (工作日) and due days of the regulation's deadlines | calendar.md |
//! | [`findings`] | the case clock: late, missing and out-of-order steps, from the log alone | findings.md |
//! | [`reads`] | who may read which entries | reads.md |
//! | [`read_signature`] | the RFC 9421 signature of an authenticated read | reads.md |
//! | [`policy`] | the verifier's trust policy | policy.md |
//! | [`package`] | the auditor's package: file names, manifest, bundles | package.md |
//! | [`receipt`] | receipts, made and verified | receipt.md |
//! | [`keyfile`] | private and public key files | checkpoint.md |
//! | [`lang`] | the languages of messages people read (English, Chinese) | api.md |
//! | [`time`] | the wall clock, and times shown to people in China Standard Time | notary.md |
//! | `store` (feature `store`) | the RocksDB log | notary.md |
//! | `append` (feature `store`) | the append path: decide, write, sign, answer | notary.md |

pub mod attestation;
pub mod calendar;
pub mod checkpoint;
pub mod decimal;
pub mod entry;
pub mod findings;
pub mod frontier;
pub mod hashing;
pub mod keyfile;
pub mod lang;
pub mod lifecycle;
pub mod note;
pub mod package;
pub mod policy;
pub mod proof;
pub mod read_signature;
pub mod reads;
pub mod receipt;
pub mod registry;
pub mod signature;
pub mod strict_json;
pub mod tiles;
pub mod time;
pub mod tlog_proof;

#[cfg(feature = "store")]
pub mod append;
#[cfg(feature = "store")]
pub mod store;
