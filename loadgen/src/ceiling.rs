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

/// Several short measurements of the `verify_strict` ceiling in a row, and
/// what the machine was doing meanwhile. One long measurement on a shared VM
/// can land on a burst of stolen time and read half the true figure; the
/// median of several does not.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Verifications per second, one figure per sample, in the order measured.
    pub samples: Vec<f64>,
    /// Share of the cores' time the hypervisor stole during the probe.
    pub steal_share: f64,
    /// The first core's clock as the kernel reports it, in MHz.
    pub mhz: Option<f64>,
}

impl Probe {
    /// `samples` measurements of `each`, back to back.
    pub fn measure(samples: usize, each: Duration) -> Probe {
        let before = crate::machine::MachineTimes::now();
        let samples = (0..samples.max(1))
            .map(|_| verify_strict_per_s(each))
            .collect();
        let steal_share = match (before, crate::machine::MachineTimes::now()) {
            (Some(b), Some(a)) => a.since(&b).steal_share(),
            _ => 0.0,
        };
        Probe {
            samples,
            steal_share,
            mhz: crate::machine::cpu_mhz(),
        }
    }

    pub fn median(&self) -> f64 {
        median(&self.samples)
    }
}

/// The ceiling of a run: probed before the load and after it.
///
/// **The rule** (docs/performance.md, "How ingest is measured"): the ceiling
/// is the median of every sample of both probes, and a run's ratio is its
/// throughput over that median. The run is *steady* when the two probes'
/// medians differ by at most 10% of it; a ratio from an unsteady run says
/// more about the machine's neighbours than about the notary. So does one
/// during whose load the hypervisor stole more than [`MAX_STEAL`] of the
/// machine's time (`loadgen ingest` checks both).
#[derive(Debug, Clone)]
pub struct Ceiling {
    pub before: Probe,
    pub after: Probe,
}

/// Largest difference between the medians of the probes before and after a
/// run, as a share of the ceiling, for the run to count as steady.
pub const STEADY: f64 = 0.10;

/// Largest share of the machine's time the hypervisor may steal during the
/// load for the run to count as steady.
pub const MAX_STEAL: f64 = 0.02;

impl Ceiling {
    /// Every sample of both probes.
    fn all(&self) -> Vec<f64> {
        [&self.before.samples[..], &self.after.samples[..]].concat()
    }

    pub fn median(&self) -> f64 {
        median(&self.all())
    }

    /// (lowest, highest) sample of both probes.
    pub fn range(&self) -> (f64, f64) {
        let all = self.all();
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    /// How far apart the two probes' medians are, as a share of the ceiling.
    pub fn drift(&self) -> f64 {
        (self.before.median() - self.after.median()).abs() / self.median()
    }

    pub fn steady(&self) -> bool {
        self.drift() <= STEADY
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(samples: &[f64]) -> Probe {
        Probe {
            samples: samples.to_vec(),
            steal_share: 0.0,
            mhz: None,
        }
    }

    #[test]
    fn the_ceiling_is_the_median_of_both_probes_and_a_stolen_sample_does_not_move_it() {
        let c = Ceiling {
            before: probe(&[50.0, 49.0, 25.0, 51.0, 50.0]),
            after: probe(&[48.0, 50.0, 49.0, 52.0, 50.0]),
        };
        assert_eq!(c.median(), 50.0);
        assert_eq!(c.range(), (25.0, 52.0));
        assert!(c.steady(), "drift {}", c.drift());
        let drifted = Ceiling {
            before: probe(&[60.0, 61.0, 59.0]),
            after: probe(&[30.0, 31.0, 29.0]),
        };
        assert!(!drifted.steady());
    }
}
