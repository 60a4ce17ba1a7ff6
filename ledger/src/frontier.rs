//! The right edge ("compact range") of a Merkle tree: the hashes of the
//! complete subtrees that make up `D[0:size)`, one per set bit of `size`.
//!
//! Appending a leaf to the frontier yields every complete subtree it
//! finishes, which is exactly what the store writes for that leaf. The
//! sequencer keeps one frontier in memory, so appending never reads the store,
//! and together with the nodes a batch creates it answers every inclusion
//! proof for the batch's own leaves (see [`BatchNodes`]).

use std::collections::HashMap;

use crate::hashing::{node_hash, Hash};
use crate::proof::{fold_range, range_nodes, NodeId, NodeSource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Hashes of `range_nodes(0, size)`, largest subtree first.
    hashes: Vec<Hash>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frontier of size {size} needs {expected} hashes, got {got}")]
pub struct FrontierLengthMismatch {
    pub size: u64,
    pub expected: usize,
    pub got: usize,
}

impl Frontier {
    pub fn empty() -> Frontier {
        Frontier {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// Rebuilds a frontier from the stored hashes of `range_nodes(0, size)`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Frontier, FrontierLengthMismatch> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(FrontierLengthMismatch {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Frontier { size, hashes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The complete subtrees of the frontier with their hashes, largest first.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, Hash)> + '_ {
        range_nodes(0, self.size)
            .into_iter()
            .zip(self.hashes.iter().copied())
    }

    /// The Merkle Tree Hash of the whole tree (RFC 9162 §2.1.1).
    pub fn root(&self) -> Hash {
        fold_range(&self.hashes)
    }

    /// Appends a leaf hash and reports every complete subtree it finishes,
    /// the leaf itself (level 0) first.
    pub fn push(&mut self, leaf: Hash, mut finished: impl FnMut(NodeId, Hash)) {
        let mut index = self.size;
        let mut level = 0u8;
        let mut hash = leaf;
        finished(NodeId::new(0, index), hash);
        while index & 1 == 1 {
            // A right child completes its parent: merge with the left sibling.
            let left = self
                .hashes
                .pop()
                .expect("frontier has a node per set bit of size");
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
            finished(NodeId::new(level, index), hash);
        }
        self.hashes.push(hash);
        self.size += 1;
    }
}

/// The nodes an append batch can see without reading the store: the frontier
/// before the batch plus every complete subtree the batch finished. This is
/// enough to prove inclusion of any leaf of the batch in the tree after it.
pub struct BatchNodes {
    nodes: HashMap<NodeId, Hash>,
}

impl BatchNodes {
    pub fn new(before: &Frontier) -> BatchNodes {
        BatchNodes {
            nodes: before.nodes().collect(),
        }
    }

    pub fn insert(&mut self, id: NodeId, hash: Hash) {
        self.nodes.insert(id, hash);
    }
}

/// A node the batch does not hold: a proof for a leaf outside the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node {0:?} is not part of this batch")]
pub struct NotInBatch(pub NodeId);

impl NodeSource for BatchNodes {
    type Error = NotInBatch;
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NotInBatch> {
        ids.iter()
            .map(|id| self.nodes.get(id).copied().ok_or(NotInBatch(*id)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::leaf_hash;
    use crate::proof::{inclusion_proof, verify_inclusion};

    #[test]
    fn frontier_root_matches_rfc6962_test_tree() {
        // roots.json of the shared vectors, sizes 0..=8, recomputed here from the leaves.
        let leaves: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let mut f = Frontier::empty();
        assert_eq!(f.root(), Hash::empty_tree());
        for leaf in leaves {
            f.push(leaf_hash(leaf), |_, _| {});
        }
        assert_eq!(
            hex::encode(f.root().0),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }

    #[test]
    fn batch_nodes_prove_every_leaf_of_the_batch() {
        let mut all = BatchNodes::new(&Frontier::empty());
        let mut f = Frontier::empty();
        let mut next = 0u64;
        for batch_len in [1u64, 5, 2, 8, 13, 1, 30] {
            let mut batch = BatchNodes::new(&f);
            let first = next;
            for _ in 0..batch_len {
                f.push(leaf_hash(&next.to_be_bytes()), |id, h| {
                    batch.insert(id, h);
                    all.insert(id, h);
                });
                next += 1;
            }
            let root = f.root();
            for i in first..next {
                let p = inclusion_proof(&batch, i, next).unwrap().unwrap();
                assert_eq!(p, inclusion_proof(&all, i, next).unwrap().unwrap());
                verify_inclusion(i, next, &leaf_hash(&i.to_be_bytes()), &p, &root).unwrap();
            }
            let rebuilt = Frontier::from_parts(f.size(), f.nodes().map(|(_, h)| h).collect());
            assert_eq!(rebuilt.as_ref(), Ok(&f));
        }
    }
}
