//! `dept`: a department's key, signature and submission tool.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use department::{keyfile, load_key, now_ms, DepartmentKey};
use ledger::attestation::{Kind, SignedAttestation};
use ledger::policy::Policy;

#[derive(Parser)]
#[command(
    name = "dept",
    version,
    about = "Sign and submit share-audit attestations for a department"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a key pair: PREFIX.key (mode 0600) and PREFIX.vkey.
    Keygen {
        /// Department id (or root name) the key signs for.
        #[arg(long)]
        name: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the base64 public key of a .key or .vkey file (as `department_key` bodies take it).
    Pubkey { file: String },
    /// Sign a statement and print the signed attestation (JSON).
    Sign {
        #[arg(long)]
        key: PathBuf,
        /// The log the statement is for: its origin, e.g. example.gov.cn/share-audit/2026.
        #[arg(long, required_unless_present = "policy", conflicts_with = "policy")]
        log: Option<String>,
        /// Take the log's origin from this trust policy (the notary's policy.txt).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Statement kind, e.g. application, approval, delivery.
        #[arg(long)]
        kind: String,
        /// The body as JSON, or @FILE.
        #[arg(long)]
        body: String,
        /// The signer's claimed time (ms since the Unix epoch); default now.
        #[arg(long)]
        signed_at: Option<u64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Submit a signed attestation; check and print the receipt (exit 1 if refused).
    Submit {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        notary: String,
        file: PathBuf,
        /// Verify the receipt against this trust policy before keeping it
        /// (without it, only that the receipt holds the attestation and its
        /// proof matches its checkpoint is checked).
        #[arg(long)]
        policy: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn write_or_print(out: &Option<PathBuf>, text: &str) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, format!("{text}\n"))
            .with_context(|| format!("writing {}", p.display())),
        None => {
            cli::outln!("{text}");
            Ok(())
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Keygen { name, out } => {
            let (key, signer) =
                DepartmentKey::generate(&name).map_err(|e| anyhow!("--name {name:?}: {e}"))?;
            keyfile::write_key_pair(&out, &signer)
                .with_context(|| format!("writing {}.key/.vkey", out.display()))?;
            cli::outln!("{}", signer.verifier().encode());
            cli::errln!(
                "public key {} written to {}.key (0600) and {}.vkey",
                key.public_key_base64(),
                out.display(),
                out.display()
            );
        }
        Command::Pubkey { file } => {
            let key = keyfile::read_vkey(&file)
                .map(|v| v.key)
                .or_else(|_| load_key(std::path::Path::new(&file)).map(|k| k.key.verifying_key()))
                .map_err(|e| anyhow!("{e}"))?;
            cli::outln!("{}", base64_encode(key.as_bytes()));
        }
        Command::Sign {
            key,
            log,
            policy,
            kind,
            body,
            signed_at,
            out,
        } => {
            let key = load_key(&key)?;
            let log = match (log, policy) {
                (Some(log), _) => log,
                (None, Some(policy)) => Policy::read(&policy)?.origin,
                (None, None) => unreachable!("clap requires --log or --policy"),
            };
            let kind = Kind::from_name(&kind).ok_or_else(|| {
                let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                anyhow!("unknown kind {kind:?}; one of: {}", names.join(", "))
            })?;
            let body_text = match body.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?
                }
                None => body,
            };
            let body = serde_json::from_str(&body_text).context("--body is not JSON")?;
            let signed = key
                .sign(&log, kind, body, signed_at.unwrap_or_else(now_ms))
                .map_err(|e| anyhow!("statement refused before signing: {e}"))?;
            write_or_print(&out, &signed.to_json())?;
        }
        Command::Submit {
            notary,
            file,
            policy,
            out,
        } => {
            let policy = policy.as_deref().map(Policy::read).transpose()?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let signed = SignedAttestation::from_json(&bytes)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let resp = department::submit(&notary, &signed)?;
            match resp.status {
                200 | 201 => {
                    let receipt = department::check_receipt(&resp.body, &signed, policy.as_ref())
                        .map_err(|e| {
                        anyhow!(
                            "the notary answered {} with no good receipt: {e}; nothing saved",
                            resp.status
                        )
                    })?;
                    write_or_print(&out, &receipt.to_json_pretty())?
                }
                status => {
                    cli::errln!("refused ({status}): {}", resp.body);
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn main() -> ExitCode {
    cli::exit_code(match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            cli::errln!("dept: {e:#}");
            ExitCode::from(2)
        }
    })
}
