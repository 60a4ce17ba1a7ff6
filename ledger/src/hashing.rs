//! RFC 9162 §2.1.1 Merkle tree hashing with SHA-256.
//!
//! Leaves are hashed as `SHA-256(0x00 || entry)`, interior nodes as
//! `SHA-256(0x01 || left || right)`, and the empty tree as `SHA-256("")`.
//! The distinct prefixes keep a leaf from ever being mistaken for a node.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Length of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_LEN]);

/// A string or byte slice that is not a 32-byte hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {HASH_LEN}-byte SHA-256 hash in standard base64: {0:?}")]
pub struct BadHash(pub String);

impl Hash {
    /// `SHA-256("")`, the root of the empty tree (RFC 9162 §2.1.1).
    pub fn empty_tree() -> Hash {
        Hash(Sha256::digest(b"").into())
    }

    /// The hash from a byte slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, BadHash> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| BadHash(format!("{} bytes", bytes.len())))
    }

    /// Parses standard (padded) base64, the encoding of checkpoints and proofs.
    pub fn from_base64(text: &str) -> Result<Hash, BadHash> {
        let bytes = BASE64.decode(text).map_err(|_| BadHash(text.to_owned()))?;
        Hash::from_slice(&bytes).map_err(|_| BadHash(text.to_owned()))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// `SHA-256(0x00 || entry)`: the leaf hash of an entry (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: an interior node (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Plain SHA-256, for digests that are not tree hashes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(Hash::empty_tree().0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        let a = leaf_hash(b"");
        // RFC 6962 test tree, size 1: the leaf hash of the empty entry.
        assert_eq!(
            hex::encode(a.0),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_ne!(node_hash(&a, &a), leaf_hash(&[a.0, a.0].concat()));
    }

    #[test]
    fn base64_round_trip_and_length_check() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert!(Hash::from_base64("ZG9uJ3QgY2FyZSAx").is_err());
        assert!(Hash::from_base64("").is_err());
        assert!(Hash::from_base64("not base64!").is_err());
    }
}
