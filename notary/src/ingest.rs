//! The write path, in three stages connected by bounded queues:
//!
//! 1. HTTP handlers parse and check each submission on the async runtime and
//!    queue it ([`IngestHandle::submit`]); a full queue is a 503, not memory.
//! 2. Verification threads (half the cores) take up to `verify_batch` queued
//!    submissions at a time and check their signatures with the batch path of
//!    [`ledger::signature`]; bad ones are answered at once, good ones go on.
//! 3. The sequencer thread ([`crate::sequencer`]) appends what has been
//!    verified as one batch: one synced write, one checkpoint.
//!
//! Stages 2 and 3 overlap: while one batch is being written and synced, the
//! next is being verified.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ledger::append::{Log, Submission};
use ledger::attestation::{decode_key, AttestationError};
use ledger::signature::{self, DecodedKey, SignedStatement};
use tokio::sync::oneshot;

use crate::clock::TimeSource;
use crate::job::{Job, Rejection, Reply};
use crate::metrics::Metrics;
use crate::sequencer::{self, Latest};

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Submissions waiting to be verified beyond this are refused with 503.
    pub queue: usize,
    /// Verification threads (default: half the cores, at least one; the
    /// HTTP handlers, the sequencer and the writer need the rest).
    pub verify_threads: usize,
    /// Most signatures checked in one batch equation.
    pub verify_batch: usize,
    /// How long a verification thread waits to fill its batch.
    pub verify_wait: Duration,
    /// Most submissions appended in one batch (one fsync, one checkpoint).
    pub max_batch: usize,
    /// Where the notary reads the time ([`TimeSource`]).
    pub time: TimeSource,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            queue: 8192,
            verify_threads: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1)),
            verify_batch: 64,
            verify_wait: Duration::from_micros(200),
            max_batch: 1024,
            time: TimeSource::System,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the notary is at capacity; retry shortly")]
    QueueFull,
    #[error("the notary is shutting down")]
    Closed,
}

#[derive(Clone)]
pub struct IngestHandle {
    tx: Sender<Job>,
    metrics: Arc<Metrics>,
}

impl IngestHandle {
    /// Queues a parsed submission without blocking.
    pub fn submit(&self, submission: Submission) -> Result<oneshot::Receiver<Reply>, SubmitError> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job {
            submission,
            reply,
            queued_at: Instant::now(),
        }) {
            Ok(()) => {
                self.metrics.queue_depth.fetch_add(1, Relaxed);
                Ok(rx)
            }
            Err(TrySendError::Full(_)) => Err(SubmitError::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }
}

/// Starts the verification threads and the sequencer. They end, in order,
/// once every [`IngestHandle`] is dropped; join the returned threads to wait.
pub fn start(
    log: Log,
    config: IngestConfig,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
) -> (IngestHandle, Vec<JoinHandle<()>>) {
    let (tx, rx) = bounded::<Job>(config.queue.max(1));
    let (seq_tx, seq_rx) = bounded::<Job>(2 * config.max_batch.max(1));
    let mut threads = sequencer::spawn(
        log,
        config.max_batch,
        seq_rx,
        latest,
        metrics.clone(),
        config.time.clone(),
    );
    for n in 0..config.verify_threads.max(1) {
        let (rx, seq_tx, metrics) = (rx.clone(), seq_tx.clone(), metrics.clone());
        let config = config.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("verify-{n}"))
                .spawn(move || verify_loop(&rx, &seq_tx, &config, &metrics))
                .expect("spawn verification thread"),
        );
    }
    (IngestHandle { tx, metrics }, threads)
}

/// Keys decoded once per thread: registered keys sign again and again.
const KEY_CACHE_LIMIT: usize = 65_536;

fn verify_loop(rx: &Receiver<Job>, seq_tx: &Sender<Job>, config: &IngestConfig, metrics: &Metrics) {
    let mut keys: HashMap<[u8; 32], DecodedKey> = HashMap::new();
    let batch = config.verify_batch.max(1);
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        // A fuller batch equation is cheaper per signature; wait a little
        // for one, but only while submissions are arriving.
        let deadline = Instant::now() + config.verify_wait;
        while jobs.len() < batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => match rx.recv_deadline(deadline) {
                    Ok(j) => jobs.push(j),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                },
            }
        }
        if keys.len() > KEY_CACHE_LIMIT {
            keys.clear();
        }
        metrics.verify_batch_size.observe(jobs.len() as f64);
        let verdicts = check_signatures(&mut keys, &jobs);
        for (job, verdict) in jobs.into_iter().zip(verdicts) {
            match verdict {
                Ok(()) => {
                    if seq_tx.send(job).is_err() {
                        return; // the sequencer has stopped
                    }
                }
                Err(e) => {
                    metrics.queue_depth.fetch_sub(1, Relaxed);
                    let _ = job.reply.send(Err(Rejection::BadSignature(e)));
                }
            }
        }
    }
}

/// Checks the signatures of `jobs`: `Ok` for each that verifies.
fn check_signatures(
    keys: &mut HashMap<[u8; 32], DecodedKey>,
    jobs: &[Job],
) -> Vec<Result<(), AttestationError>> {
    let decoded: Vec<Result<DecodedKey, AttestationError>> = jobs
        .iter()
        .map(|j| {
            let k = &j.submission.statement.signer.key;
            if let Some(d) = keys.get(&k.0) {
                return Ok(*d);
            }
            let d = decode_key(k)?;
            keys.insert(k.0, d);
            Ok(d)
        })
        .collect();
    let mut verdicts: Vec<Result<(), AttestationError>> = Vec::with_capacity(jobs.len());
    let mut items = Vec::with_capacity(jobs.len());
    let mut at = Vec::with_capacity(jobs.len());
    for (i, (job, key)) in jobs.iter().zip(&decoded).enumerate() {
        match key {
            Ok(key) => {
                items.push(SignedStatement {
                    key,
                    statement: &job.submission.attestation.statement,
                    signature: &job.submission.attestation.signature,
                });
                at.push(i);
                verdicts.push(Ok(()));
            }
            Err(e) => verdicts.push(Err(e.clone())),
        }
    }
    for (i, r) in at.into_iter().zip(signature::verify_batch(&items)) {
        verdicts[i] = r.map_err(AttestationError::BadSignature);
    }
    verdicts
}
