//! The sequencer: the one thread that appends to the log.
//!
//! Handlers check a submission (format, signature) on the async runtime and
//! hand it over through a bounded queue. The sequencer takes everything that
//! is waiting (up to `max_batch`, waiting at most `max_wait` for more) and
//! appends it as one batch: one synced RocksDB write and one signed
//! checkpoint, however many submissions it holds (group commit). Replies go
//! out only after the write returned.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::atomic::Ordering::Relaxed;

use ledger::log::{Log, Outcome, Submission};
use tokio::sync::oneshot;

use crate::metrics::Metrics;

#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Most submissions in one batch.
    pub max_batch: usize,
    /// How long a batch may wait for more submissions once it has one.
    pub max_wait: Duration,
    /// Submissions waiting beyond this are refused with 503.
    pub queue: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_batch: 1024,
            max_wait: Duration::ZERO,
            queue: 8192,
        }
    }
}

/// The append failed; nothing of the batch was written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the store could not be written: {0}")]
pub struct Unavailable(pub String);

pub type Reply = Result<Outcome, Unavailable>;

struct Job {
    submission: Submission,
    reply: oneshot::Sender<Reply>,
    queued_at: Instant,
}

/// The newest checkpoint, shared with the read API.
#[derive(Debug, Clone)]
pub struct Latest {
    pub size: u64,
    pub note: String,
}

#[derive(Clone)]
pub struct SequencerHandle {
    tx: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the notary is at capacity; retry shortly")]
    QueueFull,
    #[error("the notary is shutting down")]
    Closed,
}

impl SequencerHandle {
    /// Queues a checked submission without blocking.
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

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Starts the sequencer thread; it ends when every handle is dropped.
pub fn spawn(
    log: Log,
    config: SequencerConfig,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
) -> (SequencerHandle, JoinHandle<()>) {
    let (tx, rx) = sync_channel(config.queue.max(1));
    metrics.tree_size.store(log.tree().size, Relaxed);
    let m = metrics.clone();
    let thread = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || run(log, config, rx, latest, m))
        .expect("spawn sequencer thread");
    (SequencerHandle { tx, metrics }, thread)
}

fn run(
    mut log: Log,
    config: SequencerConfig,
    rx: Receiver<Job>,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
) {
    while let Ok(first) = rx.recv() {
        let jobs = collect_batch(first, &rx, &config);
        let started = Instant::now();
        metrics.queue_depth.fetch_sub(jobs.len() as u64, Relaxed);
        metrics.batch_size.observe(jobs.len() as f64);
        for j in &jobs {
            metrics
                .queue_wait_seconds
                .observe_duration(started - j.queued_at);
        }
        let submissions: Vec<Submission> = jobs.iter().map(|j| j.submission.clone()).collect();
        match log.append(&submissions, now_ms()) {
            Ok(outcomes) => {
                {
                    let mut l = latest.write().unwrap_or_else(|p| p.into_inner());
                    l.size = log.tree().size;
                    l.note = log.checkpoint().to_owned();
                }
                metrics
                    .sequencing_seconds
                    .observe_duration(started.elapsed());
                if let Some(t) = log.last_commit_time() {
                    metrics.fsync_seconds.observe_duration(t);
                }
                metrics.tree_size.store(log.tree().size, Relaxed);
                for o in &outcomes {
                    match o {
                        Outcome::Appended(_) => metrics.appended.fetch_add(1, Relaxed),
                        Outcome::Duplicate(_) => metrics.duplicates.fetch_add(1, Relaxed),
                        Outcome::Refused(_) => 0,
                    };
                }
                tracing::debug!(
                    batch = jobs.len(),
                    size = log.tree().size,
                    micros = started.elapsed().as_micros() as u64,
                    "batch appended"
                );
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                metrics.store_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, batch = jobs.len(), "append failed; nothing acknowledged");
                for job in jobs {
                    let _ = job.reply.send(Err(Unavailable(e.to_string())));
                }
            }
        }
    }
}

fn collect_batch(first: Job, rx: &Receiver<Job>, config: &SequencerConfig) -> Vec<Job> {
    let mut jobs = vec![first];
    let deadline = Instant::now() + config.max_wait;
    while jobs.len() < config.max_batch {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match rx.recv_timeout(left) {
                    Ok(job) => jobs.push(job),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        }
    }
    jobs
}
