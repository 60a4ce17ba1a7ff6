//! Cross-checks roots, inclusion proofs and consistency proofs against an
//! independent implementation, Cloudflare's `tlog_tiles` (a port of Go's
//! sumdb/tlog), on random trees of up to 5,000 leaves.

use std::collections::HashMap;

use ledger::frontier::Frontier;
use ledger::hashing::{leaf_hash, Hash};
use ledger::proof::{self, NodeId, NodeSource};
use proptest::prelude::*;
use tlog_tiles::tlog;

/// Our stored subtrees.
struct Ours(HashMap<NodeId, Hash>);

impl NodeSource for Ours {
    type Error = NodeId;
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
        ids.iter()
            .map(|id| self.0.get(id).copied().ok_or(*id))
            .collect()
    }
}

/// Their stored hashes, in sumdb's storage order.
struct Theirs(Vec<tlog::Hash>);

impl tlog::HashReader for Theirs {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

fn build(n: u64, seed: u64) -> (Ours, Vec<Hash>, Theirs) {
    let mut ours = HashMap::new();
    let mut frontier = Frontier::empty();
    let mut roots = vec![frontier.root()];
    let mut theirs = Theirs(Vec::new());
    for i in 0..n {
        let data = format!("entry {seed} {i}");
        frontier.push(leaf_hash(data.as_bytes()), |id, h| {
            ours.insert(id, h);
        });
        roots.push(frontier.root());
        let stored = tlog::stored_hashes(i, data.as_bytes(), &theirs).unwrap();
        theirs.0.extend(stored);
    }
    (Ours(ours), roots, theirs)
}

fn to_theirs(h: &Hash) -> tlog::Hash {
    tlog::Hash(h.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn roots_and_proofs_agree(n in 1u64..=5000, seed in any::<u64>(), picks in prop::collection::vec((any::<u64>(), any::<u64>()), 40)) {
        let (ours, roots, theirs) = build(n, seed);
        for size in [0, 1, n / 2, n] {
            prop_assert_eq!(to_theirs(&roots[size as usize]), tlog::tree_hash(size, &theirs).unwrap());
            prop_assert_eq!(roots[size as usize], proof::root(&ours, size).unwrap());
        }
        for (a, b) in picks {
            let size = 1 + b % n;
            let index = a % size;
            let ours_p = proof::inclusion_proof(&ours, index, size).unwrap().unwrap();
            let theirs_p = tlog::prove_record(size, index, &theirs).unwrap();
            prop_assert_eq!(ours_p.iter().map(to_theirs).collect::<Vec<_>>(), theirs_p.clone());
            let leaf = leaf_hash(format!("entry {seed} {index}").as_bytes());
            tlog::check_record(&theirs_p, size, to_theirs(&roots[size as usize]), index, to_theirs(&leaf)).unwrap();
            proof::verify_inclusion(index, size, &leaf, &ours_p, &roots[size as usize]).unwrap();

            let old = 1 + a % size;
            let ours_c = proof::consistency_proof(&ours, old, size).unwrap().unwrap();
            let theirs_c = tlog::prove_tree(size, old, &theirs).unwrap();
            prop_assert_eq!(ours_c.iter().map(to_theirs).collect::<Vec<_>>(), theirs_c.clone());
            tlog::check_tree(&theirs_c, size, to_theirs(&roots[size as usize]), old, to_theirs(&roots[old as usize])).unwrap();
            proof::verify_consistency(old, size, &roots[old as usize], &roots[size as usize], &ours_c).unwrap();
        }
    }
}
