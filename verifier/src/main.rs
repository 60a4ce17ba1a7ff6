//! `verifier`: offline verification for auditors.
//!
//! Exit status: 0 valid, 1 invalid (the message names what failed),
//! 2 usage error (bad arguments, unreadable file, unusable policy).

use std::io::Read as _;
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
    /// Verify receipts: checkpoint signature, inclusion, department
    /// signature and permission; show what each proves. FILES are receipt
    /// files, folders of *.json receipts, or - for standard input.
    Receipt {
        #[arg(required = true)]
        files: Vec<String>,
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
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Usage(format!("cannot read standard input: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

fn load_policy(path: &Path) -> Result<Policy, Usage> {
    Policy::read(path).map_err(|e| Usage(e.to_string()))
}

/// The receipt files named: files as given, the `*.json` of folders in
/// name order, `-` for standard input.
fn receipt_files(inputs: &[String]) -> Result<Vec<PathBuf>, Usage> {
    let mut files = Vec::new();
    for input in inputs {
        let path = PathBuf::from(input);
        if input != "-" && path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| Usage(format!("cannot read {input}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Usage(format!("{input} holds no *.json receipt")));
            }
            files.extend(found);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// Text for one verified receipt: the line it always had, then what an
/// auditor reads in it.
fn print_receipt(report: &serde_json::Value) {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    cli::outln!(
        "VALID: entry {} ({}) signed by {}, notarised {}, in checkpoint {} of size {}",
        report["index"],
        s(&report["kind"]),
        s(&report["department"]),
        s(&report["notarised_at"]),
        s(&report["checkpoint"]["origin"]),
        report["checkpoint"]["size"]
    );
    cli::outln!(
        "  notarised   {} ({})",
        s(&report["notarised_at"]),
        s(&report["notarised_at_utc"])
    );
    cli::outln!(
        "  signed at   {} (the department's claim)",
        s(&report["signed_at"])
    );
    cli::outln!(
        "  department  {} (key {})",
        s(&report["department"]),
        s(&report["signer_key"])
    );
    if let Some(case) = report["case"].as_str() {
        cli::outln!("  case        {case}");
    }
    cli::outln!("  step        {}", s(&report["kind"]));
    let statement = serde_json::to_string_pretty(&report["statement"]).unwrap_or_default();
    for (i, line) in statement.lines().enumerate() {
        let label = if i == 0 { "statement" } else { "" };
        cli::outln!("  {label:<11} {line}");
    }
    let evidence = report["evidence"].as_array().cloned().unwrap_or_default();
    if evidence.is_empty() {
        cli::outln!("  evidence    none (a root's registry entry relies on the policy alone)");
    }
    for (i, e) in evidence.iter().enumerate() {
        let label = if i == 0 { "evidence" } else { "" };
        let case = e["case"]
            .as_str()
            .map(|c| format!(" of case {c}"))
            .unwrap_or_default();
        cli::outln!(
            "  {label:<11} entry {} ({}{case}) signed by {}, notarised {}",
            e["index"],
            s(&e["kind"]),
            s(&e["department"]),
            s(&e["notarised_at"])
        );
    }
    let signers: Vec<String> = report["checkpoint"]["signed_by"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    cli::outln!(
        "  checkpoint  {} size {} root {}, signed by {}",
        s(&report["checkpoint"]["origin"]),
        report["checkpoint"]["size"],
        s(&report["checkpoint"]["root"]),
        signers.join(", ")
    );
}

/// `verifier receipt`: each receipt verified on its own; a summary when
/// there are several. Exit 1 if any is invalid.
fn receipts(cli: &Cli, inputs: &[String], policy: &Path) -> Result<ExitCode, Usage> {
    let policy = load_policy(policy)?;
    let files = receipt_files(inputs)?;
    let several = files.len() > 1;
    let mut reports = Vec::new();
    let mut invalid = 0;
    for file in &files {
        let shown = if file == Path::new("-") {
            "(stdin)".to_owned()
        } else {
            file.display().to_string()
        };
        let result = verifier::verify_receipt(&read(file)?, &policy);
        let mut report = match &result {
            Ok(r) => r.to_json(),
            Err(e) => e.to_json(),
        };
        match (&result, cli.json, several) {
            (_, true, _) => {}
            (Ok(_), false, false) => print_receipt(&report),
            (Ok(_), false, true) => {
                cli::outln!(
                    "{shown}: VALID: entry {} ({}) signed by {}, notarised {}",
                    report["index"],
                    report["kind"].as_str().unwrap_or(""),
                    report["department"].as_str().unwrap_or(""),
                    report["notarised_at"].as_str().unwrap_or("")
                );
            }
            (Err(e), false, false) => {
                cli::outln!("INVALID: {e}");
            }
            (Err(e), false, true) => {
                cli::outln!("{shown}: INVALID: {e}");
            }
        }
        if result.is_err() {
            invalid += 1;
        }
        report["file"] = json!(shown);
        reports.push(report);
    }
    if cli.json {
        if several {
            cli::outln!(
                "{}",
                json!({
                    "valid": invalid == 0,
                    "receipts": reports,
                    "counts": { "valid": files.len() - invalid, "invalid": invalid },
                })
            );
        } else {
            let mut report = reports.remove(0);
            report.as_object_mut().map(|o| o.remove("file"));
            cli::outln!("{report}");
        }
    } else if several {
        cli::outln!(
            "{} valid, {invalid} invalid, of {}",
            files.len() - invalid,
            files.len()
        );
    }
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn consistency(
    cli: &Cli,
    old: &Path,
    new: &Path,
    proof: &Path,
    policy: &Path,
) -> Result<ExitCode, Usage> {
    let policy = load_policy(policy)?;
    let proof =
        String::from_utf8(read(proof)?).map_err(|_| Usage("proof file is not UTF-8".into()))?;
    match verifier::verify_checkpoints(&read(old)?, &read(new)?, &proof, &policy) {
        Ok((o, n)) => {
            if cli.json {
                cli::outln!(
                    "{}",
                    json!({ "valid": true, "origin": o.origin, "old_size": o.size, "new_size": n.size, "new_root": n.root.to_base64() })
                );
            } else {
                cli::outln!(
                    "VALID: checkpoint of size {} extends checkpoint of size {}",
                    n.size,
                    o.size
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if cli.json {
                cli::outln!("{}", e.to_json());
            } else {
                cli::outln!("INVALID: {e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Receipt { files, policy } => receipts(&cli, files, policy),
        Command::Consistency {
            old,
            new,
            proof,
            policy,
        } => consistency(&cli, old, new, proof, policy),
    };
    cli::exit_code(match result {
        Ok(code) => code,
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
    })
}
