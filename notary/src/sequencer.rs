//! The sequencer: the one thread that appends to the log.
//!
//! It takes every verified submission that is waiting (up to `max_batch`,
//! waiting at most `max_wait` for more once it has one) and appends them as
//! one batch: one synced RocksDB write and one signed checkpoint however
//! many submissions it holds (group commit). Replies go out only after the
//! write has returned.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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

fn run(
    mut log: Log,
    config: IngestConfig,
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
