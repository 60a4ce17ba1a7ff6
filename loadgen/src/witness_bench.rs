//! The witness benchmark (specs/witness.md): synthetic logs, each growing
//! by a few leaves per checkpoint, each sent by its own thread to one
//! witness with the consistency proof from the previous size. Every
//! answer is a cosignature written durably before it is sent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use ledger::checkpoint::Checkpoint;
use ledger::frontier::Frontier;
use ledger::hashing::{leaf_hash, Hash};
use ledger::note::NoteSigner;
use ledger::proof::{consistency_proof, NodeId, NodeSource};

/// The key of synthetic log `i` (deterministic, so the witness's `--logs`
/// file can be written first).
fn signer(i: usize) -> NoteSigner {
    let mut seed = [0x5au8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    NoteSigner::new(
        &format!("bench.witness.test/log{i}"),
        SigningKey::from_bytes(&seed),
    )
    .expect("a valid name")
}

/// The `--logs` lines of `origins` synthetic logs.
pub fn logs_file(origins: usize) -> String {
    (0..origins)
        .map(|i| format!("log {}\n", signer(i).verifier().encode()))
        .collect()
}

struct Tree {
    frontier: Frontier,
    nodes: HashMap<NodeId, Hash>,
}

impl NodeSource for Tree {
    type Error = NodeId;
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
        ids.iter()
            .map(|id| self.nodes.get(id).copied().ok_or(*id))
            .collect()
    }
}

/// Figures of one run.
pub struct Figures {
    pub cosignatures: u64,
    pub elapsed: Duration,
    /// Request latencies, sorted.
    pub latencies: Vec<Duration>,
}

/// Sends `count` checkpoints of each of `origins` logs to the witness at
/// `url`, `step` leaves apart, one thread per log.
pub fn run(url: &str, origins: usize, count: usize, step: u64) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let threads: Vec<_> = (0..origins)
        .map(|i| {
            let url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let signer = signer(i);
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(10))
                    .build();
                let mut tree = Tree {
                    frontier: Frontier::empty(),
                    nodes: HashMap::new(),
                };
                let mut latencies = Vec::with_capacity(count);
                let mut old = 0u64;
                for n in 0..count as u64 {
                    for leaf in 0..step {
                        let h = leaf_hash(format!("log {i} leaf {}", n * step + leaf).as_bytes());
                        let nodes = &mut tree.nodes;
                        tree.frontier.push(h, |id, hash| {
                            nodes.insert(id, hash);
                        });
                    }
                    let size = tree.frontier.size();
                    let note = Checkpoint {
                        origin: signer.verifier().name.clone(),
                        size,
                        root: tree.frontier.root(),
                    }
                    .sign(&signer);
                    let proof = if old == 0 {
                        Vec::new()
                    } else {
                        consistency_proof(&tree, old, size)
                            .map_err(|id| anyhow::anyhow!("node {id:?} missing"))?
                            .map_err(|e| anyhow::anyhow!("{e}"))?
                    };
                    let mut body = format!("old {old}\n");
                    for h in &proof {
                        body.push_str(&h.to_base64());
                        body.push('\n');
                    }
                    body.push('\n');
                    body.push_str(&note);
                    let sent = Instant::now();
                    let answer = agent.post(&url).send_string(&body)?;
                    latencies.push(sent.elapsed());
                    anyhow::ensure!(answer.status() == 200, "status {}", answer.status());
                    old = size;
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in threads {
        latencies.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))??,
        );
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Figures {
        cosignatures: latencies.len() as u64,
        elapsed,
        latencies,
    })
}
