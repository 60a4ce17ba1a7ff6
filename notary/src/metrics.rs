//! Prometheus metrics (text exposition format 0.0.4), served at `/metrics`.
//!
//! Kept to atomics and fixed-bucket histograms: the sequencer updates them
//! on every batch, so they must cost next to nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// A histogram with fixed upper bounds.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            if value <= *b {
                c.fetch_add(1, Relaxed);
            }
        }
        self.sum_micros.fetch_add((value * 1e6) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", c.load(Relaxed));
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
const SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

pub struct Metrics {
    /// Submissions waiting for the sequencer.
    pub queue_depth: AtomicU64,
    pub tree_size: AtomicU64,
    pub appended: AtomicU64,
    pub duplicates: AtomicU64,
    pub store_errors: AtomicU64,
    /// Wall clock minus the notary's clock (ms): non-zero after a jump.
    pub clock_offset_ms: AtomicI64,
    /// Jumps of the wall clock (more than 1 s either way) seen since start.
    pub clock_jumps: AtomicU64,
    pub batch_size: Histogram,
    /// Signatures per batch equation.
    pub verify_batch_size: Histogram,
    /// Time from taking a batch to having sent its receipts (decide, sign, write, prove).
    pub sequencing_seconds: Histogram,
    /// The synced RocksDB write of a batch.
    pub fsync_seconds: Histogram,
    /// Time a submission spent queued before its batch was taken.
    pub queue_wait_seconds: Histogram,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// Per witness: entries the newest checkpoint is ahead of what it
    /// cosigned, and failures by cause.
    witnesses: Mutex<BTreeMap<String, WitnessFigures>>,
}

/// One witness's lag (entries) and failures by cause.
type WitnessFigures = (u64, BTreeMap<&'static str, u64>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            queue_depth: AtomicU64::new(0),
            tree_size: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            clock_offset_ms: AtomicI64::new(0),
            clock_jumps: AtomicU64::new(0),
            batch_size: Histogram::new(SIZES),
            verify_batch_size: Histogram::new(SIZES),
            sequencing_seconds: Histogram::new(SECONDS),
            fsync_seconds: Histogram::new(SECONDS),
            queue_wait_seconds: Histogram::new(SECONDS),
            refusals: Mutex::new(BTreeMap::new()),
            witnesses: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// Counts a refused request by its error code.
    pub fn refused(&self, code: &'static str) {
        *self
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    /// How far `witness` is behind the newest checkpoint, in entries.
    pub fn witness_lag(&self, witness: &str, entries: u64) {
        let mut w = self.witnesses.lock().unwrap_or_else(|p| p.into_inner());
        w.entry(witness.to_owned()).or_default().0 = entries;
    }

    /// Counts a failed attempt to have `witness` cosign, by cause.
    pub fn witness_failure(&self, witness: &str, why: &'static str) {
        let mut w = self.witnesses.lock().unwrap_or_else(|p| p.into_inner());
        *w.entry(witness.to_owned())
            .or_default()
            .1
            .entry(why)
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        gauge(
            &mut out,
            "share_audit_queue_depth",
            "Submissions waiting for the sequencer.",
            "gauge",
            self.queue_depth.load(Relaxed),
        );
        gauge(
            &mut out,
            "share_audit_tree_size",
            "Entries in the log (size of the newest checkpoint).",
            "gauge",
            self.tree_size.load(Relaxed),
        );
        gauge(
            &mut out,
            "share_audit_entries_appended_total",
            "Entries appended since start.",
            "counter",
            self.appended.load(Relaxed),
        );
        gauge(
            &mut out,
            "share_audit_duplicates_total",
            "Resubmissions answered with the original receipt.",
            "counter",
            self.duplicates.load(Relaxed),
        );
        gauge(
            &mut out,
            "share_audit_store_errors_total",
            "Batches whose write failed (nothing acknowledged).",
            "counter",
            self.store_errors.load(Relaxed),
        );
        gauge(
            &mut out,
            "share_audit_clock_jumps_total",
            "Jumps of the wall clock (more than 1 s either way) seen since start.",
            "counter",
            self.clock_jumps.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP share_audit_clock_offset_seconds Wall clock minus the notary's clock: positive while the notary catches up with a forward jump, negative after a backward jump it does not follow.\n# TYPE share_audit_clock_offset_seconds gauge\nshare_audit_clock_offset_seconds {}",
            self.clock_offset_ms.load(Relaxed) as f64 / 1000.0
        );
        self.batch_size.render(
            &mut out,
            "share_audit_batch_size",
            "Submissions per sequenced batch.",
        );
        self.verify_batch_size.render(
            &mut out,
            "share_audit_verify_batch_size",
            "Signatures checked per batch equation.",
        );
        self.sequencing_seconds.render(
            &mut out,
            "share_audit_sequencing_seconds",
            "Time to sequence, write, sign and prove one batch.",
        );
        self.fsync_seconds.render(
            &mut out,
            "share_audit_fsync_seconds",
            "Time of the synced RocksDB write of one batch.",
        );
        self.queue_wait_seconds.render(
            &mut out,
            "share_audit_queue_wait_seconds",
            "Time a submission waited for its batch.",
        );
        let _ = writeln!(out, "# HELP share_audit_refusals_total Refused requests by error code.\n# TYPE share_audit_refusals_total counter");
        for (code, n) in self
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "share_audit_refusals_total{{reason=\"{code}\"}} {n}");
        }
        let witnesses = self.witnesses.lock().unwrap_or_else(|p| p.into_inner());
        if !witnesses.is_empty() {
            let _ = writeln!(out, "# HELP share_audit_witness_lag_entries Entries the newest checkpoint is ahead of what each witness cosigned.\n# TYPE share_audit_witness_lag_entries gauge");
            for (name, (lag, _)) in witnesses.iter() {
                let _ = writeln!(
                    out,
                    "share_audit_witness_lag_entries{{witness=\"{name}\"}} {lag}"
                );
            }
            let _ = writeln!(out, "# HELP share_audit_witness_failures_total Failed attempts to have each witness cosign, by cause.\n# TYPE share_audit_witness_failures_total counter");
            for (name, (_, failures)) in witnesses.iter() {
                for (why, n) in failures {
                    let _ = writeln!(out, "share_audit_witness_failures_total{{witness=\"{name}\",cause=\"{why}\"}} {n}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.batch_size.observe(3.0);
        m.refused("bad_signature");
        m.refused("bad_signature");
        let text = m.render();
        assert!(
            text.contains("share_audit_batch_size_bucket{le=\"4\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("share_audit_batch_size_bucket{le=\"2\"} 0\n"));
        assert!(text.contains("share_audit_batch_size_count 1\n"));
        assert!(text.contains("share_audit_refusals_total{reason=\"bad_signature\"} 2\n"));
    }
}
