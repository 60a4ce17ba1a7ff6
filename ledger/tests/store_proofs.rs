//! The RocksDB store answers every proof and tile exactly as the in-memory
//! tree does, whether a hash comes from memory (levels ≥ UPPER_LEVEL) or
//! from disk, before and after reopening.

use ledger::frontier::{BatchNodes, Frontier};
use ledger::hashing::leaf_hash;
use ledger::proof::{consistency_proof, inclusion_proof, root, NodeId};
use ledger::store::{CommitBatch, Store, TreeState, UPPER_LEVEL};

#[test]
fn store_proofs_match_the_in_memory_tree_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut frontier = Frontier::empty();
    let mut memory = BatchNodes::new(&Frontier::empty());
    let mut next = 0u64;
    // Batches of varying size, so that upper-level nodes are completed
    // both inside a batch and across batches.
    for batch_len in [1u64, 255, 3, 700, 1, 2000, 97] {
        let mut commit = CommitBatch {
            first_index: next,
            ..CommitBatch::default()
        };
        for _ in 0..batch_len {
            let entry = next.to_be_bytes().to_vec();
            let leaf = leaf_hash(&entry);
            frontier.push(leaf, |id, h| {
                memory.insert(id, h);
                commit.nodes.push((id, h));
            });
            commit
                .entries
                .push((entry, leaf, ledger::hashing::sha256(&next.to_be_bytes())));
            commit.evidence.push(vec![]);
            next += 1;
        }
        commit.tree = Some(TreeState {
            size: next,
            last_time: 0,
        });
        store.commit(&commit).unwrap();
    }
    assert!(next >= 2 * 256 * 2, "the tree reaches level {UPPER_LEVEL}");

    let check = |store: &Store| {
        for size in [1, 2, 255, 256, 257, 1000, next / 2, next] {
            assert_eq!(
                root(store, size).unwrap(),
                root(&memory, size).unwrap(),
                "root of {size}"
            );
            for index in [0, size / 3, size - 1] {
                assert_eq!(
                    inclusion_proof(store, index, size).unwrap(),
                    inclusion_proof(&memory, index, size).unwrap(),
                    "inclusion of {index} in {size}"
                );
            }
            assert_eq!(
                consistency_proof(store, 1 + size / 2, size).unwrap(),
                consistency_proof(&memory, 1 + size / 2, size).unwrap()
            );
        }
        // Tile rows, by range scan: level 0 and level 8.
        let want: Vec<_> = (256..512).map(|i| memory_node(&memory, 0, i)).collect();
        assert_eq!(store.node_run(0, 256, 256).unwrap(), want);
        let top = next >> UPPER_LEVEL;
        let want: Vec<_> = (0..top)
            .map(|i| memory_node(&memory, UPPER_LEVEL, i))
            .collect();
        assert_eq!(store.node_run(UPPER_LEVEL, 0, top).unwrap(), want);
        assert!(
            store.node_run(0, next - 1, 2).is_err(),
            "a run past the end is an error"
        );
    };
    check(&store);
    store.reopen().unwrap();
    check(&store);
    drop(store);
    check(&Store::open(dir.path()).unwrap());
}

fn memory_node(memory: &BatchNodes, level: u8, index: u64) -> ledger::hashing::Hash {
    use ledger::proof::NodeSource;
    memory.nodes(&[NodeId::new(level, index)]).unwrap()[0]
}
