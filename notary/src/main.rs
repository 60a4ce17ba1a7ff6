//! `notary`: initialise a data directory, or serve the API over it.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ledger::note::VerifierKey;
use notary::datadir::DataDir;
use notary::ingest::IngestConfig;

/// The sequencer and HTTP handlers allocate per request; mimalloc's
/// thread-local free lists cost a fraction of glibc malloc's here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "notary",
    version,
    about = "Share-audit notary: notarises government data-sharing attestations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store and the notary key; write notary.vkey and policy.txt.
    Init {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// The log's origin, for good: every statement names it and every
        /// checkpoint carries it, e.g. example.gov.cn/share-audit/2026.
        #[arg(long)]
        origin: String,
        /// Supervisor root key for the trust policy: a .vkey file (from
        /// `dept keygen`) or a vkey line. Repeatable; at least one.
        #[arg(long = "root", required = true)]
        roots: Vec<String>,
    },
    /// Write the auditor's package (specs/package.md): C2SP tiles, entry
    /// bundles, every checkpoint, the policy and the calendar. Runs beside
    /// `notary serve`; exporting again adds only what is new.
    Export {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// The package folder.
        #[arg(long)]
        out: PathBuf,
        /// Export the tree of the newest checkpoint of at most this size
        /// (default: the newest checkpoint).
        #[arg(long)]
        size: Option<u64>,
        /// The calendar folder `notary serve --calendar` was given.
        #[arg(long)]
        calendar: Option<PathBuf>,
    },
    /// Prepare a rotation of the checkpoint key (specs/checkpoint.md §Key
    /// rotation): writes notary.next.key and says how to announce it.
    RotateKey {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Most attestations appended in one batch (one fsync, one checkpoint).
        #[arg(long, default_value_t = 1024)]
        max_batch: usize,
        /// Attestations waiting beyond this are refused with 503 and Retry-After.
        #[arg(long, default_value_t = 8192)]
        queue: usize,
        /// Signature verification threads (default: half the cores, at least one).
        #[arg(long)]
        verify_threads: Option<usize>,
        /// Most signatures checked in one batch equation.
        #[arg(long, default_value_t = 64)]
        verify_batch: usize,
        /// Microseconds a verification thread waits to fill its batch.
        #[arg(long, default_value_t = 200)]
        verify_wait_us: u64,
        /// Threads serving HTTP (default: half the cores, at least one; the
        /// verification threads, the sequencer and the writer need the rest).
        #[arg(long)]
        http_threads: Option<usize>,
        /// Open connections beyond this are closed at once.
        #[arg(long, default_value_t = 4096)]
        max_connections: usize,
        /// Milliseconds a client has to send a request's headers.
        #[arg(long, default_value_t = 10_000)]
        header_timeout_ms: u64,
        /// Milliseconds a whole request (upload and answer) may take.
        #[arg(long, default_value_t = 30_000)]
        request_timeout_ms: u64,
        /// Once a client's answers back up (it does not read them), it must
        /// read 16 KiB/s in every window of this many milliseconds until it
        /// catches up, or the connection is closed.
        #[arg(long, default_value_t = 10_000)]
        write_timeout_ms: u64,
        /// On SIGTERM or SIGINT, milliseconds open connections get to finish
        /// before they are closed.
        #[arg(long, default_value_t = 10_000)]
        shutdown_timeout_ms: u64,
        /// Seconds after which a connection finishes its request and is
        /// closed (clients reconnect).
        #[arg(long, default_value_t = 600)]
        max_connection_age_s: u64,
        /// Request bodies held in memory at once, across all connections
        /// (MiB, at least 4); uploads beyond it get 503 and Retry-After.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(4..=1 << 20))]
        upload_budget_mib: u64,
        /// The host (and port) departments reach the notary by, which their
        /// read signatures name (specs/reads.md); default: the address it listens on (give it behind a proxy or a name).
        #[arg(long)]
        public_authority: Option<String>,
        /// A folder of calendar files (*.txt, specs/calendar.md) to add to
        /// the built-in national years: a jurisdiction's own days and
        /// deadlines. The verifier takes the same folder.
        #[arg(long)]
        calendar: Option<PathBuf>,
        /// Whether a supervisor's reply extension also extends the one
        /// working day of unconditional items (specs/findings.md §Settings).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        extension_for_unconditional: bool,
        /// Calendar days a case in use may go without a usage record.
        #[arg(long, default_value_t = 90)]
        usage_record_interval_days: u32,
        /// A trust policy (specs/policy.md) whose `witness` lines, with the
        /// witnesses' URLs, and `quorum` say who witnesses this log: each
        /// new checkpoint is sent to them, and published cosigned once the
        /// quorum is met (specs/witness.md).
        #[arg(long)]
        witness_policy: Option<PathBuf>,
    },
}

/// The base64 public key of a verifier key, as statements name keys.
fn base64_key(vkey: &VerifierKey) -> String {
    ledger::attestation::PublicKey(vkey.key.to_bytes()).to_string()
}

fn read_vkey(arg: &str) -> Result<VerifierKey> {
    ledger::keyfile::read_vkey(arg).context("--root takes a root's public key (.vkey)")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    // Errors are for the operator: what is wrong and what to do, never a
    // backtrace (whatever RUST_BACKTRACE says).
    cli::exit_code(match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::errln!("notary: {e:#}");
            ExitCode::FAILURE
        }
    })
}

/// Logs go to stderr: NOTARY_LOG sets the filter (e.g. `info`,
/// `notary=debug` for one line per request with its request id), and
/// NOTARY_LOG_FORMAT=json gives one JSON object per line for collectors.
/// Colours only on a terminal.
fn init_logs() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("NOTARY_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if std::env::var("NOTARY_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init {
            data,
            origin,
            roots,
        } => {
            let roots = roots
                .iter()
                .map(|r| read_vkey(r))
                .collect::<Result<Vec<_>>>()?;
            let dir = DataDir::new(&data);
            let vkey = dir.init(&origin, &roots)?;
            cli::outln!("initialised notary for {origin} in {}", data.display());
            cli::outln!("verifier key ({}): {}", dir.vkey().display(), vkey.encode());
            cli::outln!("trust policy: {}", dir.policy().display());
            match cli::stdout_error() {
                Some(e) => anyhow::bail!(
                    "the notary is initialised, but its report could not be written: {e}"
                ),
                None => Ok(()),
            }
        }
        Command::RotateKey { data } => {
            let dir = DataDir::new(&data);
            let vkey = dir.prepare_rotation()?;
            let public = base64_key(&vkey);
            cli::outln!("next checkpoint key: {}", vkey.encode());
            cli::outln!(
                "written to {} (0600) and {}",
                dir.next_key().display(),
                dir.next_vkey().display()
            );
            cli::outln!("then:");
            cli::outln!("  1. a root signs and submits the log_key entry, e.g.");
            cli::outln!("     dept sign --key root.key --policy {} --kind log_key --body '{{\"key\":\"{public}\"}}' --out log-key.json", dir.policy().display());
            cli::outln!(
                "     dept submit --notary URL --policy {} log-key.json",
                dir.policy().display()
            );
            cli::outln!(
                "  2. restart `notary serve`: it adds `log {}` to {} and signs with the new key",
                vkey.encode(),
                dir.policy().display()
            );
            cli::outln!("  3. give departments and auditors the new policy: it keeps the old key, so older receipts stay valid");
            Ok(())
        }
        Command::Export {
            data,
            out,
            size,
            calendar,
        } => {
            let started = std::time::Instant::now();
            let s = notary::export::export(&data, &out, size, calendar.as_deref())?;
            cli::outln!(
                "exported {} entries and {} checkpoints to {} in {:.2} s ({} files written, {} already there)",
                s.size,
                s.checkpoints,
                out.display(),
                started.elapsed().as_secs_f64(),
                s.written,
                s.kept
            );
            Ok(())
        }
        Command::Serve {
            data,
            listen,
            max_batch,
            queue,
            verify_threads,
            verify_batch,
            verify_wait_us,
            max_connections,
            header_timeout_ms,
            request_timeout_ms,
            write_timeout_ms,
            shutdown_timeout_ms,
            max_connection_age_s,
            upload_budget_mib,
            http_threads,
            public_authority,
            calendar,
            extension_for_unconditional,
            usage_record_interval_days,
            witness_policy,
        } => {
            let calendar = match calendar {
                Some(dir) => ledger::calendar::Calendar::with_dir(&dir)
                    .with_context(|| format!("--calendar {}", dir.display()))?,
                None => ledger::calendar::Calendar::built_in(),
            };
            let reads = notary::ReadOptions {
                public_authority,
                calendar,
                settings: ledger::findings::Settings {
                    extension_for_unconditional,
                    usage_record_interval_days,
                },
                witness_policy,
            };
            let defaults = IngestConfig::default();
            let config = IngestConfig {
                queue: queue.max(1),
                verify_threads: verify_threads.unwrap_or(defaults.verify_threads).max(1),
                verify_batch: verify_batch.max(1),
                verify_wait: Duration::from_micros(verify_wait_us),
                max_batch: max_batch.max(1),
                ..defaults
            };
            let half_the_cores =
                std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(http_threads.unwrap_or(half_the_cores).max(1))
                // Named, like the verification threads, the sequencer and
                // the writer, so that profiles and `loadgen` can tell them apart.
                .thread_name("http")
                .enable_all()
                .build()?;
            let limits = notary::server::Limits {
                max_connections,
                header_timeout: Duration::from_millis(header_timeout_ms.max(1)),
                request_timeout: Duration::from_millis(request_timeout_ms.max(1)),
                write_timeout: Duration::from_millis(write_timeout_ms.max(1)),
                shutdown_timeout: Duration::from_millis(shutdown_timeout_ms),
                max_connection_age: Duration::from_secs(max_connection_age_s.max(1)),
                // At least one maximal bulk body must fit.
                upload_budget: (upload_budget_mib as usize) << 20,
            };
            runtime.block_on(notary::serve(&data, listen, config, limits, reads))
        }
    }
}
