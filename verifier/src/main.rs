//! `verifier`: offline verification for auditors.
//!
//! Exit status: 0 valid, 1 invalid (the message names what failed),
//! 2 usage error (bad arguments, unreadable file, unusable policy).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ledger::calendar::Calendar;
use ledger::lang::Lang;
use ledger::policy::Policy;
use ledger::receipt::{Repeats, VerifiedReceipt};
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
    /// Language of the messages: en or zh (default: the locale's).
    #[arg(long, global = true, value_parser = parse_lang)]
    lang: Option<Lang>,
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
    /// The due day of a period of working days (specs/calendar.md): the day
    /// it starts is not counted; it ends at 24:00 CST of the due day.
    Deadline {
        /// When the period starts: an RFC 3339 instant, e.g. 2026-02-13T18:00:00+08:00.
        #[arg(long)]
        from: String,
        /// Working days in the period (1 to 3650).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        working_days: u32,
        /// A folder of calendar files (*.txt) to add to the built-in national
        /// years: further years, and the jurisdiction's own days.
        #[arg(long)]
        calendar: Option<PathBuf>,
    },
    /// The findings (specs/findings.md) the entries of these receipts show:
    /// late, missing and out-of-order steps of their cases. Each receipt is
    /// verified first; its evidence entries count too. (The full audit of an
    /// export sees every entry; receipts show what they hold.)
    Findings {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long)]
        policy: PathBuf,
        /// The instant to judge missing steps at (RFC 3339); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// A folder of calendar files (*.txt) to add to the built-in national
        /// years: further years, and the jurisdiction's own days.
        #[arg(long)]
        calendar: Option<PathBuf>,
        /// Whether a reply extension also extends the one working day of
        /// unconditional items (Art. 21 is silent).
        #[arg(long, default_value = "on", value_parser = ["on", "off"])]
        extension_for_unconditional: String,
        /// Calendar days a case in use may go without a usage record.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
        usage_record_interval_days: u32,
    },
    /// Audit a whole package exported by `notary export` (specs/package.md):
    /// every checkpoint, the tree, every signature, the registry replayed
    /// in order, keys declared compromised, and the findings. Exit 0
    /// valid, 1 invalid, 2 usage error.
    Audit {
        package: PathBuf,
        #[arg(long)]
        policy: PathBuf,
        /// The instant to judge missing steps at (RFC 3339); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// A calendar folder to use instead of the package's.
        #[arg(long)]
        calendar: Option<PathBuf>,
        /// Whether a reply extension also extends the one working day of
        /// unconditional items (Art. 21 is silent).
        #[arg(long, default_value = "on", value_parser = ["on", "off"])]
        extension_for_unconditional: String,
        /// Calendar days a case in use may go without a usage record.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
        usage_record_interval_days: u32,
        /// Threads that parse entries and check signatures (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Write every finding to this file, one JSON object per line (the
        /// report lists the first 1,000 and counts them all).
        #[arg(long)]
        findings_out: Option<PathBuf>,
        /// A checkpoint seen elsewhere (a signed note, or a receipt whose
        /// proof carries one): the package must hold its tree, or the
        /// notary signed two histories. Repeatable.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
    },
    /// Check two checkpoints of the log for a fork: the same size with two
    /// roots, or two sizes a consistency proof cannot join. Either is the
    /// notary's own signature on two histories: printed as the proof of
    /// misbehaviour. Exit 0 no fork, 1 fork, 2 usage.
    Fork {
        a: PathBuf,
        b: PathBuf,
        /// For two sizes: the consistency proof between them (one base64
        /// hash per line, `GET /v1/proof/consistency?from=A&to=B`).
        #[arg(long)]
        proof: Option<PathBuf>,
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

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?}: messages are in en or zh"))
}

/// The words of the text report, in each language.
struct Words {
    invalid: &'static str,
    /// After "VALID"/"INVALID".
    colon: &'static str,
    labels: [&'static str; 9],
}

const EN: Words = Words {
    invalid: "INVALID",
    colon: ": ",
    labels: [
        "notarised",
        "signed at",
        "department",
        "case",
        "step",
        "statement",
        "evidence",
        "checkpoint",
        "(the department's claim)",
    ],
};
const ZH: Words = Words {
    invalid: "无效",
    colon: "：",
    labels: [
        "公证时间",
        "签署时间",
        "部门",
        "案件",
        "环节",
        "语句",
        "依据",
        "检查点",
        "（部门自述）",
    ],
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Usage> {
    cli::read_input(&path.display().to_string())
        .map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

fn load_policy(path: &Path) -> Result<Policy, Usage> {
    Policy::read(path).map_err(|e| Usage(e.to_string()))
}

/// The receipt files named (`cli::input_files`).
fn receipt_files(inputs: &[String]) -> Result<Vec<PathBuf>, Usage> {
    let files = cli::input_files(inputs).map_err(|e| {
        Usage(match e {
            cli::InputError::StdinTwice => {
                "`-` (standard input) is given more than once; it can be read only once".into()
            }
            cli::InputError::NoJsonIn(dir) => format!("{dir} holds no *.json receipt"),
            cli::InputError::Unreadable { path, reason } => format!("cannot read {path}: {reason}"),
        })
    })?;
    Ok(files.into_iter().map(PathBuf::from).collect())
}

/// Text for one verified receipt: the line it always had, then what an
/// auditor reads in it.
fn print_receipt(report: &serde_json::Value, lang: Lang) {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    let w = words(lang);
    let [notarised, signed_at, department, case, step, statement, evidence, checkpoint, claim] =
        w.labels;
    match lang {
        Lang::En => cli::outln!(
            "VALID: entry {} ({}) signed by {}, notarised {}, in checkpoint {} of size {}",
            report["index"],
            s(&report["kind"]),
            s(&report["department"]),
            s(&report["notarised_at"]),
            s(&report["checkpoint"]["origin"]),
            report["checkpoint"]["size"]
        ),
        Lang::Zh => cli::outln!(
            "有效：第 {} 条（{}），由 {} 签署，公证于 {}，包含在 {} 大小为 {} 的检查点中",
            report["index"],
            s(&report["kind"]),
            s(&report["department"]),
            s(&report["notarised_at"]),
            s(&report["checkpoint"]["origin"]),
            report["checkpoint"]["size"]
        ),
    };
    let row = |label: &str, text: String| {
        cli::outln!("  {label:<11} {text}");
    };
    row(
        notarised,
        format!(
            "{} ({})",
            s(&report["notarised_at"]),
            s(&report["notarised_at_utc"])
        ),
    );
    row(signed_at, format!("{} {claim}", s(&report["signed_at"])));
    row(
        department,
        format!(
            "{} ({} {})",
            s(&report["department"]),
            if lang == Lang::Zh { "公钥" } else { "key" },
            s(&report["signer_key"])
        ),
    );
    if let Some(c) = report["case"].as_str() {
        row(case, c.to_owned());
    }
    row(step, s(&report["kind"]));
    let text = serde_json::to_string_pretty(&report["statement"]).unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        // The statement as signed, its signer's time shown in CST beside it.
        let shown = match line.trim_start().strip_prefix("\"signed_at\": ") {
            Some(ms) => match ms.trim_end_matches(',').parse::<u64>() {
                Ok(ms) => format!("{line}  ({})", ledger::time::cst(ms)),
                Err(_) => line.to_owned(),
            },
            None => line.to_owned(),
        };
        row(if i == 0 { statement } else { "" }, shown);
    }
    let cited = report["evidence"].as_array().cloned().unwrap_or_default();
    if cited.is_empty() {
        row(evidence, "—".to_owned());
    }
    for (i, e) in cited.iter().enumerate() {
        let of_case = e["case"]
            .as_str()
            .map(|c| match lang {
                Lang::En => format!(" of case {c}"),
                Lang::Zh => format!("，案件 {c}"),
            })
            .unwrap_or_default();
        row(
            if i == 0 { evidence } else { "" },
            match lang {
                Lang::En => format!(
                    "entry {} ({}{of_case}) signed by {}, notarised {}",
                    e["index"],
                    s(&e["kind"]),
                    s(&e["department"]),
                    s(&e["notarised_at"])
                ),
                Lang::Zh => format!(
                    "第 {} 条（{}{of_case}），由 {} 签署，公证于 {}",
                    e["index"],
                    s(&e["kind"]),
                    s(&e["department"]),
                    s(&e["notarised_at"])
                ),
            },
        );
    }
    let signers: Vec<String> = report["checkpoint"]["signed_by"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    row(
        checkpoint,
        match lang {
            Lang::En => format!(
                "{} size {} root {}, signed by {}",
                s(&report["checkpoint"]["origin"]),
                report["checkpoint"]["size"],
                s(&report["checkpoint"]["root"]),
                signers.join(", ")
            ),
            Lang::Zh => format!(
                "{}，大小 {}，根哈希 {}，由 {} 签署",
                s(&report["checkpoint"]["origin"]),
                report["checkpoint"]["size"],
                s(&report["checkpoint"]["root"]),
                signers.join("、")
            ),
        },
    );
    let witnesses: Vec<String> = report["checkpoint"]["witnessed_by"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    if !witnesses.is_empty() {
        row(
            "",
            match lang {
                Lang::En => format!("cosigned by the witnesses {}", witnesses.join(", ")),
                Lang::Zh => format!("见证方 {} 已联署", witnesses.join("、")),
            },
        );
    }
}

/// `verifier receipt`: each receipt verified on its own; a summary when
/// there are several. Exit 1 if any is invalid.
fn receipts(cli: &Cli, inputs: &[String], policy: &Path) -> Result<ExitCode, Usage> {
    let policy = load_policy(policy)?;
    let files = receipt_files(inputs)?;
    // A folder is several receipts, whatever it holds: one shape of answer.
    let several = files.len() > 1 || inputs.iter().any(|i| i != "-" && Path::new(i).is_dir());
    let lang = cli.lang.unwrap_or_else(Lang::from_env);
    let w = words(lang);
    let mut reports = Vec::new();
    let mut invalid = 0;
    for file in &files {
        let shown = if file == Path::new("-") {
            "(stdin)".to_owned()
        } else {
            file.display().to_string()
        };
        let bytes = match read(file) {
            Ok(bytes) => bytes,
            // Among several, an unreadable file is one more invalid receipt;
            // the others are still reported.
            Err(Usage(message)) if several => {
                invalid += 1;
                if !cli.json {
                    cli::outln!("{shown}: {}{}{message}", w.invalid, w.colon);
                }
                reports.push(json!({ "valid": false, "error": "unreadable", "message": message, "file": shown }));
                continue;
            }
            Err(usage) => return Err(usage),
        };
        // A byte order mark (Windows editors write one) is not part of it.
        let bytes = cli::without_bom(&bytes);
        let result = verifier::verify_receipt(bytes, &policy);
        let mut report = match &result {
            Ok(r) => r.to_json(),
            Err(e) => e.to_json(),
        };
        match (&result, cli.json, several) {
            (_, true, _) => {}
            (Ok(_), false, false) => print_receipt(&report, lang),
            (Ok(_), false, true) => {
                let (index, kind, dept, at) = (
                    &report["index"],
                    report["kind"].as_str().unwrap_or(""),
                    report["department"].as_str().unwrap_or(""),
                    report["notarised_at"].as_str().unwrap_or(""),
                );
                match lang {
                    Lang::En => cli::outln!(
                        "{shown}: VALID: entry {index} ({kind}) signed by {dept}, notarised {at}"
                    ),
                    Lang::Zh => cli::outln!(
                        "{shown}：有效：第 {index} 条（{kind}），由 {dept} 签署，公证于 {at}"
                    ),
                };
            }
            (Err(e), false, false) => {
                cli::outln!("{}{}{}", w.invalid, w.colon, e.message(lang));
            }
            (Err(e), false, true) => {
                cli::outln!("{shown}: {}{}{}", w.invalid, w.colon, e.message(lang));
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
        let (total, valid) = (files.len(), files.len() - invalid);
        match lang {
            Lang::En => cli::outln!("{valid} valid, {invalid} invalid, of {total}"),
            Lang::Zh => cli::outln!("共 {total} 份：{valid} 份有效，{invalid} 份无效"),
        };
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

/// `verifier deadline`: the due day, and whether it is provisional.
fn deadline(
    cli: &Cli,
    from: &str,
    working_days: u32,
    dir: Option<&Path>,
) -> Result<ExitCode, Usage> {
    let from_ms = ledger::time::parse_rfc3339(from).map_err(|e| Usage(format!("--from: {e}")))?;
    let calendar = match dir {
        Some(dir) => Calendar::with_dir(dir).map_err(|e| Usage(e.to_string()))?,
        None => Calendar::built_in(),
    };
    let due = calendar.due_day(from_ms, working_days);
    let covered = calendar.covered_years();
    let years = covered
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if cli.json {
        cli::outln!(
            "{}",
            json!({
                "from": ledger::time::cst(from_ms),
                "working_days": working_days,
                "due": due.date(),
                "ends_at": due.end_ms().map(ledger::time::cst),
                "provisional": due.provisional,
                "calendar_covers": covered,
            })
        );
    } else {
        let lang = cli.lang.unwrap_or_else(Lang::from_env);
        match (lang, due.provisional) {
            (Lang::En, false) => cli::outln!("{} (ends 24:00 CST)", due.date()),
            (Lang::En, true) => cli::outln!(
                "{} provisional: counted on weekdays in a year the calendar does not cover (it covers {years})",
                due.date()
            ),
            (Lang::Zh, false) => cli::outln!("{}（北京时间 24:00 截止）", due.date()),
            (Lang::Zh, true) => cli::outln!(
                "{} 暂定：所涉年份不在日历内（日历覆盖 {years} 年），按周一至周五计算",
                due.date()
            ),
        };
    }
    Ok(ExitCode::SUCCESS)
}

/// `verifier findings`: verify the receipts, then replay their entries.
#[allow(clippy::too_many_arguments)]
fn findings(
    cli: &Cli,
    inputs: &[String],
    policy: &Path,
    as_of: Option<&str>,
    dir: Option<&Path>,
    extension_for_unconditional: bool,
    usage_record_interval_days: u32,
) -> Result<ExitCode, Usage> {
    let policy = load_policy(policy)?;
    let as_of = match as_of {
        Some(t) => ledger::time::parse_rfc3339(t).map_err(|e| Usage(format!("--as-of: {e}")))?,
        None => ledger::time::now_ms(),
    };
    let calendar = match dir {
        Some(dir) => Calendar::with_dir(dir).map_err(|e| Usage(e.to_string()))?,
        None => Calendar::built_in(),
    };
    // Every entry the receipts prove: each receipt's own and its evidence.
    let mut proven: Vec<VerifiedReceipt> = Vec::new();
    for file in receipt_files(inputs)? {
        let bytes = read(&file)?;
        let bytes = cli::without_bom(&bytes);
        let report = match verifier::verify_receipt(bytes, &policy) {
            Ok(r) => r,
            Err(e) => {
                if cli.json {
                    cli::outln!("{}", e.to_json());
                } else {
                    cli::outln!("INVALID: {}: {e}", file.display());
                }
                return Ok(ExitCode::from(1));
            }
        };
        proven.push(report.verified);
        proven.extend(report.evidence);
    }
    // Receipts of one log prove one history: the same entry at each index,
    // the same root at each size.
    if let Err(e) = ledger::receipt::check_one_history(&proven, Repeats::Allowed) {
        let e = verifier::VerifyError::Receipt(e);
        if cli.json {
            cli::outln!("{}", e.to_json());
        } else {
            cli::outln!("INVALID: {e}");
        }
        return Ok(ExitCode::from(1));
    }
    let entries: std::collections::BTreeMap<u64, &VerifiedReceipt> =
        proven.iter().map(|v| (v.index, v)).collect();
    let logged = entries.values().map(|v| ledger::findings::LoggedStatement {
        index: v.index,
        time: v.entry.time,
        statement: &v.statement,
    });
    let settings = ledger::findings::Settings {
        extension_for_unconditional,
        usage_record_interval_days,
    };
    let found = ledger::findings::findings(logged, &calendar, &settings, as_of);
    let open = found.iter().filter(|f| f.open).count();
    if cli.json {
        cli::outln!(
            "{}",
            json!({
                "as_of": ledger::time::cst(as_of),
                "entries": entries.len(),
                "findings": found.iter().map(|f| f.to_json()).collect::<Vec<_>>(),
                "open": open,
            })
        );
    } else {
        for f in &found {
            // "case C-1", or "dispute D-1", "catalog_change CH-1", …
            let about = format!("{} {}", f.about.kind.name(), f.about.id.as_str());
            let against: Vec<&str> = f.departments.iter().map(|d| d.as_str()).collect();
            let mut when = String::new();
            if let Some(due) = f.due {
                when.push_str(&format!(", due {}", due.date()));
                if due.provisional {
                    when.push_str(" (provisional)");
                }
            }
            if let Some(day) = f.actual {
                when.push_str(&format!(", notarised {}", ledger::time::ymd(day)));
            }
            let entries: Vec<String> = f.entries.iter().map(u64::to_string).collect();
            cli::outln!(
                "{}{} ({}) {about}, against {}{when}; entries {}",
                f.code,
                if f.open { " [open]" } else { "" },
                f.article,
                against.join(", "),
                entries.join(", ")
            );
        }
        cli::outln!(
            "{} findings ({open} open) in {} entries, as of {}; a step open here may be in an entry whose receipt is not among these",
            found.len(),
            entries.len(),
            ledger::time::cst(as_of)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `verifier audit`.
fn audit(cli: &Cli, package: &Path, policy: &Path, options: AuditArgs) -> Result<ExitCode, Usage> {
    use std::io::IsTerminal as _;
    // Parsed here for a usage error that names the file; the audit compares
    // the package's copy with these bytes.
    load_policy(policy)?;
    let policy_text = ledger::policy::read_small(policy)
        .map_err(|e| Usage(format!("cannot read {}: {e}", policy.display())))?;
    let as_of = match options.as_of {
        Some(t) => ledger::time::parse_rfc3339(t).map_err(|e| Usage(format!("--as-of: {e}")))?,
        None => ledger::time::now_ms(),
    };
    let started = std::time::Instant::now();
    let terminal = std::io::stderr().is_terminal() && !cli.json;
    let mut last_shown = std::time::Instant::now();
    let mut show = |done: u64, all: u64| {
        if last_shown.elapsed().as_millis() >= 200 || done == all {
            last_shown = std::time::Instant::now();
            let width = 30u64;
            let filled = (done * width).checked_div(all).unwrap_or(width) as usize;
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\r[{}{}] {done}/{all} entries, {rate:.0}/s ",
                "=".repeat(filled),
                " ".repeat(width as usize - filled)
            );
            if done == all {
                eprintln!();
            }
        }
    };
    let mut findings_file = match options.findings_out {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Usage(format!("cannot write {}: {e}", path.display())))?,
        )),
        None => None,
    };
    let mut seen = Vec::new();
    for path in options.checkpoints {
        let bytes = read(path)?;
        seen.push((
            path.display().to_string(),
            checkpoint_in(path, cli::without_bom(&bytes))?,
        ));
    }
    let report = verifier::audit::audit(
        package,
        &policy_text,
        verifier::audit::AuditOptions {
            as_of,
            calendar_dir: options.calendar.map(Path::to_path_buf),
            settings: ledger::findings::Settings {
                extension_for_unconditional: options.extension_for_unconditional,
                usage_record_interval_days: options.usage_record_interval_days,
            },
            threads: options
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            progress: if terminal { Some(&mut show) } else { None },
            seen,
            findings_out: findings_file.as_mut().map(|f| f as &mut dyn std::io::Write),
        },
    )
    .map_err(|e| Usage(e.to_string()))?;
    if let Some(mut f) = findings_file {
        use std::io::Write as _;
        f.flush()
            .map_err(|e| Usage(format!("cannot write the findings: {e}")))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if cli.json {
        cli::outln!("{}", report.to_json(package, seconds));
    } else {
        for line in report.text(package, seconds) {
            cli::outln!("{line}");
        }
    }
    Ok(if report.valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `verifier fork`.
fn fork(
    cli: &Cli,
    a: &Path,
    b: &Path,
    proof: Option<&Path>,
    policy: &Path,
) -> Result<ExitCode, Usage> {
    let policy = load_policy(policy)?;
    let read_checkpoint =
        |path: &Path| -> Result<(Vec<u8>, ledger::checkpoint::Checkpoint), Usage> {
            let bytes = read(path)?;
            let bytes = checkpoint_in(path, cli::without_bom(&bytes))?;
            let (c, _) = policy.verify_checkpoint(&bytes).map_err(|e| {
                Usage(format!(
                    "{}: not a checkpoint of this log: {e}",
                    path.display()
                ))
            })?;
            Ok((bytes, c))
        };
    let (mut first, mut second) = (read_checkpoint(a)?, read_checkpoint(b)?);
    if first.1.size > second.1.size {
        std::mem::swap(&mut first, &mut second);
    }
    let (small, large) = (&first.1, &second.1);
    let why = if small.size == large.size {
        (small.root != large.root).then(|| {
            format!(
                "two checkpoints of size {} with different roots",
                small.size
            )
        })
    } else {
        let Some(proof) = proof else {
            return Err(Usage(format!(
                "sizes {} and {} differ: give --proof, the consistency proof between them (GET /v1/proof/consistency?from={}&to={})",
                small.size, large.size, small.size, large.size
            )));
        };
        let text = String::from_utf8_lossy(&read(proof)?).into_owned();
        let hashes =
            verifier::parse_proof(&text).map_err(|e| Usage(format!("{}: {e}", proof.display())))?;
        ledger::proof::verify_consistency(small.size, large.size, &small.root, &large.root, &hashes)
            .err()
            .map(|e| {
                format!(
                    "the checkpoint of size {} does not extend the one of size {}: {e}",
                    large.size, small.size
                )
            })
    };
    match why {
        None => {
            if cli.json {
                cli::outln!(
                    "{}",
                    json!({"fork": false, "sizes": [small.size, large.size]})
                );
            } else {
                cli::outln!(
                    "no fork: the checkpoints of sizes {} and {} are of one history",
                    small.size,
                    large.size
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(why) => {
            let (na, nb) = (
                String::from_utf8_lossy(&first.0),
                String::from_utf8_lossy(&second.0),
            );
            if cli.json {
                cli::outln!(
                    "{}",
                    json!({"fork": true, "why": why, "checkpoints": [na, nb]})
                );
            } else {
                cli::outln!("FORK: {why}. Both are signed by the log's key: keep them as the proof that it signed two histories.");
                cli::outln!("--- checkpoint of size {}", small.size);
                cli::outln!("{}", na.trim_end());
                cli::outln!("--- checkpoint of size {}", large.size);
                cli::outln!("{}", nb.trim_end());
            }
            Ok(ExitCode::from(1))
        }
    }
}

struct AuditArgs<'a> {
    as_of: Option<&'a str>,
    calendar: Option<&'a Path>,
    extension_for_unconditional: bool,
    usage_record_interval_days: u32,
    threads: Option<usize>,
    findings_out: Option<&'a Path>,
    checkpoints: &'a [PathBuf],
}

/// The signed checkpoint in `bytes`: a note as it is, or the one a
/// receipt's proof carries.
fn checkpoint_in(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, Usage> {
    if !bytes.starts_with(b"{") {
        return Ok(bytes.to_vec());
    }
    let receipt = ledger::receipt::Receipt::from_json(bytes)
        .map_err(|e| Usage(format!("{}: not a receipt: {e}", path.display())))?;
    let proof = ledger::tlog_proof::TlogProof::parse(&receipt.proof)
        .map_err(|e| Usage(format!("{}: its proof: {e}", path.display())))?;
    Ok(proof.checkpoint.into_bytes())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Audit {
            package,
            policy,
            as_of,
            calendar,
            extension_for_unconditional,
            usage_record_interval_days,
            threads,
            findings_out,
            checkpoints,
        } => audit(
            &cli,
            package,
            policy,
            AuditArgs {
                as_of: as_of.as_deref(),
                calendar: calendar.as_deref(),
                extension_for_unconditional: extension_for_unconditional == "on",
                usage_record_interval_days: *usage_record_interval_days,
                threads: *threads,
                findings_out: findings_out.as_deref(),
                checkpoints,
            },
        ),
        Command::Findings {
            files,
            policy,
            as_of,
            calendar,
            extension_for_unconditional,
            usage_record_interval_days,
        } => findings(
            &cli,
            files,
            policy,
            as_of.as_deref(),
            calendar.as_deref(),
            extension_for_unconditional == "on",
            *usage_record_interval_days,
        ),
        Command::Deadline {
            from,
            working_days,
            calendar,
        } => deadline(&cli, from, *working_days, calendar.as_deref()),
        Command::Receipt { files, policy } => receipts(&cli, files, policy),
        Command::Consistency {
            old,
            new,
            proof,
            policy,
        } => consistency(&cli, old, new, proof, policy),
        Command::Fork {
            a,
            b,
            proof,
            policy,
        } => fork(&cli, a, b, proof.as_deref(), policy),
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
