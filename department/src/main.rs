//! `dept`: a department's key, signature and submission tool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use department::{keyfile, load_key, now_ms, Client, DepartmentKey};
use ledger::attestation::{Kind, SignedAttestation, Statement};
use ledger::lang::Lang;
use ledger::policy::Policy;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "dept",
    version,
    about = "Sign and submit share-audit attestations for a department",
    after_help = "Attestations, bodies (@-) and the data of `digest` may be given as `-` for standard input. Times are milliseconds since the Unix epoch."
)]
struct Cli {
    /// Language of the messages: en or zh (default: the locale's).
    #[arg(long, global = true, value_parser = parse_lang)]
    lang: Option<Lang>,
    #[command(subcommand)]
    command: Command,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?}: messages are in en or zh"))
}

/// Where the statement is for: a log origin, or the policy that names it.
#[derive(clap::Args)]
struct LogArg {
    /// The log the statement is for: its origin, e.g. example.gov.cn/share-audit/2026.
    #[arg(long, required_unless_present = "policy", conflicts_with = "policy")]
    log: Option<String>,
    /// Take the log's origin from this trust policy (the notary's policy.txt).
    #[arg(long)]
    policy: Option<PathBuf>,
}

impl LogArg {
    fn origin(&self) -> Result<String> {
        match (&self.log, &self.policy) {
            (Some(log), _) => Ok(log.clone()),
            (None, Some(policy)) => Ok(Policy::read(policy)?.origin),
            (None, None) => bail!(msg(
                "give --log or --policy".into(),
                "请给出 --log 或 --policy".into()
            )),
        }
    }
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
    Pubkey {
        file: String,
        /// Print {"name": …, "key": …}: the key and the department it was made for.
        #[arg(long)]
        json: bool,
    },
    /// Sign the registration of a department's key (a root's job): the
    /// department is the one the key was made for (`dept keygen --name`).
    Register {
        /// The root's private key.
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        log: LogArg,
        /// The department's public key file (.vkey), from `dept keygen`.
        #[arg(long)]
        vkey: String,
        /// The department, if given: must be the one the key was made for.
        #[arg(long)]
        department: Option<String>,
        /// First instant the key may sign (ms); default: when notarised.
        #[arg(long, value_parser = parse_ms)]
        valid_from: Option<u64>,
        /// Instant from which the key no longer signs (ms).
        #[arg(long, value_parser = parse_ms)]
        valid_until: Option<u64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a statement and print the signed attestation (JSON).
    Sign {
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        log: LogArg,
        /// Statement kind, e.g. application, approval, delivery (`dept template KIND` shows one).
        #[arg(long)]
        kind: String,
        /// The body as JSON, or @FILE (@- for standard input).
        #[arg(long)]
        body: String,
        /// The signer's claimed time (ms since the Unix epoch); default now.
        #[arg(long, value_parser = parse_ms)]
        signed_at: Option<u64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Submit signed attestations (files, folders of *.json, or -); check
    /// each receipt and keep it. Exit 0 if all were notarised, 1 if any
    /// was refused, 3 if any could not be submitted now (retry later), 2
    /// for a usage error (nothing sent).
    Submit {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        notary: String,
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Verify each receipt against this trust policy before keeping it
        /// (without it, only that the receipt holds the attestation and its
        /// proof matches its checkpoint is checked).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Trust only the CA certificates of this PEM bundle for https://
        /// (default: the system's).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Times to resend when the notary is busy (503), timed out (408)
        /// or unreachable, waiting as it asks (Retry-After).
        #[arg(long, default_value_t = 5)]
        retries: u32,
        /// Where to keep the receipt: a file for one input, a folder for
        /// several (each receipt named as its attestation). Default: print
        /// the receipt of a single input.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read from the notary as a department (specs/reads.md): the request
    /// is signed with the department's key, and the notary answers what the
    /// department may read. PATH is e.g. /v1/receipts/12,
    /// /v1/cases/CASE or /v1/findings?department=gd.rst. Exit 0 when read,
    /// 1 when refused (401, 403, 404), 3 when the notary could not answer
    /// now, 2 for a usage error.
    Read {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        notary: String,
        /// The reading department's private key.
        #[arg(long)]
        key: PathBuf,
        path: String,
        /// Trust only the CA certificates of this PEM bundle for https://.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Write the answer to this file instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Upgrade a receipt to a witnessed one (GET
    /// /v1/receipts/INDEX/witnessed, specs/witness.md): the entry and its
    /// evidence proven in the newest checkpoint the witnesses' quorum
    /// cosigned, verified under POLICY (its `quorum` included) before it is
    /// written. Exit 0 written, 1 refused or not valid, 3 not reachable or
    /// not witnessed yet (try again).
    Witnessed {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        notary: String,
        /// The reading department's private key.
        #[arg(long)]
        key: PathBuf,
        /// The trust policy with the witnesses and quorum to meet.
        #[arg(long)]
        policy: PathBuf,
        index: u64,
        /// Where to write the witnessed receipt.
        #[arg(long)]
        out: PathBuf,
        /// Trust only the CA certificates of this PEM bundle for https://.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Show a case as the department may read it (GET /v1/cases/CASE):
    /// each entry with its notarised time in CST, then the case's findings
    /// (late, missing and out-of-order steps). Exit codes as `dept read`.
    Case {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        notary: String,
        /// The reading department's private key.
        #[arg(long)]
        key: PathBuf,
        case: String,
        /// Judge the findings as of this instant (RFC 3339); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// When the read is signed (ms since the Unix epoch; default now):
        /// for a notary whose clock is not the wall clock.
        #[arg(long, value_parser = parse_ms)]
        at: Option<u64>,
        /// Print the notary's JSON answer.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Print an example body of a kind, that `dept sign` accepts once edited.
    Template { kind: String },
    /// Print the JSON Schema of a kind's body (draft 2020-12).
    Schema { kind: String },
    /// Print the digest of a file as attestations carry it (sha256:<hex>).
    Digest {
        file: String,
        /// Salt the digest with the contents of this file (SHA-256(salt ‖
        /// data)): for low-entropy data, keep the salt with the data.
        #[arg(long)]
        salt: Option<String>,
    },
}

/// A time in milliseconds since the Unix epoch. A number of seconds is the
/// likely mistake, and would be taken as a day in 1970: refused.
fn parse_ms(s: &str) -> Result<u64, String> {
    let ms: u64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of milliseconds since the Unix epoch"))?;
    if ms < 100_000_000_000 {
        return Err(format!(
            "{ms} looks like seconds (it would be {}); give milliseconds: {}000",
            ledger::time::cst(ms),
            ms
        ));
    }
    Ok(ms)
}

fn parse_kind(name: &str) -> Result<Kind> {
    Kind::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        anyhow!(msg(
            format!("unknown kind {name:?}; one of: {}", names.join(", ")),
            format!("未知的语句类型 {name:?}；可用的类型：{}", names.join("、"))
        ))
    })
}

/// The bytes of a file, or of standard input for `-`.
fn read_input(path: &str) -> Result<Vec<u8>> {
    let shown = if path == "-" { "(stdin)" } else { path };
    cli::read_input(path)
        .with_context(|| msg(format!("reading {shown}"), format!("无法读取 {shown}")))
}

fn write_or_print(out: &Option<PathBuf>, text: &str) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, format!("{text}\n")).with_context(|| {
            msg(
                format!("writing {}", p.display()),
                format!("无法写入 {}", p.display()),
            )
        }),
        None => {
            cli::outln!("{text}");
            Ok(())
        }
    }
}

/// `dept read`: one signed read, its answer printed or written.
/// `dept witnessed`.
fn witnessed(
    notary: &str,
    key: &Path,
    policy: &Path,
    index: u64,
    out: &Path,
    ca: Option<PathBuf>,
    lang: Lang,
) -> Result<ExitCode> {
    let policy = ledger::policy::Policy::read(policy)?;
    let key = load_key(key)?;
    let mut client = Client::new(notary, ca.as_deref()).map_err(|e| anyhow!("{e}"))?;
    client.lang = lang;
    let path = format!("/v1/receipts/{index}/witnessed");
    let answer = match client.read(&key.key, &path) {
        Ok(a) => a,
        Err(e) => {
            cli::errln!("dept: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    if answer.status != 200 {
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        cli::errln!(
            "{path}: {} {}: {}",
            answer.status,
            body["error"].as_str().unwrap_or(""),
            body["message"].as_str().unwrap_or("")
        );
        let later = answer.status == 503 || body["error"] == "not_witnessed";
        return Ok(ExitCode::from(if later { 3 } else { 1 }));
    }
    let receipt = ledger::receipt::Receipt::from_json(&answer.body)
        .map_err(|e| anyhow!("the notary's answer is not a receipt: {e}"))?;
    let verified = match receipt.verify(&policy) {
        Ok(v) => v,
        Err(e) => {
            cli::errln!(
                "dept: the witnessed receipt of entry {index} is not valid under the policy: {e}"
            );
            return Ok(ExitCode::from(1));
        }
    };
    std::fs::write(out, &answer.body).with_context(|| format!("writing {}", out.display()))?;
    cli::outln!(
        "entry {index}: witnessed by {} in the checkpoint of size {}; receipt in {}",
        if verified.witnessed_by.is_empty() {
            "no witness (the policy asks for none)".to_owned()
        } else {
            verified.witnessed_by.join(", ")
        },
        verified.checkpoint.size,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read(
    notary: &str,
    key: &Path,
    path: &str,
    ca: Option<PathBuf>,
    out: Option<PathBuf>,
    lang: Lang,
) -> Result<ExitCode> {
    if !path.starts_with('/') || path.contains('#') {
        bail!(msg(
            format!("{path:?} is not a path on the notary; give one such as /v1/receipts/12"),
            format!("{path:?} 不是公证服务上的路径；请给出如 /v1/receipts/12 的路径")
        ));
    }
    let key = load_key(key)?;
    let mut client = Client::new(notary, ca.as_deref()).map_err(|e| anyhow!("{e}"))?;
    client.lang = lang;
    let answer = match client.read(&key.key, path) {
        Ok(a) => a,
        Err(e) => {
            cli::errln!("dept: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    if answer.status != 200 {
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        cli::errln!(
            "{}: {} {}",
            path,
            answer.status,
            match (body["error"].as_str(), body["message"].as_str()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                _ => String::from_utf8_lossy(&answer.body).into_owned(),
            }
        );
        return Ok(ExitCode::from(if answer.status == 503 { 3 } else { 1 }));
    }
    match out {
        Some(p) => std::fs::write(&p, &answer.body).with_context(|| {
            msg(
                format!("writing {}", p.display()),
                format!("无法写入 {}", p.display()),
            )
        })?,
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            // A closed stdout ends the output (issue 6): not an error.
            let _ = stdout.write_all(&answer.body).and_then(|()| {
                if answer.body.ends_with(b"\n") {
                    Ok(())
                } else {
                    stdout.write_all(b"\n")
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dept case`: a case's timeline and findings, for people (or as JSON).
#[allow(clippy::too_many_arguments)]
fn show_case(
    notary: &str,
    key: &Path,
    case: &str,
    as_of: Option<String>,
    at: Option<u64>,
    json: bool,
    ca: Option<PathBuf>,
    lang: Lang,
) -> Result<ExitCode> {
    let key = load_key(key)?;
    let mut client = Client::new(notary, ca.as_deref()).map_err(|e| anyhow!("{e}"))?;
    client.lang = lang;
    let mut path = format!("/v1/cases/{}", percent_encode(case));
    if let Some(t) = &as_of {
        ledger::time::parse_rfc3339(t).map_err(|e| anyhow!("--as-of: {e}"))?;
        path.push_str(&format!("?as_of={}", percent_encode(t)));
    }
    // Every page of the timeline (api.md: `next`), one signed read each.
    let mut body = serde_json::Value::Null;
    let mut from: Option<u64> = None;
    loop {
        let page_path = match from {
            None => path.clone(),
            Some(i) => format!("{path}{}from={i}", if as_of.is_some() { '&' } else { '?' }),
        };
        let answer = match client.read_at(&key.key, &page_path, at.map(|ms| ms / 1000)) {
            Ok(a) => a,
            Err(e) => {
                cli::errln!("dept: {e}");
                return Ok(ExitCode::from(3));
            }
        };
        let page: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if answer.status != 200 {
            cli::errln!(
                "case {case}: {} {}: {}",
                answer.status,
                page["error"].as_str().unwrap_or("?"),
                page["message"].as_str().unwrap_or("")
            );
            return Ok(ExitCode::from(if answer.status == 503 { 3 } else { 1 }));
        }
        from = page["next"].as_u64();
        match body["entries"].as_array_mut() {
            Some(entries) => {
                entries.extend(page["entries"].as_array().cloned().unwrap_or_default())
            }
            None => body = page,
        }
        if from.is_none() {
            break;
        }
    }
    body["next"] = serde_json::Value::Null;
    if json {
        cli::outln!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    cli::outln!(
        "{}",
        msg(
            format!(
                "case {case}: {} applied to {} for {}",
                s(&body["requester"]),
                s(&body["provider"]),
                s(&body["item"])
            ),
            format!(
                "案件 {case}：{} 向 {} 申请共享 {}",
                s(&body["requester"]),
                s(&body["provider"]),
                s(&body["item"])
            )
        )
    );
    for e in body["entries"].as_array().into_iter().flatten() {
        cli::outln!(
            "  #{:<6} {}  {:<20} {}",
            e["index"],
            s(&e["notarised"]),
            s(&e["kind"]),
            s(&e["signer"])
        );
    }
    for d in body["deadlines"].as_array().into_iter().flatten() {
        let provisional = if d["provisional"] == true {
            msg(" (provisional)".into(), "（暂定）".into())
        } else {
            String::new()
        };
        cli::outln!(
            "  {}",
            msg(
                format!(
                    "due: {} ({}) from {} by {}{provisional}",
                    s(&d["step"]),
                    s(&d["article"]),
                    s(&d["due_from"]),
                    s(&d["due"])
                ),
                format!(
                    "待办：{}（{}）由 {} 于 {} 前完成{provisional}",
                    s(&d["step"]),
                    s(&d["article"]),
                    s(&d["due_from"]),
                    s(&d["due"])
                )
            )
        );
    }
    let findings = body["findings"].as_array().cloned().unwrap_or_default();
    cli::outln!(
        "{}",
        msg(
            format!("findings as of {}: {}", s(&body["as_of"]), findings.len()),
            format!("截至 {} 的发现：{} 项", s(&body["as_of"]), findings.len())
        )
    );
    for f in &findings {
        let departments: Vec<String> = f["departments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(&s)
            .collect();
        let entries: Vec<String> = f["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i.to_string())
            .collect();
        let mut line = format!(
            "  {} ({}) {} {}",
            s(&f["code"]),
            s(&f["article"]),
            msg("against".into(), "针对".into()),
            departments.join(", ")
        );
        if let Some(due) = f["due"].as_str() {
            line.push_str(&msg(format!(": due {due}"), format!("：期限 {due}")));
            if f["provisional"] == true {
                line.push_str(&msg(" (provisional)".into(), "（暂定）".into()));
            }
        }
        if let Some(actual) = f["actual"].as_str() {
            line.push_str(&msg(format!(", done {actual}"), format!("，实际 {actual}")));
        }
        if f["open"] == true {
            line.push_str(&msg(", still open".into(), "，仍未办结".into()));
        }
        line.push_str(&msg(
            format!("; entries {}", entries.join(", ")),
            format!("；条目 {}", entries.join("、")),
        ));
        cli::outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Percent-encodes what a path segment or query value cannot hold as is.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The body given to `dept sign`: JSON, or @FILE.
fn read_body(arg: &str) -> Result<serde_json::Value> {
    let (text, from) = match arg.strip_prefix('@') {
        Some(path) => (read_input(path)?, path),
        None => (arg.as_bytes().to_vec(), ""),
    };
    let text = cli::without_bom(&text);
    // One meaning per body: a member given twice is refused here, as the
    // notary would refuse the statement (attestation.md §Strict JSON).
    if let Err(e @ ledger::strict_json::StrictJsonError::DuplicateKey(_)) =
        ledger::strict_json::check(text)
    {
        bail!(msg(format!("--body: {e}"), format!("--body：{e}")));
    }
    serde_json::from_slice(text).map_err(|e| {
        if from.is_empty() && (Path::new(arg).is_file() || arg.ends_with(".json")) {
            anyhow!(msg(
                format!("--body is not JSON ({e}); to read the body from the file {arg}, write --body @{arg}"),
                format!("--body 不是 JSON（{e}）；要从文件 {arg} 读取内容，请写 --body @{arg}")
            ))
        } else if from.is_empty() {
            anyhow!(msg(format!("--body is not JSON: {e}"), format!("--body 不是 JSON：{e}")))
        } else {
            anyhow!(msg(format!("{from} is not JSON: {e}"), format!("{from} 不是 JSON：{e}")))
        }
    })
}

/// The language of this run's messages, set once at start.
static LANG: std::sync::OnceLock<Lang> = std::sync::OnceLock::new();

/// A message in the run's language: English or Chinese.
fn msg(en: String, zh: String) -> String {
    match LANG.get() {
        Some(Lang::Zh) => zh,
        _ => en,
    }
}

/// Why a statement was not signed, in `lang`.
fn not_signed(e: ledger::attestation::AttestationError, lang: Lang) -> anyhow::Error {
    match lang {
        Lang::En => anyhow!("statement refused before signing: {e}"),
        Lang::Zh => anyhow!("签署前检查未通过：{}", e.message(lang)),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let lang = *LANG.get_or_init(|| cli.lang.unwrap_or_else(Lang::from_env));
    match cli.command {
        Command::Keygen { name, out } => {
            // `--out gd.rst.key` means the pair gd.rst.key and gd.rst.vkey.
            let out = match out
                .to_str()
                .and_then(|o| o.strip_suffix(".key").or(o.strip_suffix(".vkey")))
            {
                Some(prefix) => PathBuf::from(prefix),
                None => out,
            };
            let (key, signer) =
                DepartmentKey::generate(&name).map_err(|e| anyhow!("--name {name:?}: {e}"))?;
            keyfile::write_key_pair(&out, &signer)
                .with_context(|| format!("writing {}.key/.vkey", out.display()))?;
            cli::outln!("{}", signer.verifier().encode());
            cli::errln!(
                "key of {name}: public key {} written to {}.key (0600) and {}.vkey",
                key.public_key_base64(),
                out.display(),
                out.display()
            );
        }
        Command::Pubkey { file, json } => {
            let (name, key) = public_key(&file)?;
            let key = base64_encode(key.as_bytes());
            if json {
                cli::outln!("{}", json!({ "name": name, "key": key }));
            } else {
                cli::outln!("{key}");
                cli::errln!("(the key of {name})");
            }
        }
        Command::Register {
            key,
            log,
            vkey,
            department,
            valid_from,
            valid_until,
            out,
        } => {
            let root = load_key(&key)?;
            let origin = log.origin()?;
            let (name, public) = public_key(&vkey)?;
            let department = department.unwrap_or_else(|| name.clone());
            if department != name {
                bail!(
                    "{vkey} is the key of {name}, not {department}: make a key for {department} with `dept keygen --name {department}`, or register this one to {name}"
                );
            }
            let mut body =
                json!({ "department": department, "key": base64_encode(public.as_bytes()) });
            if let Some(t) = valid_from {
                body["valid_from"] = json!(t);
            }
            if let Some(t) = valid_until {
                body["valid_until"] = json!(t);
            }
            let signed = root
                .sign(&origin, Kind::DepartmentKey, body, now_ms())
                .map_err(|e| not_signed(e, lang))?;
            write_or_print(&out, &signed.to_json())?;
        }
        Command::Sign {
            key,
            log,
            kind,
            body,
            signed_at,
            out,
        } => {
            let key = load_key(&key)?;
            let origin = log.origin()?;
            let kind = parse_kind(&kind)?;
            let body = read_body(&body)?;
            let signed = key
                .sign(&origin, kind, body, signed_at.unwrap_or_else(now_ms))
                .map_err(|e| not_signed(e, lang))?;
            write_or_print(&out, &signed.to_json())?;
        }
        Command::Submit {
            notary,
            inputs,
            policy,
            ca,
            retries,
            out,
        } => return submit(&notary, &inputs, policy, ca, retries, out, lang),
        Command::Read {
            notary,
            key,
            path,
            ca,
            out,
        } => return read(&notary, &key, &path, ca, out, lang),
        Command::Witnessed {
            notary,
            key,
            policy,
            index,
            out,
            ca,
        } => return witnessed(&notary, &key, &policy, index, &out, ca, lang),
        Command::Case {
            notary,
            key,
            case,
            as_of,
            at,
            json,
            ca,
        } => return show_case(&notary, &key, &case, as_of, at, json, ca, lang),
        Command::Template { kind } => {
            let body = parse_kind(&kind)?.example_body();
            cli::outln!("{}", serde_json::to_string_pretty(&body)?);
        }
        Command::Schema { kind } => {
            let schema = parse_kind(&kind)?.body_schema();
            cli::outln!("{}", serde_json::to_string_pretty(&schema)?);
        }
        Command::Digest { file, salt } => {
            if !cli::stdin_once([file.as_str()].into_iter().chain(salt.as_deref())) {
                return Err(input_error(cli::InputError::StdinTwice));
            }
            // The salt is a secret: a value given in place of a file name is
            // not repeated.
            let salt = match salt.as_deref() {
                Some(s) if s != "-" && !Path::new(s).is_file() => {
                    bail!(msg(
                        "--salt takes a FILE holding the salt (the value given is not shown)"
                            .into(),
                        "--salt 需要一个存放盐值的文件（所给的值不予显示）".into()
                    ))
                }
                s => s.map(read_input).transpose()?,
            };
            // An empty salt salts nothing: the digest would be the unsalted one.
            if salt.as_ref().is_some_and(|s| s.len() < 16) {
                bail!(msg(
                    "--salt: the salt file holds fewer than 16 bytes; a salt of at least 16 random bytes keeps the digest from being guessed".into(),
                    "--salt：盐值文件少于 16 字节；至少 16 个随机字节的盐值才能防止摘要被猜出".into()
                ));
            }
            let data: Box<dyn std::io::Read> = if file == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(std::fs::File::open(&file).with_context(|| format!("reading {file}"))?)
            };
            let digest = department::digest(data, salt.as_deref())
                .with_context(|| format!("reading {file}"))?;
            cli::outln!("{digest}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The department a key file was made for, and its public key.
fn public_key(file: &str) -> Result<(String, ed25519_dalek::VerifyingKey)> {
    if let Ok(v) = keyfile::read_vkey(file) {
        return Ok((v.name, v.key));
    }
    let key = load_key(Path::new(file)).map_err(|e| anyhow!("{e}"))?;
    Ok((key.department, key.key.verifying_key()))
}

/// The attestation files named by `inputs` (`cli::input_files`).
fn expand(inputs: &[String]) -> Result<Vec<String>> {
    cli::input_files(inputs).map_err(input_error)
}

/// Why the files named could not be read, in the run's language.
fn input_error(e: cli::InputError) -> anyhow::Error {
    anyhow!(match e {
        cli::InputError::StdinTwice => msg(
            "`-` (standard input) is given more than once; it can be read only once".into(),
            "`-`（标准输入）出现了不止一次；标准输入只能读取一次".into(),
        ),
        cli::InputError::NoJsonIn(dir) => msg(
            format!("{dir} holds no *.json attestation"),
            format!("{dir} 中没有 *.json 证明文件"),
        ),
        cli::InputError::Unreadable { path, reason } => msg(
            format!("reading {path}: {reason}"),
            format!("无法读取 {path}：{reason}"),
        ),
    })
}

/// Where the receipt of `file` goes: `--out` itself for one input, a file
/// named as the attestation in the `--out` folder for several (`stdin.json`
/// for standard input).
fn receipt_path(out: &Option<PathBuf>, several: bool, file: &str) -> Option<PathBuf> {
    match (out, several) {
        (Some(dir), true) if file == "-" => Some(dir.join("stdin.json")),
        (Some(dir), true) => Some(dir.join(Path::new(file).file_name().unwrap_or_default())),
        (out, _) => out.clone(),
    }
}

/// What `dept submit` ends with: 0 all notarised, 1 some refused, 3 some
/// not submitted because the notary could not be reached or stayed busy
/// (retry later), 2 a usage error before anything was sent.
const EXIT_REFUSED: u8 = 1;
const EXIT_UNAVAILABLE: u8 = 3;

fn submit(
    notary: &str,
    inputs: &[String],
    policy: Option<PathBuf>,
    ca: Option<PathBuf>,
    retries: u32,
    out: Option<PathBuf>,
    lang: Lang,
) -> Result<ExitCode> {
    // A receipt is answered at once, signed by the notary alone: it is
    // checked here without the policy's witness quorum, which it meets
    // later (`dept witnessed`, specs/witness.md §Witnessed receipts).
    let policy = policy
        .as_deref()
        .map(Policy::read)
        .transpose()?
        .map(|p| Policy { quorum: None, ..p });
    let files = expand(inputs)?;
    let several = files.len() > 1 || inputs.iter().any(|i| Path::new(i).is_dir());
    if several {
        let dir = out.as_ref().ok_or_else(|| {
            anyhow!(msg(
                "several attestations: give --out FOLDER for their receipts".into(),
                "多份证明：请用 --out 文件夹 保存它们的收据".into()
            ))
        })?;
        // Receipts never replace the attestations, nor each other.
        let mut names = std::collections::BTreeSet::new();
        for file in &files {
            let target = receipt_path(&out, true, file).expect("--out is given");
            let same = match (Path::new(file).canonicalize(), target.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if file != "-" && same {
                bail!(
                    "--out {}: the receipt of {file} would replace it; give another folder",
                    dir.display()
                );
            }
            if !names.insert(target.clone()) {
                bail!(
                    "two attestations would have one receipt file, {}: rename one",
                    target.display()
                );
            }
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    } else if let Some(target) = out.as_ref().filter(|_| files[0] != "-") {
        let same = match (Path::new(&files[0]).canonicalize(), target.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            bail!(msg(
                format!(
                    "--out {}: the receipt would replace the attestation; give another file",
                    target.display()
                ),
                format!(
                    "--out {}：收据会覆盖证明文件；请换一个文件名",
                    target.display()
                )
            ));
        }
    }
    if !several && out.as_ref().is_some_and(|o| o.is_dir()) {
        bail!(
            "--out {} is a folder; for one attestation give the receipt's file name",
            out.unwrap_or_default().display()
        );
    }
    // Every attestation is read and checked before the first is sent, so a
    // bad file stops nothing half-way.
    let mut batch = Vec::with_capacity(files.len());
    for file in &files {
        let shown = if file == "-" {
            "(stdin)".to_owned()
        } else {
            file.clone()
        };
        let bytes = read_input(file)?;
        let signed = SignedAttestation::from_json(cli::without_bom(&bytes)).map_err(|e| {
            anyhow!(msg(
                format!("{shown}: not a signed attestation: {e}"),
                format!("{shown}：不是已签名的证明：{}", e.message(lang))
            ))
        })?;
        batch.push((file.as_str(), shown, signed));
    }
    let mut client = Client::new(notary, ca.as_deref())?;
    client.retries = retries;
    client.lang = lang;
    let (mut notarised, mut refused, mut unavailable) = (0, 0, 0);
    for (file, shown, signed) in &batch {
        let about = describe(signed, lang);
        let resp = match client.submit(signed) {
            Ok(resp) => resp,
            // Nothing later can get through either: say where it stopped.
            Err(
                e @ department::ClientError::Transport {
                    transient: false, ..
                },
            ) => {
                bail!(msg(
                    format!("{shown}: not submitted: {e}; {notarised} notarised before it"),
                    format!("{shown}：未提交：{e}；此前已公证 {notarised} 条")
                ))
            }
            Err(e) => {
                // Unreachable after every retry: the rest would wait as long
                // for as little. None of them is sent; resubmit later.
                let rest = batch.len() - notarised - refused - unavailable;
                unavailable += rest;
                match lang {
                    Lang::En => {
                        cli::errln!("{shown}: not submitted: {e}; {} more not tried", rest - 1)
                    }
                    Lang::Zh => cli::errln!("{shown}：未提交：{e}；其余 {} 条未尝试", rest - 1),
                }
                break;
            }
        };
        let tries = match (resp.attempts, lang) {
            (1, _) => String::new(),
            (n, Lang::En) => format!(" (after {n} attempts)"),
            (n, Lang::Zh) => format!("（第 {n} 次尝试）"),
        };
        match resp.status {
            200 | 201 => {
                let receipt = match department::check_receipt(&resp.body, signed, policy.as_ref()) {
                    Ok(r) => r,
                    Err(e) => {
                        refused += 1;
                        cli::errln!("{shown}: the notary answered {} with no good receipt: {e}; nothing saved", resp.status);
                        continue;
                    }
                };
                let target = receipt_path(&out, several, file);
                write_or_print(&target, &receipt.to_json_pretty())?;
                let kept = match (target, lang) {
                    (None, _) => String::new(),
                    (Some(t), Lang::En) => format!("; receipt in {}", t.display()),
                    (Some(t), Lang::Zh) => format!("；收据保存在 {}", t.display()),
                };
                let index = receipt.index;
                // A 200 after a lost answer: an earlier attempt of this run
                // got through.
                let ours = resp.status == 201 || resp.attempts > 1;
                match (ours, resp.status, lang) {
                    (_, 201, Lang::En) => {
                        cli::errln!("{shown}: notarised as entry {index} ({about}){tries}{kept}")
                    }
                    (_, 201, Lang::Zh) => {
                        cli::errln!("{shown}：已公证为第 {index} 条（{about}）{tries}{kept}")
                    }
                    (true, _, Lang::En) => cli::errln!(
                        "{shown}: notarised as entry {index} ({about}): already in the log when retried, so an earlier attempt got through, or someone submitted it before{tries}{kept}"
                    ),
                    (true, _, Lang::Zh) => cli::errln!(
                        "{shown}：已公证为第 {index} 条（{about}）：重试时已在日志中（之前的尝试已成功，或此前已有人提交）{tries}{kept}"
                    ),
                    (false, _, Lang::En) => cli::errln!(
                        "{shown}: already notarised as entry {index} ({about}): submitted before, this is its receipt{tries}{kept}"
                    ),
                    (false, _, Lang::Zh) => cli::errln!(
                        "{shown}：此前已公证为第 {index} 条（{about}）：重复提交，这是原条目的收据{tries}{kept}"
                    ),
                }
                for finding in &resp.findings {
                    tell_finding(shown, finding, lang);
                }
                notarised += 1;
            }
            status => {
                let code = resp.body["error"].as_str().unwrap_or("?");
                let message = resp.body["message"].as_str().unwrap_or("");
                if matches!(status, 503 | 408) {
                    unavailable += 1;
                } else {
                    refused += 1;
                }
                match lang {
                    Lang::En => cli::errln!("{shown}: refused ({status} {code}): {message}{tries}"),
                    Lang::Zh => cli::errln!("{shown}：被拒绝（{status} {code}）：{message}{tries}"),
                }
            }
        }
    }
    if several {
        let total = batch.len();
        match lang {
            Lang::En if unavailable == 0 => {
                cli::errln!("{notarised} notarised, {refused} refused, of {total}")
            }
            Lang::En => cli::errln!(
                "{notarised} notarised, {refused} refused, {unavailable} not taken now (retry later), of {total}"
            ),
            Lang::Zh => cli::errln!(
                "共 {total} 条：{notarised} 条已公证，{refused} 条被拒绝，{unavailable} 条暂未受理（请稍后重试）"
            ),
        }
    }
    Ok(if unavailable > 0 {
        ExitCode::from(EXIT_UNAVAILABLE)
    } else if refused > 0 {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

/// A finding the notary says the entry makes at once (`second_reply;
/// cites=12`): appended all the same, but a supervisor will see it.
fn tell_finding(shown: &str, finding: &str, lang: Lang) {
    let (code, cites) = finding.split_once("; cites=").unwrap_or((finding, "?"));
    match (code, lang) {
        ("second_reply", Lang::En) => cli::errln!(
            "{shown}: note: the case already had its reply (entry {cites}); this second reply is a finding (second_reply, Art. 21)"
        ),
        ("second_reply", Lang::Zh) => cli::errln!(
            "{shown}：注意：该案件已有答复（第 {cites} 条）；再次答复将记为问题（second_reply，第二十一条）"
        ),
        (code, _) => cli::errln!("{shown}: note: finding {code} (entry {cites})"),
    }
}

/// "approval of case GD-1", for the summary line.
fn describe(signed: &SignedAttestation, lang: Lang) -> String {
    let Ok(s) = Statement::parse(&signed.statement) else {
        return match lang {
            Lang::En => "a statement the notary will refuse".to_owned(),
            Lang::Zh => "一条公证服务将拒绝的语句".to_owned(),
        };
    };
    let kind = s.kind().name();
    match (ledger::lifecycle::case_of(&s.body), lang) {
        (Some(case), Lang::En) => format!("{kind} of case {}", case.as_str()),
        (Some(case), Lang::Zh) => format!("案件 {} 的 {kind}", case.as_str()),
        (None, _) => kind.to_owned(),
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn main() -> ExitCode {
    cli::exit_code(match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            match LANG.get() {
                Some(Lang::Zh) => cli::errln!("dept：{e:#}"),
                _ => cli::errln!("dept: {e:#}"),
            }
            ExitCode::from(2)
        }
    })
}
