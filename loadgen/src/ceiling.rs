//! The machine's Ed25519 verification ceiling, measured in-process on every
//! core: how many attestations per second signature checking alone allows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use ledger::attestation::CONTEXT;
use ledger::signature::{verify_batch, DecodedKey, SignedStatement};

struct Sample {
    key: VerifyingKey,
    decoded: DecodedKey,
    message: Vec<u8>,
    statement: Vec<u8>,
    signature: [u8; 64],
}

fn samples() -> Vec<Sample> {
    (0..512u32)
        .map(|i| {
            let key = SigningKey::from_bytes(&[(i % 64) as u8 + 1; 32]);
            let statement = format!(
                r#"{{"version":1,"kind":"usage_record","n":{i},"pad":"{}"}}"#,
                "x".repeat(500)
            )
            .into_bytes();
            let message = [CONTEXT, &statement].concat();
            let signature = key.sign(&message).to_bytes();
            let vk = key.verifying_key();
            Sample {
                decoded: DecodedKey::new(vk.as_bytes()).unwrap(),
                key: vk,
                message,
                statement,
                signature,
            }
        })
        .collect()
}

/// Runs `work` on every core for `duration`; returns operations per second.
fn on_all_cores(
    duration: Duration,
    work: impl Fn(&[Sample], usize) -> u64 + Send + Sync + 'static,
) -> f64 {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let samples = Arc::new(samples());
    let work = Arc::new(work);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (samples, work, stop, done) =
                (samples.clone(), work.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut round = t;
                while !stop.load(Relaxed) {
                    done.fetch_add(work(&samples, round), Relaxed);
                    round += threads;
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    done.load(Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// ed25519-dalek `verify_strict`, one signature at a time, on every core.
pub fn verify_strict_per_s(duration: Duration) -> f64 {
    on_all_cores(duration, |samples, round| {
        let s = &samples[round % samples.len()];
        let ok = s
            .key
            .verify_strict(&s.message, &Signature::from_bytes(&s.signature))
            .is_ok();
        assert!(ok);
        1
    })
}

/// This ledger's batch path (64 signatures per batch equation), on every core.
pub fn batch_path_per_s(duration: Duration) -> f64 {
    on_all_cores(duration, |samples, round| {
        let start = (round * 64) % samples.len();
        let items: Vec<SignedStatement> = samples[start..(start + 64).min(samples.len())]
            .iter()
            .map(|s| SignedStatement {
                key: &s.decoded,
                statement: &s.statement,
                signature: &s.signature,
            })
            .collect();
        assert!(verify_batch(&items).iter().all(Result::is_ok));
        items.len() as u64
    })
}
