//! The sequencer: the one thread that appends to the log.
//!
//! It takes every verified submission that is waiting (up to `max_batch`,
//! waiting at most `max_wait` for more once it has one) and appends them as
//! one batch: one synced RocksDB write and one signed checkpoint however
//! many submissions it holds (group commit). Replies go out only after the
//! write has returned.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ledger::log::{Log, Outcome, Submission};

use crate::ingest::{IngestConfig, Job, Rejection};
use crate::metrics::Metrics;

/// The newest checkpoint, shared with the read API.
#[derive(Debug, Clone)]
pub struct Latest {
    pub size: u64,
    pub note: String,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn spawn(
    log: Log,
    config: IngestConfig,
    rx: Receiver<Job>,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
) -> JoinHandle<()> {
    metrics.tree_size.store(log.tree().size, Relaxed);
    std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || run(log, config, rx, latest, metrics))
        .expect("spawn sequencer thread")
}

/// How often a broken store is retried.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);
/// Free space a recovery wants to see before reopening the store.
const PROBE_BYTES: usize = 8 << 20;

/// Whether the store's filesystem takes (and syncs) a few megabytes now.
fn has_room(dir: &Path) -> bool {
    let probe = dir.join(".space-probe");
    let written = (|| {
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    written.is_ok()
}

/// After a failed write nothing is appended until the store has been
/// reopened and the log reloaded from disk; until then every batch is
/// answered 503 at once. Recovery is tried at most once per
/// [`RECOVERY_INTERVAL`], and only when the disk has room again.
struct Recovery {
    broken: bool,
    last_attempt: Option<Instant>,
}

impl Recovery {
    fn usable(&mut self, log: &mut Log) -> bool {
        if !self.broken {
            return true;
        }
        if self
            .last_attempt
            .is_some_and(|t| t.elapsed() < RECOVERY_INTERVAL)
        {
            return false;
        }
        self.last_attempt = Some(Instant::now());
        if !has_room(log.store().path()) {
            tracing::warn!("store still has no room; refusing writes");
            return false;
        }
        match log.recover() {
            Ok(()) => {
                tracing::info!(
                    size = log.tree().size,
                    "store reopened; accepting writes again"
                );
                self.broken = false;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "store could not be reopened; will retry");
                false
            }
        }
    }
}

fn run(
    mut log: Log,
    config: IngestConfig,
    rx: Receiver<Job>,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
) {
    let mut recovery = Recovery {
        broken: false,
        last_attempt: None,
    };
    while let Ok(first) = rx.recv() {
        let jobs = collect_batch(first, &rx, &config);
        if !recovery.usable(&mut log) {
            metrics.queue_depth.fetch_sub(jobs.len() as u64, Relaxed);
            for job in jobs {
                let why = "a previous write failed and the store is not yet recovered";
                let _ = job.reply.send(Err(Rejection::Unavailable(why.into())));
            }
            continue;
        }
        let started = Instant::now();
        metrics.queue_depth.fetch_sub(jobs.len() as u64, Relaxed);
        metrics.batch_size.observe(jobs.len() as f64);
        for j in &jobs {
            metrics
                .queue_wait_seconds
                .observe_duration(started - j.queued_at);
        }
        let (submissions, replies): (Vec<Submission>, Vec<_>) =
            jobs.into_iter().map(|j| (j.submission, j.reply)).unzip();
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
                    batch = replies.len(),
                    size = log.tree().size,
                    micros = started.elapsed().as_micros() as u64,
                    "batch appended"
                );
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                recovery.broken = true;
                recovery.last_attempt = None;
                metrics.store_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, batch = replies.len(), "append failed; nothing acknowledged");
                for reply in replies {
                    let _ = reply.send(Err(Rejection::Unavailable(e.to_string())));
                }
            }
        }
    }
}

fn collect_batch(first: Job, rx: &Receiver<Job>, config: &IngestConfig) -> Vec<Job> {
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
