//! The sequencer: the one thread that appends to the log, and the writer
//! thread that makes its batches durable.
//!
//! The sequencer takes every verified submission that is waiting (up to
//! `max_batch`) and prepares it as one batch: decisions, entries, tree
//! hashes and a signed checkpoint ([`Log::prepare`]). The writer thread
//! writes each prepared batch with one synced RocksDB write, in order; only
//! then does the sequencer build the batch's receipts ([`Log::finish`]) and
//! reply. While one batch is being written and synced, the next is being
//! prepared (at most [`PIPELINE_DEPTH`] batches in flight), so the fsync no
//! longer idles the sequencer.
//!
//! If a write fails, that batch and every batch prepared after it are
//! answered 503 and nothing of them is acknowledged; the log is then
//! recovered from disk before anything else is appended ([`Recovery`]).

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver, RecvTimeoutError, Sender};
use ledger::append::{Log, Outcome, PreparedBatch, Submission};
use ledger::store::Store;
use tokio::sync::oneshot;

use crate::clock::{Clock, Event, TimeSource};
use crate::job::{Job, Rejection, Reply};
use crate::metrics::Metrics;

/// Batches prepared but not yet durable.
pub const PIPELINE_DEPTH: usize = 2;
/// How often an idle sequencer reads the clock.
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// The newest checkpoint, shared with the read API.
#[derive(Debug, Clone)]
pub struct Latest {
    pub size: u64,
    pub note: String,
}

/// A prepared batch on its way to the disk, and back.
struct Writing {
    batch: PreparedBatch,
    replies: Vec<oneshot::Sender<Reply>>,
    /// Writes after a failed one in the same epoch are not attempted.
    epoch: u64,
    /// How long the write took, or why it failed.
    result: Result<Duration, String>,
    /// When the sequencer took the batch.
    started: Instant,
}

/// Starts the sequencer and the writer; they end once `jobs` is closed and
/// every batch in flight is answered.
pub(crate) fn spawn(
    log: Log,
    max_batch: usize,
    jobs: Receiver<Job>,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
    time: TimeSource,
) -> Vec<JoinHandle<()>> {
    metrics.tree_size.store(log.tree().size, Relaxed);
    let (to_writer, writer_rx) = bounded::<Writing>(PIPELINE_DEPTH);
    let (written_tx, written) = bounded::<Writing>(PIPELINE_DEPTH);
    let store = log.store().clone();
    let writer = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || write_loop(&store, &writer_rx, &written_tx))
        .expect("spawn writer thread");
    let sequencer = std::thread::Builder::new()
        .name("sequencer".into())
        .spawn(move || {
            Sequencer {
                log,
                max_batch: max_batch.max(1),
                latest,
                metrics,
                buffer: VecDeque::new(),
                in_flight: 0,
                epoch: 0,
                clock: Clock::start(time),
            }
            .run(&jobs, &to_writer, &written)
        })
        .expect("spawn sequencer thread");
    vec![sequencer, writer]
}

fn write_loop(store: &Store, rx: &Receiver<Writing>, done: &Sender<Writing>) {
    let mut failed_epoch = None;
    for mut w in rx.iter() {
        w.result = if failed_epoch == Some(w.epoch) {
            Err("an earlier write of this batch sequence failed".into())
        } else {
            let started = Instant::now();
            match w.batch.commit(store) {
                Ok(()) => Ok(started.elapsed()),
                Err(e) => {
                    failed_epoch = Some(w.epoch);
                    Err(e.to_string())
                }
            }
        };
        if done.send(w).is_err() {
            return;
        }
    }
}

struct Sequencer {
    log: Log,
    /// Most submissions appended in one batch.
    max_batch: usize,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
    buffer: VecDeque<Job>,
    in_flight: usize,
    /// Bumped by each recovery; see [`Writing::epoch`].
    epoch: u64,
    clock: Clock,
}

impl Sequencer {
    fn run(
        mut self,
        jobs: &Receiver<Job>,
        to_writer: &Sender<Writing>,
        written: &Receiver<Writing>,
    ) {
        let mut recovery = Recovery {
            broken: false,
            last_attempt: None,
        };
        let mut open = true;
        while open || self.in_flight > 0 || !self.buffer.is_empty() {
            // Nothing to do until an event arrives: no submissions, or a full
            // pipeline, or a failed sequence whose batches are still coming back.
            let idle = self.buffer.is_empty()
                || self.in_flight >= PIPELINE_DEPTH
                || (recovery.broken && self.in_flight > 0);
            if idle {
                if self.in_flight == 0 {
                    // Idle: still read the clock every second, so that a
                    // jump is seen, logged and shown while nothing arrives.
                    match jobs.recv_timeout(CLOCK_TICK) {
                        Ok(j) => self.buffer.push_back(j),
                        Err(RecvTimeoutError::Timeout) => {
                            self.notary_time();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                } else if open && self.in_flight < PIPELINE_DEPTH && !recovery.broken {
                    select! {
                        recv(jobs) -> j => match j {
                            Ok(j) => self.buffer.push_back(j),
                            Err(_) => open = false,
                        },
                        recv(written) -> w => {
                            self.written(w.expect("writer alive while batches are in flight"), &mut recovery);
                        }
                    }
                } else {
                    let w = written
                        .recv()
                        .expect("writer alive while batches are in flight");
                    self.written(w, &mut recovery);
                }
            }
            // Take whatever else is already waiting.
            while self.buffer.len() < 4 * self.max_batch {
                match jobs.try_recv() {
                    Ok(j) => self.buffer.push_back(j),
                    Err(_) => break,
                }
            }
            while let Ok(w) = written.try_recv() {
                self.written(w, &mut recovery);
            }
            if recovery.broken {
                if self.in_flight > 0 {
                    continue; // let every batch of the failed sequence come back first
                }
                if recovery.usable(&mut self.log) {
                    self.epoch += 1;
                } else {
                    self.refuse_buffered(
                        "a previous write failed and the store is not yet recovered",
                    );
                    continue;
                }
            }
            if self.in_flight < PIPELINE_DEPTH && !self.buffer.is_empty() {
                self.prepare(to_writer, &mut recovery);
            }
        }
    }

    fn refuse_buffered(&mut self, why: &str) {
        self.metrics
            .queue_depth
            .fetch_sub(self.buffer.len() as u64, Relaxed);
        for job in self.buffer.drain(..) {
            let _ = job.reply.send(Err(Rejection::Unavailable(why.into())));
        }
    }

    fn prepare(&mut self, to_writer: &Sender<Writing>, recovery: &mut Recovery) {
        let n = self.buffer.len().min(self.max_batch);
        let jobs: Vec<Job> = self.buffer.drain(..n).collect();
        let started = Instant::now();
        self.metrics.queue_depth.fetch_sub(n as u64, Relaxed);
        self.metrics.batch_size.observe(n as f64);
        for j in &jobs {
            self.metrics
                .queue_wait_seconds
                .observe_duration(started - j.queued_at);
        }
        let (submissions, replies): (Vec<Submission>, Vec<_>) =
            jobs.into_iter().map(|j| (j.submission, j.reply)).unzip();
        let time = self.notary_time();
        match self.log.prepare(&submissions, time) {
            Ok(batch) => {
                let w = Writing {
                    batch,
                    replies,
                    epoch: self.epoch,
                    result: Ok(Duration::ZERO),
                    started,
                };
                to_writer.send(w).expect("writer thread alive");
                self.in_flight += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the store failed; nothing acknowledged");
                recovery.broken = true;
                recovery.last_attempt = None;
                for reply in replies {
                    let _ = reply.send(Err(Rejection::Unavailable(e.to_string())));
                }
            }
        }
    }

    /// The time to notarise the next batch at ([`Clock`]), reporting jumps
    /// of the wall clock.
    fn notary_time(&mut self) -> u64 {
        let (time, event) = self.clock.now();
        match event {
            Event::Jumped(ms) if ms > 0 => tracing::warn!(
                ahead_ms = ms,
                "the wall clock jumped ahead of the notary's clock; notarised time catches up at most at real time (restart the notary to adopt the wall clock now)"
            ),
            Event::Jumped(ms) => tracing::warn!(
                behind_ms = -ms,
                "the wall clock jumped back; notarised time does not follow it (restart the notary to adopt the wall clock)"
            ),
            Event::Agree => tracing::info!("the notary's clock agrees with the wall clock again"),
            Event::Steady => {}
        }
        self.metrics
            .clock_offset_ms
            .store(self.clock.offset_ms(), Relaxed);
        self.metrics.clock_jumps.store(self.clock.jumps(), Relaxed);
        time
    }

    /// A batch came back from the writer: reply with receipts, or with 503.
    fn written(&mut self, w: Writing, recovery: &mut Recovery) {
        self.in_flight -= 1;
        let Writing {
            batch,
            replies,
            result,
            started,
            ..
        } = w;
        let fail = |replies: Vec<oneshot::Sender<Reply>>, why: String| {
            for reply in replies {
                let _ = reply.send(Err(Rejection::Unavailable(why.clone())));
            }
        };
        if recovery.broken {
            return fail(
                replies,
                "an earlier write failed; nothing of this batch was acknowledged".into(),
            );
        }
        let elapsed = match result {
            Ok(t) => t,
            Err(e) => {
                self.metrics.store_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, batch = replies.len(), "write failed; nothing acknowledged");
                recovery.broken = true;
                recovery.last_attempt = None;
                return fail(replies, e);
            }
        };
        let checkpoint = batch.checkpoint().map(|(size, note)| Latest {
            size,
            note: note.to_owned(),
        });
        match self.log.finish(batch) {
            Ok(outcomes) => {
                if let Some(c) = checkpoint {
                    self.metrics.fsync_seconds.observe_duration(elapsed);
                    self.metrics.tree_size.store(c.size, Relaxed);
                    *self.latest.write().unwrap_or_else(|p| p.into_inner()) = c;
                }
                for o in &outcomes {
                    match o {
                        Outcome::Appended(..) => self.metrics.appended.fetch_add(1, Relaxed),
                        Outcome::Duplicate(..) => self.metrics.duplicates.fetch_add(1, Relaxed),
                        Outcome::Refused(_) => 0,
                    };
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
                self.metrics
                    .sequencing_seconds
                    .observe_duration(started.elapsed());
            }
            Err(e) => {
                // The batch is durable, but its receipts could not be built
                // (a store read failed). Nothing is acknowledged; clients
                // that resubmit get the receipt of the entry once it reads.
                tracing::error!(error = %e, "building receipts failed");
                recovery.broken = true;
                recovery.last_attempt = None;
                fail(replies, e.to_string());
            }
        }
    }
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
