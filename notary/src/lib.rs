//! The share-audit notary: checks attestations, appends them to the RocksDB
//! ledger in batches, signs checkpoints and serves receipts and proofs. The
//! rules and formats are the `ledger` crate's; this crate runs them.
//!
//! | module | what it does | spec |
//! |---|---|---|
//! | [`api`] | the HTTP API: routes, refusals as JSON, the upload budget, tiles, signed reads | api.md, reads.md |
//! | [`server`] | connections: limits, write deadlines, graceful shutdown | api.md |
//! | [`job`] | a queued submission and the answer it waits for | notary.md |
//! | [`ingest`] | the write path's queue and its signature-verification threads | notary.md |
//! | [`sequencer`] | the one appending thread and the writer that makes batches durable | notary.md |
//! | [`clock`] | the notary's clock, which never follows a wall clock jump | notary.md |
//! | [`datadir`] | the data directory: policy, notary key, database | notary.md |
//! | [`export`] | the auditor's package, written from the store beside a serving notary | package.md |
//! | [`metrics`] | Prometheus metrics | api.md |
//! | [`witnessing`] | each new checkpoint to the witnesses; the witnessed checkpoint | witness.md |

pub mod api;
pub mod clock;
pub mod datadir;
pub mod export;
pub mod ingest;
pub mod job;
pub mod metrics;
pub mod sequencer;
pub mod server;
pub mod witnessing;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use ledger::append::Log;

use crate::api::AppState;
use crate::datadir::DataDir;
use crate::ingest::IngestConfig;
use crate::metrics::Metrics;
use crate::sequencer::Latest;

/// What reads and queries are answered with.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The authority read signatures must cover (`--public-authority`).
    pub public_authority: Option<String>,
    /// The working-day calendar (built-in national years and any
    /// jurisdiction files), for deadlines and findings.
    pub calendar: ledger::calendar::Calendar,
    pub settings: ledger::findings::Settings,
    /// A policy whose `witness` lines (with URLs) and `quorum` say who
    /// witnesses this log (`--witness-policy`).
    pub witness_policy: Option<std::path::PathBuf>,
}

/// Opens the data directory and serves the API until SIGINT or SIGTERM.
pub async fn serve(
    data: &Path,
    listen: SocketAddr,
    config: IngestConfig,
    limits: server::Limits,
    reads: ReadOptions,
) -> Result<()> {
    let dir = DataDir::new(data);
    dir.check_initialised()?;
    let store = Arc::new(dir.open_store()?);
    if let Some(key) = dir.complete_rotation(&store)? {
        tracing::info!(key = %key.encode(), "checkpoint key rotated: signing with the key the log announced");
    }
    let policy = dir.load_policy()?;
    let signer = dir.load_signer()?;
    dir.check_signing_key(&store, &signer)?;
    let log = Log::open(store.clone(), &policy, signer).context("opening the log")?;
    let latest = Arc::new(RwLock::new(Latest {
        size: log.tree().size,
        note: log.checkpoint().to_owned(),
    }));
    // The notary takes the wall clock as it is at start (specs/notary.md
    // §Notarised time): show it beside the last entry's time, for the operator.
    tracing::info!(
        origin = %policy.origin,
        size = log.tree().size,
        last_entry = %ledger::time::cst(log.tree().last_time),
        clock = %ledger::time::cst(clock::wall_ms()),
        "log opened"
    );

    let metrics = Arc::new(Metrics::default());
    let time = config.time.clone();
    let started_s = time.wall_ms() / 1000;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    // Read signatures cover the authority departments reach the notary by
    // (specs/reads.md): given, or the address it listens on; never the
    // request's own Host header, which the client chooses.
    let local = listener.local_addr()?;
    let public_authority = match reads.public_authority {
        Some(a) => a.to_ascii_lowercase(),
        None => {
            if local.ip().is_unspecified() {
                tracing::warn!(
                    addr = %local,
                    "listening on every address without --public-authority: signed reads will name an authority this one never matches; give --public-authority HOST:PORT"
                );
            }
            local.to_string()
        }
    };
    // Witnessing: off the ingest path, one thread per witness.
    let witnessed = Arc::new(witnessing::load(&dir.witnessed()));
    if let Some(path) = &reads.witness_policy {
        let witness_policy = ledger::policy::Policy::read(path)?;
        if witness_policy.origin != policy.origin {
            anyhow::bail!(
                "--witness-policy {} is for log {}, and this notary's is {}",
                path.display(),
                witness_policy.origin,
                policy.origin
            );
        }
        if !witness_policy.witnesses.iter().any(|w| w.url.is_some()) {
            anyhow::bail!(
                "--witness-policy {}: no `witness <name> <vkey> <url>` line with a URL to send checkpoints to",
                path.display()
            );
        }
        witnessing::start(
            Arc::new(witness_policy),
            store.clone(),
            latest.clone(),
            metrics.clone(),
            witnessed.clone(),
            dir.witnessed(),
        );
    }
    let (ingest, threads) = ingest::start(log, config, latest.clone(), metrics.clone());
    let app = api::router(AppState::new(api::Shared {
        store,
        ingest,
        latest,
        metrics,
        // Request ids count on from the start time (2^22 per millisecond),
        // so that they never repeat across restarts.
        next_request_id: Arc::new(std::sync::atomic::AtomicU64::new(clock::wall_ms() << 22)),
        request_timeout: limits.request_timeout,
        uploads: Arc::new(tokio::sync::Semaphore::new(limits.upload_budget)),
        tiles: Arc::new(api::TileCache::new(64 << 20)),
        roots: policy.trust_roots(),
        time,
        started_s,
        public_authority,
        nonces: api::Nonces::default(),
        calendar: reads.calendar,
        settings: reads.settings,
        witnessed,
    }));

    tracing::info!(addr = %local, "serving");
    cli::outln!("notary listening on http://{}", listener.local_addr()?);
    server::serve(listener, app, limits, shutdown_signal()).await?;
    // The router, and with it every ingest handle, is gone: the verification
    // threads and then the sequencer drain their queues and end.
    for t in threads {
        t.join().ok();
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
