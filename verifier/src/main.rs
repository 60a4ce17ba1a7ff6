//! `verifier`: offline verification for auditors.
//!
//! Exit status: 0 valid, 1 invalid (the message names what failed),
//! 2 usage error (bad arguments, unreadable file, unusable policy).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ledger::policy::Policy;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "verifier",
    version,
    about = "Verify share-audit receipts and checkpoints offline"
)]
struct Cli {
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a receipt: checkpoint signature, inclusion, department signature and permission.
    Receipt {
        file: PathBuf,
        #[arg(long)]
        policy: PathBuf,
    },
    /// Verify that checkpoint NEW extends checkpoint OLD (PROOF: one base64 hash per line).
    Consistency {
        old: PathBuf,
        new: PathBuf,
        proof: PathBuf,
        /// Trust policy whose log keys must have signed both checkpoints.
        #[arg(long)]
        policy: PathBuf,
    },
}

struct Usage(String);

fn read(path: &Path) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

fn load_policy(path: &Path) -> Result<Policy, Usage> {
    Policy::read(path).map_err(|e| Usage(e.to_string()))
}

fn run(cli: &Cli) -> Result<Result<serde_json::Value, verifier::VerifyError>, Usage> {
    Ok(match &cli.command {
        Command::Receipt { file, policy } => {
            let policy = load_policy(policy)?;
            verifier::verify_receipt(&read(file)?, &policy).map(|v| verifier::receipt_report(&v))
        }
        Command::Consistency {
            old,
            new,
            proof,
            policy,
        } => {
            let policy = load_policy(policy)?;
            let proof = String::from_utf8(read(proof)?)
                .map_err(|_| Usage("proof file is not UTF-8".into()))?;
            verifier::verify_checkpoints(&read(old)?, &read(new)?, &proof, &policy).map(|(o, n)| {
                json!({ "valid": true, "origin": o.origin, "old_size": o.size, "new_size": n.size, "new_root": n.root.to_base64() })
            })
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::exit_code(match run(&cli) {
        Err(Usage(msg)) => {
            if cli.json {
                cli::outln!(
                    "{}",
                    json!({ "valid": false, "error": "usage", "message": msg })
                );
            } else {
                cli::errln!("verifier: {msg}");
            }
            ExitCode::from(2)
        }
        Ok(Ok(report)) => {
            if cli.json {
                cli::outln!("{report}");
            } else if report.get("kind").is_some() {
                cli::outln!(
                    "VALID: entry {} ({}) signed by {}, notarised {}, in checkpoint {} of size {}",
                    report["index"],
                    report["kind"].as_str().unwrap_or(""),
                    report["department"].as_str().unwrap_or(""),
                    ledger::time::cst(report["notarised_time_ms"].as_u64().unwrap_or(0)),
                    report["checkpoint"]["origin"].as_str().unwrap_or(""),
                    report["checkpoint"]["size"]
                );
            } else {
                cli::outln!(
                    "VALID: checkpoint of size {} extends checkpoint of size {}",
                    report["new_size"],
                    report["old_size"]
                );
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            if cli.json {
                cli::outln!(
                    "{}",
                    json!({ "valid": false, "error": e.code(), "message": e.to_string() })
                );
            } else {
                cli::outln!("INVALID: {e}");
            }
            ExitCode::from(1)
        }
    })
}
