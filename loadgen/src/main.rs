//! `loadgen`: benchmarks against a running notary.
//!
//!   loadgen ingest --notary URL --root ROOT.key [--concurrency C] [--count N] [--rate R] [--json]
//!   loadgen proofs --notary URL --root ROOT.key [--sizes 10000,1000000] [--json]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use hyper::body::Bytes;
use loadgen::breakdown::{Breakdown, Snapshot};
use loadgen::ceiling::{self, Ceiling, Probe};
use loadgen::client::{parse_url, BareConn, Conn, SignedRead};
use loadgen::stats::{disk_bytes, micros, peak_rss_bytes, Latencies};
use loadgen::workload::Workload;
use rand::Rng as _;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "loadgen", about = "Benchmarks for the share-audit notary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// The notary, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    notary: String,
    /// The root key of the notary's trust policy (registers the benchmark's departments).
    #[arg(long)]
    root: PathBuf,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Departments taking part (half providers, half requesters).
    #[arg(long, default_value_t = 100)]
    departments: usize,
    /// Sharing cases the load is spread over.
    #[arg(long, default_value_t = 1000)]
    cases: usize,
    /// The notary's pid, to report its peak RSS.
    #[arg(long)]
    notary_pid: Option<u32>,
    /// The notary's data directory, to report bytes on disk per entry.
    #[arg(long)]
    data: Option<PathBuf>,
    /// End with one JSON object of the figures.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Sustained ingest: throughput and receipt latency, against the Ed25519 ceiling.
    Ingest {
        #[command(flatten)]
        common: Common,
        /// Attestations to send.
        #[arg(long, default_value_t = 200_000)]
        count: usize,
        /// Send at this rate (attestations per second, open loop) instead of as fast as possible.
        #[arg(long)]
        rate: Option<f64>,
        /// Attestations per request: above 1, uses POST /v1/attestations/batch.
        #[arg(long, default_value_t = 1)]
        bulk: usize,
        /// Seconds of each sample of the Ed25519 ceiling.
        #[arg(long, default_value_t = 1.0)]
        ceiling_secs: f64,
        /// Samples of the ceiling before the load, and again after it.
        #[arg(long, default_value_t = 5)]
        ceiling_samples: usize,
    },
    /// The `--logs` file of the witness benchmark's synthetic logs.
    WitnessLogs {
        #[arg(long, default_value_t = 4)]
        origins: usize,
    },
    /// Cosignatures per second one witness sustains: synthetic logs, one
    /// thread each, each checkpoint STEP leaves after the previous.
    Witness {
        /// The witness, e.g. http://127.0.0.1:8090.
        #[arg(long)]
        witness: String,
        #[arg(long, default_value_t = 4)]
        origins: usize,
        /// Checkpoints per log.
        #[arg(long, default_value_t = 2000)]
        count: usize,
        #[arg(long, default_value_t = 16)]
        step: u64,
    },
    /// The Ed25519 ceiling alone, as one JSON line: what the audit of a
    /// package is measured against (scripts/bench audit).
    Ceiling {
        /// Seconds of each sample.
        #[arg(long, default_value_t = 1.0)]
        secs: f64,
        /// Samples of `verify_strict`; the figure is their median.
        #[arg(long, default_value_t = 5)]
        samples: usize,
    },
    /// Proof and tile serving at growing log sizes.
    Proofs {
        #[command(flatten)]
        common: Common,
        /// Log sizes at which to measure.
        #[arg(long, value_delimiter = ',', default_value = "10000,1000000")]
        sizes: Vec<u64>,
        /// Requests per measurement.
        #[arg(long, default_value_t = 100_000)]
        requests: usize,
    },
}

/// The outcome of sending a set of requests.
struct Run {
    elapsed: Duration,
    latencies: Latencies,
    statuses: BTreeMap<u16, u64>,
}

impl Run {
    fn ok(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }
    fn per_s(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }
}

enum Requests {
    /// Submissions, `n` per request (`n > 1`: one bulk request each).
    Post(Arc<Vec<Bytes>>, usize),
    Get(Arc<Vec<String>>),
    /// Signed reads (specs/reads.md).
    SignedGet(Arc<Vec<SignedRead>>),
}

/// Joins submissions into the bodies of bulk requests (JSON arrays).
fn bulk_bodies(bodies: Vec<Bytes>, n: usize) -> Vec<Bytes> {
    bodies
        .chunks(n)
        .map(|c| {
            let mut b = Vec::with_capacity(c.iter().map(Bytes::len).sum::<usize>() + c.len() + 2);
            b.push(b'[');
            for (i, x) in c.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(x);
            }
            b.push(b']');
            Bytes::from(b)
        })
        .collect()
}

/// The per-item statuses of a bulk answer, without parsing its receipts.
fn bulk_statuses(body: &[u8], statuses: &mut BTreeMap<u16, u64>) {
    let needle = br#"{"status":"#;
    let mut at = 0;
    while let Some(i) = body[at..].windows(needle.len()).position(|w| w == needle) {
        let digits = &body[at + i + needle.len()..at + i + needle.len() + 3];
        if let Some(code) = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
        {
            *statuses.entry(code).or_default() += 1;
        }
        at += i + needle.len();
    }
}

/// Sends every request over `concurrency` connections. With `rate`, request
/// `i` is due at `start + i / rate` and its latency counts from then, so a
/// stalled server is not hidden by a stalled client (no coordinated omission).
async fn drive(
    addr: SocketAddr,
    requests: Requests,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<Run> {
    let (total, per_request) = match &requests {
        Requests::Post(b, n) => (b.len(), (*n).max(1)),
        Requests::Get(p) => (p.len(), 1),
        Requests::SignedGet(r) => (r.len(), 1),
    };
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                // Single submissions go over a bare connection (the cheapest
                // client, see BareConn); the rest over hyper's.
                let single = matches!(&*requests, Requests::Post(_, 1));
                let mut bare = match single {
                    true => Some(BareConn::connect(addr, "/v1/attestations").await?),
                    false => None,
                };
                let mut full = match single {
                    true => None,
                    false => Some(Conn::connect(addr).await?),
                };
                let mut lat = Vec::new();
                let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= total {
                        return Ok::<_, anyhow::Error>((lat, statuses));
                    }
                    let due = match rate {
                        Some(r) => start + Duration::from_secs_f64((i * per_request) as f64 / r),
                        None => Instant::now().max(start),
                    };
                    tokio::time::sleep_until(due.into()).await;
                    match &*requests {
                        Requests::Post(bodies, 1) => {
                            let bare = bare.as_mut().expect("connected for single submissions");
                            let (status, _) = bare.post(&bodies[i]).await?;
                            *statuses.entry(status).or_default() += 1;
                            lat.push(micros(due.elapsed()));
                        }
                        Requests::Post(bodies, _) => {
                            let conn = full.as_mut().expect("connected for bulk submissions");
                            let (status, body) = conn
                                .post("/v1/attestations/batch", bodies[i].clone())
                                .await?;
                            let before: u64 = statuses.values().sum();
                            if status == 200 {
                                bulk_statuses(&body, &mut statuses);
                            } else {
                                *statuses.entry(status).or_default() += 1;
                            }
                            let answered = statuses.values().sum::<u64>() - before;
                            lat.extend(std::iter::repeat_n(
                                micros(due.elapsed()),
                                answered as usize,
                            ));
                        }
                        Requests::Get(paths) => {
                            let conn = full.as_mut().expect("connected for reads");
                            let (status, _) = conn.get(&paths[i]).await?;
                            *statuses.entry(status).or_default() += 1;
                            lat.push(micros(due.elapsed()));
                        }
                        Requests::SignedGet(reads) => {
                            let conn = full.as_mut().expect("connected for reads");
                            let (status, _) = conn.get_signed(&reads[i]).await?;
                            *statuses.entry(status).or_default() += 1;
                            lat.push(micros(due.elapsed()));
                        }
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    let mut statuses = BTreeMap::new();
    for t in tasks {
        let (lat, st) = t.await??;
        all.extend(lat);
        for (s, n) in st {
            *statuses.entry(s).or_default() += n;
        }
    }
    Ok(Run {
        elapsed: start.elapsed(),
        latencies: Latencies::new(all),
        statuses,
    })
}

/// The notary's batch counters (`/metrics`): batches prepared, attestations
/// in them, batches written (with a checkpoint), and seconds spent in those
/// synced writes, so far.
async fn batch_counters(addr: SocketAddr) -> Result<(f64, f64, f64, f64)> {
    let (_, body) = Conn::connect(addr).await?.get("/metrics").await?;
    let text = String::from_utf8_lossy(&body);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("share_audit_batch_size_count"),
        value("share_audit_batch_size_sum"),
        value("share_audit_fsync_seconds_count"),
        value("share_audit_fsync_seconds_sum"),
    ))
}

async fn tree_size(addr: SocketAddr) -> Result<u64> {
    let (_, body) = Conn::connect(addr).await?.get("/checkpoint").await?;
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("malformed checkpoint")
}

fn run_id() -> String {
    format!("{:x}", rand::thread_rng().gen::<u32>())
}

fn resources(common: &Common, entries: u64) -> Value {
    let rss = common.notary_pid.and_then(peak_rss_bytes);
    let disk = common.data.as_deref().map(disk_bytes);
    json!({
        "peak_rss_bytes": rss,
        "disk_bytes": disk,
        "disk_bytes_per_entry": disk.map(|d| d as f64 / entries.max(1) as f64),
    })
}

fn print_probe(label: &str, p: &Probe) {
    let samples: Vec<String> = p.samples.iter().map(|s| format!("{s:.0}")).collect();
    cli::outln!(
        "ceiling {label}: verify_strict median {:.0}/s (samples {}), steal {:.1}%{}",
        p.median(),
        samples.join(", "),
        100.0 * p.steal_share,
        p.mhz
            .map(|m| format!(", cpu {m:.0} MHz"))
            .unwrap_or_default()
    );
}

fn print_run(label: &str, run: &Run) {
    cli::outln!(
        "{label}: {:.0}/s over {:.1} s; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; statuses {:?}",
        run.per_s(),
        run.elapsed.as_secs_f64(),
        run.latencies.quantile_ms(0.5),
        run.latencies.quantile_ms(0.99),
        run.latencies.quantile_ms(0.999),
        run.statuses
    );
}

async fn ingest(
    common: Common,
    count: usize,
    rate: Option<f64>,
    bulk: usize,
    (ceiling_secs, ceiling_samples): (f64, usize),
) -> Result<()> {
    let addr = parse_url(&common.notary)?;
    let root = department::load_key(&common.root)?;
    let secs = Duration::from_secs_f64(ceiling_secs);
    let probe = move || tokio::task::spawn_blocking(move || Probe::measure(ceiling_samples, secs));
    cli::outln!(
        "measuring the Ed25519 ceiling on every core ({ceiling_samples} samples of {ceiling_secs} s)…"
    );
    let before = probe().await?;
    print_probe("before", &before);
    let batch = tokio::task::spawn_blocking(move || ceiling::batch_path_per_s(secs)).await?;
    cli::outln!("batch path (64 per equation): {batch:.0}/s");

    let origin = loadgen::workload::log_origin(addr).await?;
    let workload = Workload::new(common.departments, common.cases, &run_id(), &origin);
    cli::outln!(
        "setting up {} departments and {} cases…",
        common.departments,
        common.cases
    );
    workload.set_up(&root, addr, common.concurrency).await?;
    cli::outln!("pre-signing {count} attestations…");
    let bodies = tokio::task::block_in_place(|| workload.presign(0, count));
    cli::outln!(
        "sending with {} connections{}{}…",
        common.concurrency,
        rate.map(|r| format!(" at {r:.0}/s")).unwrap_or_default(),
        if bulk > 1 {
            format!(", {bulk} attestations per request")
        } else {
            String::new()
        }
    );
    let bodies = if bulk > 1 {
        bulk_bodies(bodies, bulk)
    } else {
        bodies
    };
    let batches_before = batch_counters(addr).await?;
    let start = Snapshot::take(common.notary_pid);
    let run = drive(
        addr,
        Requests::Post(Arc::new(bodies), bulk.max(1)),
        common.concurrency,
        rate,
    )
    .await?;
    let end = Snapshot::take(common.notary_pid);
    let mut breakdown = Breakdown::between(&start, &end, run.ok());
    let (batches, batched, written, write_s) = {
        let after = batch_counters(addr).await?;
        (
            after.0 - batches_before.0,
            after.1 - batches_before.1,
            after.2 - batches_before.2,
            after.3 - batches_before.3,
        )
    };
    // The synced write's time per batch is the disk's latency as the
    // notary sees it: on a shared VM it drifts, and with it the throughput
    // a fixed number of connections can reach.
    let write_ms = 1000.0 * write_s / written.max(1.0);
    let batch_mean = batched / batches.max(1.0);
    print_run("ingest", &run);
    cli::outln!("batches: {batch_mean:.1} attestations each, synced write {write_ms:.2} ms each");
    cli::outln!(
        "CPU per attestation ({:.2} cores busy or idle over {:.1} s):",
        breakdown.cores,
        breakdown.wall_s
    );
    for line in breakdown.lines() {
        cli::outln!("{line}");
    }
    if let Some(pid) = common.notary_pid {
        let waited = tokio::task::spawn_blocking(move || {
            loadgen::machine::wait_until_quiet(pid, Duration::from_secs(30))
        })
        .await?;
        breakdown.add_deferred(&end, &Snapshot::take(common.notary_pid));
        cli::outln!(
            "waited {:.1} s for the notary to go quiet; its flushes and compactions meanwhile: {:.1} µs per attestation",
            waited.as_secs_f64(),
            breakdown.us_per_request.last().map_or(0.0, |r| r.1)
        );
    }
    let after = probe().await?;
    print_probe("after", &after);
    let ceiling = Ceiling { before, after };
    let strict = ceiling.median();
    let (lo, hi) = ceiling.range();
    let ratio = run.per_s() / strict;
    // Stolen time is CPU the notary did not get: a run that lost more than
    // MAX_STEAL of the machine is not a measure of the notary either.
    let steady = ceiling.steady() && breakdown.steal_share <= ceiling::MAX_STEAL;
    cli::outln!(
        "ceiling (median of all samples) {strict:.0}/s, range {lo:.0}–{hi:.0}, before/after drift {:.1}%, steal during the load {:.1}%{}",
        100.0 * ceiling.drift(),
        100.0 * breakdown.steal_share,
        if steady { "" } else { " — UNSTEADY: the machine changed during the run; do not quote its ratio" }
    );
    cli::outln!("ingest / verify_strict ceiling = {ratio:.2}");
    let entries = tree_size(addr).await?;
    let res = resources(&common, entries);
    if common.json {
        cli::outln!(
            "{}",
            json!({
                "bench": "ingest",
                "count": count,
                "concurrency": common.concurrency,
                "rate": rate,
                "bulk": bulk,
                "throughput_per_s": run.per_s(),
                "ceiling_per_s": strict,
                "ceiling_before_per_s": ceiling.before.median(),
                "ceiling_after_per_s": ceiling.after.median(),
                "ceiling_samples": [&ceiling.before.samples, &ceiling.after.samples],
                "ceiling_range": [lo, hi],
                "ceiling_drift": ceiling.drift(),
                "steady": steady,
                "steal_share": [ceiling.before.steal_share, breakdown.steal_share, ceiling.after.steal_share],
                "cpu_mhz": ceiling.before.mhz,
                "cpu_us_per_request": breakdown.to_json(),
                "batch_mean": batch_mean,
                "synced_write_ms": write_ms,
                "context_switches_per_request": breakdown.switches_json(),
                "batch_ceiling_per_s": batch,
                "ratio": ratio,
                "p50_ms": run.latencies.quantile_ms(0.5),
                "p99_ms": run.latencies.quantile_ms(0.99),
                "p999_ms": run.latencies.quantile_ms(0.999),
                "statuses": run.statuses,
                "entries": entries,
                "peak_rss_bytes": res["peak_rss_bytes"],
                "disk_bytes_per_entry": res["disk_bytes_per_entry"],
            })
        );
    }
    if run.ok() != count as u64 {
        bail!(
            "{} of {count} attestations were not accepted",
            count as u64 - run.ok()
        );
    }
    Ok(())
}

/// Measures inclusion proofs and tiles at the current size.
async fn measure_reads(
    addr: SocketAddr,
    size: u64,
    requests: usize,
    concurrency: usize,
) -> Result<(Run, Run)> {
    let mut rng = rand::thread_rng();
    let proofs: Vec<String> = (0..requests)
        .map(|_| format!("/v1/proof/inclusion?index={}", rng.gen_range(0..size)))
        .collect();
    let full_tiles = (size / 256).max(1);
    let tiles: Vec<String> = (0..requests)
        .map(|_| {
            let n = rng.gen_range(0..full_tiles);
            if size >= 256 {
                format!("/tile/0/{}", ledger::tiles::encode_index(n))
            } else {
                format!("/tile/0/000.p/{size}")
            }
        })
        .collect();
    let p = drive(addr, Requests::Get(Arc::new(proofs)), concurrency, None).await?;
    let t = drive(addr, Requests::Get(Arc::new(tiles)), concurrency, None).await?;
    Ok((p, t))
}

/// Signed queries (specs/api.md §Queries): random cases' timelines read by
/// their requester, and each provider's findings read by itself; a
/// hundredth and a thousandth (at most 5, one at a time) as many as proofs
/// (each is much heavier), each signed as it is sent.
async fn measure_queries(
    addr: SocketAddr,
    workload: &Workload,
    requests: usize,
    concurrency: usize,
) -> Result<(Run, Run)> {
    let mut rng = rand::thread_rng();
    let n = (requests / 100).max(1);
    let cases: Vec<SignedRead> = (0..n)
        .map(|_| {
            let j = rng.gen_range(0..workload.cases.len());
            let reader = &workload.requesters[j % workload.requesters.len()];
            SignedRead {
                key: reader.key.clone(),
                path: format!("/v1/cases/{}", workload.cases[j]),
            }
        })
        .collect();
    // At most 5, one at a time: the notary runs one such query at once and
    // refuses one that waits more than 5 s for its turn (`503 overloaded`,
    // notary/src/api/cases.rs), and at 1M entries one provider's findings
    // are seconds of work.
    let findings: Vec<SignedRead> = (0..(n / 10).clamp(1, 5))
        .map(|_| {
            let p = &workload.providers[rng.gen_range(0..workload.providers.len())];
            SignedRead {
                key: p.key.clone(),
                path: format!("/v1/findings?department={}", p.department),
            }
        })
        .collect();
    let c = drive(
        addr,
        Requests::SignedGet(Arc::new(cases)),
        concurrency,
        None,
    )
    .await?;
    let f = drive(addr, Requests::SignedGet(Arc::new(findings)), 1, None).await?;
    Ok((c, f))
}

async fn proofs(common: Common, sizes: Vec<u64>, requests: usize) -> Result<()> {
    let addr = parse_url(&common.notary)?;
    let root = department::load_key(&common.root)?;
    let origin = loadgen::workload::log_origin(addr).await?;
    let workload = Workload::new(common.departments, common.cases, &run_id(), &origin);
    workload.set_up(&root, addr, common.concurrency).await?;
    let mut sent = 0usize;
    let mut fill = Duration::ZERO;
    let mut results = Vec::new();
    let mut rss_before_queries = None;
    for &target in &sizes {
        loop {
            let size = tree_size(addr).await?;
            if size >= target {
                break;
            }
            let chunk = ((target - size) as usize).min(100_000);
            let bodies = tokio::task::block_in_place(|| workload.presign(sent, chunk));
            sent += chunk;
            let run = drive(
                addr,
                Requests::Post(Arc::new(bodies), 1),
                common.concurrency,
                None,
            )
            .await?;
            fill += run.elapsed;
            cli::outln!("filled to {} ({:.0}/s)", size + run.ok(), run.per_s());
        }
        let size = tree_size(addr).await?;
        let (p, t) = measure_reads(addr, size, requests, common.concurrency).await?;
        print_run(&format!("inclusion proofs at {size}"), &p);
        print_run(&format!("level-0 tiles at {size}"), &t);
        // Memory of the log and its proofs alone, before the queries.
        rss_before_queries = common.notary_pid.and_then(peak_rss_bytes);
        let (c, f) = measure_queries(addr, &workload, requests, common.concurrency).await?;
        print_run(&format!("case timelines at {size}"), &c);
        print_run(&format!("findings by department at {size}"), &f);
        results.push((size, p, t, c, f));
    }
    let entries = tree_size(addr).await?;
    let res = resources(&common, entries);
    if common.json {
        let (first, last) = (&results[0], &results[results.len() - 1]);
        cli::outln!(
            "{}",
            json!({
                "bench": "proofs",
                "concurrency": common.concurrency,
                "sizes": results.iter().map(|r| r.0).collect::<Vec<_>>(),
                "proofs_per_s": last.1.per_s(),
                "tiles_per_s": last.2.per_s(),
                "cases_per_s": last.3.per_s(),
                "case_p50_ms_10k": first.3.latencies.quantile_ms(0.5),
                "case_p99_ms_10k": first.3.latencies.quantile_ms(0.99),
                "case_p50_ms_1m": last.3.latencies.quantile_ms(0.5),
                "case_p99_ms_1m": last.3.latencies.quantile_ms(0.99),
                "findings_per_s": last.4.per_s(),
                "findings_p50_ms_1m": last.4.latencies.quantile_ms(0.5),
                "findings_p99_ms_1m": last.4.latencies.quantile_ms(0.99),
                "p50_ms_10k": first.1.latencies.quantile_ms(0.5),
                "p99_ms_10k": first.1.latencies.quantile_ms(0.99),
                "p50_ms_1m": last.1.latencies.quantile_ms(0.5),
                "p99_ms_1m": last.1.latencies.quantile_ms(0.99),
                "proofs_per_s_10k": first.1.per_s(),
                "fill_per_s": sent as f64 / fill.as_secs_f64().max(1e-9),
                "entries": entries,
                "peak_rss_bytes": res["peak_rss_bytes"],
                "peak_rss_bytes_before_queries": rss_before_queries,
                "disk_bytes_per_entry": res["disk_bytes_per_entry"],
            })
        );
    }
    for (size, p, t, c, f) in &results {
        if p.ok() != requests as u64
            || t.ok() != requests as u64
            || c.ok() != c.statuses.values().sum::<u64>()
            || f.ok() != f.statuses.values().sum::<u64>()
        {
            bail!(
                "some reads failed at size {size}: proofs {:?}, tiles {:?}, cases {:?}, findings {:?}",
                p.statuses,
                t.statuses,
                c.statuses,
                f.statuses
            );
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // One core's worth of client: the load generator shares the machine.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Ingest {
                common,
                count,
                rate,
                bulk,
                ceiling_secs,
                ceiling_samples,
            } => ingest(common, count, rate, bulk, (ceiling_secs, ceiling_samples)).await,
            Command::Proofs {
                common,
                sizes,
                requests,
            } => proofs(common, sizes, requests).await,
            Command::WitnessLogs { origins } => {
                cli::outln!("{}", loadgen::witness_bench::logs_file(origins).trim_end());
                Ok(())
            }
            Command::Witness {
                witness,
                origins,
                count,
                step,
            } => {
                let f = tokio::task::spawn_blocking(move || {
                    loadgen::witness_bench::run(&witness, origins, count, step)
                })
                .await??;
                let q = |p: f64| {
                    let i = ((f.latencies.len() as f64 - 1.0) * p).round() as usize;
                    f.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
                };
                let rate = f.cosignatures as f64 / f.elapsed.as_secs_f64();
                cli::outln!(
                    "witness: {} cosignatures in {:.1} s = {rate:.0}/s from {origins} logs; latency p50 {:.2} ms, p99 {:.2} ms",
                    f.cosignatures,
                    f.elapsed.as_secs_f64(),
                    q(0.5),
                    q(0.99)
                );
                cli::outln!(
                    "{}",
                    serde_json::json!({"cosignatures": f.cosignatures, "per_s": rate.round(), "p50_ms": q(0.5), "p99_ms": q(0.99), "origins": origins})
                );
                Ok(())
            }
            Command::Ceiling { secs, samples } => {
                let secs = Duration::from_secs_f64(secs);
                let strict =
                    tokio::task::spawn_blocking(move || Probe::measure(samples, secs)).await?;
                let batch =
                    tokio::task::spawn_blocking(move || ceiling::batch_path_per_s(secs)).await?;
                cli::outln!(
                    "{}",
                    serde_json::json!({
                        "verify_strict_per_s": strict.median().round(),
                        "verify_strict_samples": strict.samples.iter().map(|s| s.round()).collect::<Vec<_>>(),
                        "steal_share": strict.steal_share,
                        "batch_path_per_s": batch.round(),
                    })
                );
                Ok(())
            }
        }
    })
}
