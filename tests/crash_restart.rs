//! Crash safety: SIGKILL the real notary at random moments while clients
//! submit concurrently, restart it on the same RocksDB files, and check that
//! - the store opens cleanly (the notary starts and serves),
//! - every receipt any client received still verifies, and its entry is
//!   still at its index with the same bytes,
//! - every checkpoint ever returned (in receipts, or by GET /checkpoint) is
//!   consistent with the newest one after the restart,
//! - no index was ever given to two receipts.
//!
//! `CRASH_ROUNDS` sets the number of kill/restart rounds (default 3, the
//! short run of `scripts/test`; `scripts/crash-test` runs 50).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::*;
use ledger::checkpoint::Checkpoint;
use ledger::hashing::leaf_hash;
use ledger::policy::Policy;
use ledger::receipt::Receipt;
use ledger::tlog_proof::TlogProof;

#[derive(Default)]
struct Observed {
    receipts: Vec<Receipt>,
    /// Signed checkpoint notes seen by clients this round.
    checkpoints: Vec<String>,
}

/// A tiny xorshift generator, seeded per run and printed, so a failing
/// schedule of kills can be replayed with CRASH_SEED.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn verify_checkpoint(note: &str, policy: &Policy) -> Checkpoint {
    Checkpoint::verify(note.as_bytes(), &policy.origin, &policy.log_keys)
        .expect("checkpoint signed by the notary")
}

#[test]
fn acknowledged_records_survive_sigkill() {
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| now_ms() | 1);
    eprintln!("crash test: {rounds} rounds, CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let setup = Setup::new();
    let policy = setup.policy();
    let mut notary = setup.start();
    let (_, requester) = provider_and_requester(&setup, &notary);
    let mut indexes = HashSet::new();
    let mut total = 0usize;
    let mut newest_before = notary.checkpoint();

    for round in 0..rounds {
        let observed: Arc<Mutex<Observed>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 0..4 {
            let (url, observed, requester, stop) = (
                notary.url.clone(),
                observed.clone(),
                requester.clone(),
                stop.clone(),
            );
            threads.push(std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Relaxed) {
                        return;
                    }
                    let a = new_case(&requester, &format!("R{round}-W{w}-{i}"));
                    match department::submit(&url, &a) {
                        Ok(r) if r.status == 201 => {
                            let receipt =
                                Receipt::from_json(r.body.to_string().as_bytes()).expect("receipt");
                            observed.lock().unwrap().receipts.push(receipt);
                        }
                        Ok(r) if r.status == 503 => {}
                        Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                        Err(_) => return, // the notary is gone
                    }
                }
            }));
        }
        {
            // A client that keeps reading the checkpoint.
            let (url, observed, stop) = (notary.url.clone(), observed.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                while !stop.load(Relaxed) {
                    match ureq::get(&format!("{url}/checkpoint")).call() {
                        Ok(r) => observed
                            .lock()
                            .unwrap()
                            .checkpoints
                            .push(r.into_string().unwrap()),
                        Err(_) => return,
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(30 + rng.below(400)));
        notary.kill();
        stop.store(true, Relaxed);
        for t in threads {
            t.join().expect("client thread");
        }

        // The store must open cleanly on the same files.
        notary = Notary::start(&setup.data(), &[]);
        let newest = verify_checkpoint(&notary.checkpoint(), &policy);
        let observed = std::mem::take(&mut *observed.lock().unwrap());

        let mut checkpoints: BTreeMap<u64, String> = BTreeMap::new();
        let mut add = |note: &str| {
            let c = verify_checkpoint(note, &policy);
            if let Some(other) = checkpoints.insert(c.size, note.to_owned()) {
                assert_eq!(
                    verify_checkpoint(&other, &policy).root,
                    c.root,
                    "two roots for size {}",
                    c.size
                );
            }
        };
        add(&newest_before);
        for note in &observed.checkpoints {
            add(note);
        }
        for r in &observed.receipts {
            assert!(indexes.insert(r.index), "index {} was given twice", r.index);
            r.verify(&policy)
                .unwrap_or_else(|e| panic!("receipt {}: {e}", r.index));
            add(&TlogProof::parse(&r.proof).unwrap().checkpoint);
        }
        // Every checkpoint ever returned is consistent with the newest, so
        // every receipt proven under one of them is proven under the newest.
        for (size, note) in &checkpoints {
            let old = verify_checkpoint(note, &policy);
            assert!(
                old.size <= newest.size,
                "checkpoint {size} is ahead of the newest {}",
                newest.size
            );
            if old.size == 0 {
                continue;
            }
            notary.check_consistent(&old, &newest).unwrap_or_else(|e| {
                panic!(
                    "checkpoint {size} is not consistent with {}: {e}",
                    newest.size
                )
            });
        }
        // And the entries are there, byte for byte (a sample per round).
        for r in observed
            .receipts
            .iter()
            .step_by(observed.receipts.len().div_ceil(40).max(1))
        {
            // The requester reads its own cases (specs/reads.md).
            let (status, entry) = notary.read_as(&requester, &format!("/v1/entries/{}", r.index));
            assert_eq!(status, 200);
            assert_eq!(leaf_hash(&entry), r.leaf_hash, "entry {} changed", r.index);
        }
        total += observed.receipts.len();
        eprintln!(
            "round {round}: {} receipts, {} checkpoints checked; log size {}",
            observed.receipts.len(),
            checkpoints.len(),
            newest.size
        );
        newest_before = notary.checkpoint();
    }
    assert!(total > 0, "no receipt was issued in any round");
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let setup = Setup::new();
    let policy = setup.policy();
    let mut notary = setup.start();
    let (_, requester) = provider_and_requester(&setup, &notary);
    let (status, body) = notary.submit(&new_case(&requester, "TERM-1"));
    assert_eq!(status, 201, "{body}");
    let receipt = Receipt::from_json(body.to_string().as_bytes()).unwrap();
    let pid = notary.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exit = notary.child.wait().unwrap();
    assert!(exit.success(), "the notary exits 0 on SIGTERM: {exit}");
    let notary = Notary::start(&setup.data(), &[]);
    assert_eq!(notary.tree_size(), 6);
    receipt.verify(&policy).unwrap();
    let (status, entry) = notary.read_as(&requester, &format!("/v1/entries/{}", receipt.index));
    assert_eq!((status, leaf_hash(&entry)), (200, receipt.leaf_hash));
}
