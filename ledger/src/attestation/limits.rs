//! The numbers of the statement format (specs/attestation.md).

/// The only statement version this code reads.
pub const VERSION: u64 = 1;
/// Longest identifier (department, case, catalog item).
pub const MAX_ID_LEN: usize = 128;
/// Largest statement: its entry fits the entry limit whatever the notarised
/// time (specs/entry.md; `entry.rs` checks the sum at compile time).
pub const MAX_STATEMENT_BYTES: usize = 65_388;
