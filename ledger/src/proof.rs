//! Inclusion and consistency proofs, RFC 9162 §2.1.3 and §2.1.4.
//!
//! Proofs are generated from stored hashes of *complete* subtrees
//! ([`NodeId`]), never by rebuilding the tree: every hash in a proof is the
//! Merkle Tree Hash of a range `D[a:b)`, and every such range splits into at
//! most 64 complete, aligned subtrees. A proof therefore costs O(log n) reads,
//! all issued in one call to [`NodeSource::nodes`] so a store can batch them.
//!
//! Verification follows the RFC's iterative algorithms exactly. A consistency
//! proof from the empty tree is refused (see [`ProofError::FromEmptyTree`]).

use crate::hashing::{node_hash, Hash};

/// A complete, aligned subtree: the `2^level` leaves starting at `index * 2^level`.
/// Level 0 nodes are leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub fn new(level: u8, index: u64) -> NodeId {
        NodeId { level, index }
    }
}

/// Where proof generation reads the hashes of complete subtrees.
pub trait NodeSource {
    type Error;
    /// The hashes of the given complete subtrees, in the same order.
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

/// Why a proof could not be generated or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {old} is larger than tree size {new}")]
    SizesReversed { old: u64, new: u64 },
    /// Every tree extends the empty tree, so such a proof would prove nothing;
    /// like transparency-dev/merkle we refuse it rather than accept any bytes.
    #[error("a consistency proof from the empty tree (size 0) is not defined")]
    FromEmptyTree,
    #[error("proof has {got} hashes, expected {expected}")]
    WrongLength { got: usize, expected: usize },
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    #[error("the trees have the same size but different roots")]
    SameSizeDifferentRoots,
}

/// Largest power of two strictly less than `n` (RFC 9162 §2.1.1 `k`); `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees that make up `D[start:end)`, left to right, where
/// `start` is a multiple of the largest power of two not above `end - start`
/// (always true for the ranges RFC 9162 proofs use).
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let len = end - at;
        // The largest power of two <= len, further limited by the alignment of `at`.
        let mut level = 63 - len.leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        out.push(NodeId::new(level as u8, at >> level));
        at += 1 << level;
    }
    out
}

/// Folds the hashes of [`range_nodes`] into the Merkle Tree Hash of the range:
/// RFC 9162 splits at the largest power of two, so the range hash is a right fold.
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let mut acc = match iter.next() {
        Some(h) => *h,
        None => return Hash::empty_tree(),
    };
    for left in iter {
        acc = node_hash(left, &acc);
    }
    acc
}

/// A proof before its hashes are read: one `D[a:b)` range per proof element.
struct ProofPlan {
    ranges: Vec<(u64, u64)>,
}

impl ProofPlan {
    fn read<S: NodeSource>(&self, source: &S) -> Result<Vec<Hash>, S::Error> {
        let per_range: Vec<Vec<NodeId>> = self
            .ranges
            .iter()
            .map(|&(a, b)| range_nodes(a, b))
            .collect();
        let ids: Vec<NodeId> = per_range.iter().flatten().copied().collect();
        let hashes = source.nodes(&ids)?;
        let mut at = 0;
        Ok(per_range
            .iter()
            .map(|ids| {
                let h = fold_range(&hashes[at..at + ids.len()]);
                at += ids.len();
                h
            })
            .collect())
    }
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[start:start+n))`, as ranges, leaf sibling first.
fn inclusion_ranges(m: u64, start: u64, n: u64, out: &mut Vec<(u64, u64)>) {
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        inclusion_ranges(m, start, k, out);
        out.push((start + k, start + n));
    } else {
        inclusion_ranges(m - k, start + k, n - k, out);
        out.push((start, start + k));
    }
}

/// RFC 9162 §2.1.4.1 `SUBPROOF(m, D[start:start+n), b)`, as ranges.
fn consistency_ranges(m: u64, start: u64, n: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
    if m == n {
        if !whole {
            out.push((start, start + n));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        consistency_ranges(m, start, k, whole, out);
        out.push((start + k, start + n));
    } else {
        consistency_ranges(m - k, start + k, n - k, false, out);
        out.push((start, start + k));
    }
}

/// The Merkle Tree Hash of the first `size` leaves.
pub fn root<S: NodeSource>(source: &S, size: u64) -> Result<Hash, S::Error> {
    let ids = range_nodes(0, size);
    Ok(fold_range(&source.nodes(&ids)?))
}

/// The audit path for leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1).
pub fn inclusion_proof<S: NodeSource>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if index >= size {
        return Ok(Err(ProofError::IndexOutOfRange { index, size }));
    }
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    ProofPlan { ranges }.read(source).map(Ok)
}

/// The consistency proof between trees of `old` and `new` leaves (RFC 9162 §2.1.4.1).
pub fn consistency_proof<S: NodeSource>(
    source: &S,
    old: u64,
    new: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if old > new {
        return Ok(Err(ProofError::SizesReversed { old, new }));
    }
    if old == 0 {
        return Ok(Err(ProofError::FromEmptyTree));
    }
    let mut ranges = Vec::new();
    if old < new {
        consistency_ranges(old, 0, new, true, &mut ranges);
    }
    ProofPlan { ranges }.read(source).map(Ok)
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` is at `index` in the tree of `size`
/// leaves with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 || r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `new` leaves with root
/// `new_root` extends the tree of `old` leaves with root `old_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed { old, new });
    }
    if old == 0 {
        return Err(ProofError::FromEmptyTree);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        if old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots);
        }
        return Ok(());
    }
    let expected = consistency_proof_len(old, new);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    // When `old` is a power of two its root is itself the first node of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);

    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::RootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 || f_r != *old_root || s_r != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The number of hashes in the audit path of leaf `index` in a tree of `size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let mut ranges = Vec::new();
    inclusion_ranges(index, 0, size, &mut ranges);
    ranges.len()
}

/// The number of hashes in a consistency proof from `old` (> 0) to `new`.
pub fn consistency_proof_len(old: u64, new: u64) -> usize {
    let mut ranges = Vec::new();
    if old > 0 && old < new {
        consistency_ranges(old, 0, new, true, &mut ranges);
    }
    ranges.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::leaf_hash;
    use std::collections::HashMap;

    /// All complete subtrees of a small tree, computed naively.
    struct Naive(HashMap<NodeId, Hash>);

    impl Naive {
        fn new(n: u64) -> Naive {
            let mut map = HashMap::new();
            let mut level_hashes: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut level = 0u8;
            while !level_hashes.is_empty() {
                for (i, h) in level_hashes.iter().enumerate() {
                    map.insert(NodeId::new(level, i as u64), *h);
                }
                level_hashes = level_hashes
                    .chunks_exact(2)
                    .map(|p| node_hash(&p[0], &p[1]))
                    .collect();
                level += 1;
            }
            Naive(map)
        }
    }

    impl NodeSource for Naive {
        type Error = NodeId;
        fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
            ids.iter()
                .map(|id| self.0.get(id).copied().ok_or(*id))
                .collect()
        }
    }

    #[test]
    fn range_nodes_are_aligned_and_cover_the_range() {
        assert_eq!(range_nodes(0, 0), vec![]);
        assert_eq!(
            range_nodes(0, 7),
            vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
        assert_eq!(
            range_nodes(8, 13),
            vec![NodeId::new(2, 2), NodeId::new(0, 12)]
        );
    }

    #[test]
    fn every_proof_verifies_in_small_trees() {
        let tree = Naive::new(40);
        for size in 1..=40u64 {
            let r = root(&tree, size).unwrap();
            for index in 0..size {
                let p = inclusion_proof(&tree, index, size).unwrap().unwrap();
                let leaf = leaf_hash(&index.to_be_bytes());
                verify_inclusion(index, size, &leaf, &p, &r).unwrap();
                assert_eq!(
                    verify_inclusion(index, size, &leaf_hash(b"other"), &p, &r),
                    Err(ProofError::RootMismatch)
                );
            }
            for old in 1..=size {
                let p = consistency_proof(&tree, old, size).unwrap().unwrap();
                let old_root = root(&tree, old).unwrap();
                verify_consistency(old, size, &old_root, &r, &p).unwrap();
                if old < size {
                    assert!(verify_consistency(old, size, &r, &r, &p).is_err());
                }
            }
        }
    }

    #[test]
    fn empty_tree_consistency_is_refused_both_ways() {
        let tree = Naive::new(4);
        assert_eq!(
            consistency_proof(&tree, 0, 4).unwrap(),
            Err(ProofError::FromEmptyTree)
        );
        let e = Hash::empty_tree();
        assert_eq!(
            verify_consistency(0, 0, &e, &e, &[]),
            Err(ProofError::FromEmptyTree)
        );
        assert_eq!(
            verify_consistency(0, 4, &e, &e, &[]),
            Err(ProofError::FromEmptyTree)
        );
    }
}
