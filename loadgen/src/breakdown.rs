//! Where the CPU time of a run went, per request: the notary's threads by
//! stage, the load generator, the rest of the machine, idle and stolen time
//! (docs/performance.md, "Where each microsecond goes").

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::machine::{
    context_switches, process_time, thread_times, thread_times_since, MachineTimes,
};

/// Readings taken at the start or the end of a run.
pub struct Snapshot {
    at: Instant,
    machine: Option<MachineTimes>,
    notary: BTreeMap<(String, u32), f64>,
    /// The notary's and the load generator's CPU seconds, ended threads included.
    totals: (f64, f64),
    /// Context switches of the notary's threads, and of the load generator's.
    switches: (u64, u64),
}

impl Snapshot {
    pub fn take(notary_pid: Option<u32>) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            machine: MachineTimes::now(),
            notary: notary_pid.map(thread_times).unwrap_or_default(),
            totals: (
                notary_pid.map(process_time).unwrap_or(0.0),
                process_time(std::process::id()),
            ),
            switches: (
                notary_pid.map(context_switches).unwrap_or(0),
                context_switches(std::process::id()),
            ),
        }
    }
}

/// The notary's stage a thread belongs to, by the thread's name
/// (notary/src/main.rs, ingest.rs and sequencer.rs name theirs).
fn stage(thread: &str) -> &'static str {
    match thread {
        "http" => "notary_http",
        "sequencer" => "notary_sequencer",
        "writer" => "notary_writer",
        t if t.starts_with("verify-") => "notary_verify",
        t if t.starts_with("rocksdb:") => "notary_rocksdb_background",
        _ => "notary_other",
    }
}

/// CPU microseconds per request, by where they were spent, in display order.
pub struct Breakdown {
    pub requests: u64,
    pub wall_s: f64,
    pub cores: f64,
    /// Share of the machine's time stolen by the hypervisor meanwhile.
    pub steal_share: f64,
    pub us_per_request: Vec<(&'static str, f64)>,
    /// Context switches per request: the notary's threads', the load generator's.
    pub switches_per_request: (f64, f64),
}

impl Breakdown {
    pub fn between(start: &Snapshot, end: &Snapshot, requests: u64) -> Breakdown {
        let per = |seconds: f64| seconds * 1e6 / requests.max(1) as f64;
        let mut notary: BTreeMap<&'static str, f64> = BTreeMap::new();
        for (thread, t) in thread_times_since(&end.notary, &start.notary) {
            *notary.entry(stage(&thread)).or_default() += t;
        }
        let notary_total = end.totals.0 - start.totals.0;
        let loadgen = end.totals.1 - start.totals.1;
        // Threads that ended during the run are in the total only.
        let named: f64 = notary.values().sum();
        *notary.entry("notary_other").or_default() += (notary_total - named).max(0.0);
        let mut rows: Vec<(&'static str, f64)> = [
            "notary_http",
            "notary_verify",
            "notary_sequencer",
            "notary_writer",
            "notary_rocksdb_background",
            "notary_other",
        ]
        .into_iter()
        .map(|s| (s, per(notary.get(s).copied().unwrap_or(0.0))))
        .collect();
        rows.push(("notary_total", per(notary_total)));
        rows.push(("loadgen", per(loadgen)));
        let wall_s = end.at.duration_since(start.at).as_secs_f64();
        let (mut cores, mut steal_share) = (0.0, 0.0);
        if let (Some(a), Some(b)) = (&start.machine, &end.machine) {
            let m = b.since(a);
            cores = m.total() / wall_s.max(1e-9);
            steal_share = m.steal_share();
            let busy = m.user + m.system + m.interrupts;
            // Interrupts the kernel did not charge to a thread (softirq
            // time, where it is accounted apart), and other processes.
            rows.push((
                "rest_of_machine",
                per((busy - notary_total - loadgen).max(0.0)),
            ));
            rows.push(("idle", per(m.idle + m.iowait)));
            rows.push(("stolen", per(m.steal)));
        }
        Breakdown {
            requests,
            wall_s,
            cores,
            steal_share,
            us_per_request: rows,
            switches_per_request: (
                end.switches.0.saturating_sub(start.switches.0) as f64 / requests.max(1) as f64,
                end.switches.1.saturating_sub(start.switches.1) as f64 / requests.max(1) as f64,
            ),
        }
    }

    /// Adds the notary's CPU between the end of the load and `quiet` (its
    /// flushes and compactions of what the load wrote), per request.
    pub fn add_deferred(&mut self, end: &Snapshot, quiet: &Snapshot) {
        let seconds = quiet.totals.0 - end.totals.0;
        let per = seconds * 1e6 / self.requests.max(1) as f64;
        self.us_per_request.push(("notary_after_the_load", per));
    }

    pub fn to_json(&self) -> Value {
        let rows: serde_json::Map<String, Value> = self
            .us_per_request
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!((v * 10.0).round() / 10.0)))
            .collect();
        Value::Object(rows)
    }

    pub fn switches_json(&self) -> Value {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "notary": round(self.switches_per_request.0),
            "loadgen": round(self.switches_per_request.1),
        })
    }

    /// One line per row: `  notary_http            23.4 µs`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .us_per_request
            .iter()
            .map(|(k, v)| format!("  {k:<26} {v:>7.1} µs"))
            .collect();
        let (notary, loadgen) = self.switches_per_request;
        lines.push(format!(
            "  context switches           {notary:>7.2} notary, {loadgen:.2} loadgen"
        ));
        lines
    }
}
