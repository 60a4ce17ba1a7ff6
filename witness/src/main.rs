//! `witness`: make a witness key, or serve the tlog-witness API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use witness::cosigner::Cosigner;
use witness::logs::Logs;
use witness::witness::Witness;

#[derive(Parser)]
#[command(
    name = "witness",
    version,
    about = "A C2SP tlog-witness for share-audit notaries"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make the witness key: DIR/witness.key (0600) and DIR/witness.vkey.
    Init {
        #[arg(long)]
        data: PathBuf,
        /// The witness's name, e.g. witness.gd.gov.cn/w1.
        #[arg(long)]
        name: String,
    },
    /// Serve POST /add-checkpoint and GET /checkpoint/<origin>.
    Serve {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// The logs followed: tlog-policy `log <vkey> [<url>]` lines.
        #[arg(long)]
        logs: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WITNESS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    cli::exit_code(match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::errln!("witness: {e:#}");
            ExitCode::FAILURE
        }
    })
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { data, name } => {
            let key = data.join("witness.key");
            if key.exists() {
                bail!(
                    "{} exists; refusing to replace a witness key",
                    key.display()
                );
            }
            std::fs::create_dir_all(&data)
                .with_context(|| format!("creating {}", data.display()))?;
            let cosigner = Cosigner::new(&name, SigningKey::generate(&mut rand::rngs::OsRng))
                .with_context(|| format!("--name {name:?}"))?;
            ledger::keyfile::write_secret(&key, &cosigner.encode_private())
                .with_context(|| format!("writing {}", key.display()))?;
            let vkey = cosigner.verifier().encode();
            std::fs::write(data.join("witness.vkey"), format!("{vkey}\n"))?;
            cli::outln!("witness key: {vkey}");
            cli::outln!("policies that count this witness add: witness {vkey}");
            Ok(())
        }
        Command::Serve { data, listen, logs } => {
            let cosigner = load_key(&data.join("witness.key"))?;
            let text = ledger::policy::read_small(&logs)
                .with_context(|| format!("reading {}", logs.display()))?;
            let logs = Logs::parse(&text).with_context(|| format!("{}", logs.display()))?;
            let witness = Arc::new(Witness::open(logs, cosigner, &data)?);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                cli::outln!("witness listening on http://{}", listener.local_addr()?);
                axum::serve(listener, witness::server::router(witness))
                    .with_graceful_shutdown(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await?;
                Ok(())
            })
        }
    }
}

/// Reads the witness key, refusing a file others can read.
fn load_key(path: &Path) -> Result<Cosigner> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {} (make it with `witness init`)", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by others (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
    }
    let text =
        ledger::policy::read_small(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Cosigner::parse_private(&text)?)
}
