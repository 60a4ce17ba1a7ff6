//! The tools as people run them (issue 8): the real `notary`, `dept` and
//! `verifier` binaries, with the arguments and mistakes people make.

#[allow(dead_code)]
mod harness;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harness::{binary, Setup};

/// Runs a tool, in English unless the test chose a language.
fn run(cmd: &mut Command) -> Output {
    if !cmd.get_envs().any(|(k, _)| k == "LANG") {
        cmd.env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8");
    }
    cmd.output().expect("run tool")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a user error: a non-zero exit, one message naming `expected`,
/// no backtrace even when one is asked for.
fn assert_user_error(out: &Output, expected: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
    assert!(
        !err.contains("backtrace") && !err.contains("panicked") && !err.contains(".rs:"),
        "a backtrace or source path: {err}"
    );
}

fn keygen(dir: &Path, name: &str) {
    let out = run(Command::new(binary("dept"))
        .args(["keygen", "--name", name, "--out"])
        .arg(dir.join(name)));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn notary_init_requires_an_origin_and_a_root_and_never_shows_a_private_key() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "gd.root");
    let data = dir.path().join("data");
    let init = |args: &[&str]| {
        run(Command::new(binary("notary"))
            .arg("init")
            .arg("--data")
            .arg(&data)
            .args(args)
            .env("RUST_BACKTRACE", "1"))
    };
    let root_vkey = dir.path().join("gd.root.vkey");
    let root_key = dir.path().join("gd.root.key");
    let private = std::fs::read_to_string(&root_key).unwrap();
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 may hold '+' itself.
    let seed = private.trim().splitn(5, '+').nth(4).unwrap();

    let out = init(&["--root", root_vkey.to_str().unwrap()]);
    assert_user_error(&out, "--origin");
    let out = init(&["--origin", "x.gov.cn/share-audit/2026"]);
    assert_user_error(&out, "--root");
    // The private key by mistake, as a file and as text.
    for given in [root_key.to_str().unwrap(), private.trim()] {
        let out = init(&["--origin", "x.gov.cn/share-audit/2026", "--root", given]);
        assert_user_error(&out, "private key");
        assert!(!stderr(&out).contains(seed), "{}", stderr(&out));
        assert!(!stdout(&out).contains(seed));
    }
    assert!(!data.join("notary.key").exists(), "nothing was made");
    let out = init(&[
        "--origin",
        "x.gov.cn/share-audit/2026",
        "--root",
        root_vkey.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn notary_serve_says_what_to_do_on_a_missing_or_busy_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nodata");
    let out = run(Command::new(binary("notary"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&missing)
        .env("RUST_BACKTRACE", "1"));
    assert_user_error(&out, "notary init --data");
    assert!(!missing.exists(), "serve made nothing");
    // The operator's locale gives the message in Chinese.
    let out = run(Command::new(binary("notary"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&missing)
        .env_remove("LC_ALL")
        .env("LANG", "zh_CN.UTF-8"));
    assert_user_error(&out, "不是公证服务的数据目录");

    let setup = Setup::new();
    let _first = setup.start();
    let out = run(Command::new(binary("notary"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(setup.data())
        .env("RUST_BACKTRACE", "1"));
    assert_user_error(&out, "already serving");
    assert!(!stderr(&out).contains("LOCK"), "{}", stderr(&out));
}

/// A notary whose log (at info) goes to a file, as under a service manager.
struct LoggedNotary {
    child: std::process::Child,
    url: String,
    log: std::path::PathBuf,
}

impl LoggedNotary {
    fn start(data: &Path, log: &Path) -> LoggedNotary {
        let mut child = Command::new(binary("notary"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("NOTARY_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("notary listening on ")
            .unwrap()
            .to_owned();
        std::thread::spawn(move || for _ in lines.by_ref() {});
        LoggedNotary {
            child,
            url,
            log: log.to_owned(),
        }
    }

    /// POSTs a body; the status and the `x-request-id` of the answer.
    fn post(&self, body: &str) -> (u16, String) {
        let resp = match ureq::post(&format!("{}/v1/attestations", self.url)).send_string(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        (
            resp.status(),
            resp.header("x-request-id").unwrap().to_owned(),
        )
    }

    fn stop(mut self) -> String {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "notary did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::read_to_string(&self.log).unwrap()
    }
}

#[test]
fn refusals_are_logged_plainly_with_request_ids_unique_across_restarts() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let a = LoggedNotary::start(&setup.data(), &dir.path().join("a.log"));
    // A registered provider signs a step of a case that does not exist.
    let provider = harness::department("gd.rst");
    for r in harness::registration(&setup.root, &provider, &["provider"]) {
        assert_eq!(a.post(&r.to_json()).0, 201);
    }
    let unknown_case = harness::sign(
        &provider,
        ledger::attestation::Kind::Approval,
        serde_json::json!({"case": "c9"}),
    );
    let (status, first_id) = a.post(&unknown_case.to_json());
    assert_eq!(status, 422);
    let (status, second_id) = a.post("{not json");
    assert_eq!(status, 400);
    // Signed with a key of its own in a registered department's name, and
    // a forged signature: what anyone can send.
    let impostor = harness::department("gd.rst");
    let statement = harness::sign_unchecked(
        &impostor,
        ledger::attestation::Kind::Approval,
        serde_json::json!({"case": "c1"}),
    );
    let (status, impostor_id) = a.post(&statement.to_json());
    assert_eq!(status, 403);
    let mut forged = unknown_case.clone();
    forged.signature[0] ^= 1;
    let (status, forged_id) = a.post(&forged.to_json());
    assert_eq!(status, 400);
    let log = a.stop();
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
    let refusal = log
        .lines()
        .find(|l| l.contains(&first_id))
        .unwrap_or_else(|| panic!("no line for request {first_id}: {log}"));
    for part in ["refused", "status=422", "unknown_case", "department=gd.rst"] {
        assert!(refusal.contains(part), "{part} not in {refusal}");
    }
    // Bodies that are not even submissions, keys nobody registered and
    // forged signatures are no news (debug only): the log never carries a
    // department's name on a stranger's word, nor a line per such request.
    for id in [&second_id, &impostor_id, &forged_id] {
        assert!(!log.contains(id.as_str()), "{id}: {log}");
    }

    let b = LoggedNotary::start(&setup.data(), &dir.path().join("b.log"));
    let (_, after_restart) = b.post("{not json");
    b.stop();
    let ids = [&first_id, &second_id, &after_restart];
    let parsed: Vec<u64> = ids
        .iter()
        .map(|id| u64::from_str_radix(id, 16).unwrap())
        .collect();
    assert!(
        parsed[0] < parsed[1] && parsed[1] < parsed[2],
        "request ids repeat or go back across a restart: {ids:?}"
    );
}

#[allow(dead_code)]
mod proxy;

/// Runs `dept` with `args` in `dir`, feeding `stdin`.
fn dept(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(binary("dept"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        // English messages, whatever the developer's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        std::io::Write::write_all(&mut input, bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// A department's first day, as its operator types it: register, publish,
/// make mistakes, resubmit.
#[test]
fn dept_says_what_became_of_each_attestation() {
    let setup = Setup::new();
    let notary = setup.start();
    let dir = setup.dir.path();
    let policy = setup.data().join("policy.txt");
    let policy = policy.to_str().unwrap();
    let url = notary.url.as_str();
    assert_ok(&dept(
        dir,
        &["keygen", "--name", "gd.rst", "--out", "gd.rst"],
        None,
    ));
    std::fs::create_dir(dir.join("registry")).unwrap();

    // The department's registration, its body from standard input.
    let body = r#"{"id":"gd.rst","name":"省人社厅","roles":["provider"],"jurisdiction":"广东省"}"#;
    let out = dept(
        dir,
        &[
            "sign",
            "--key",
            "root.key",
            "--policy",
            policy,
            "--kind",
            "department",
            "--body",
            "@-",
            "--out",
            "registry/1-department.json",
        ],
        Some(body.as_bytes()),
    );
    assert_ok(&out);
    // A key made for a misspelt name is not registered to another.
    assert_ok(&dept(
        dir,
        &["keygen", "--name", "gd.rsst", "--out", "typo"],
        None,
    ));
    let out = dept(
        dir,
        &[
            "register",
            "--key",
            "root.key",
            "--policy",
            policy,
            "--vkey",
            "typo.vkey",
            "--department",
            "gd.rst",
        ],
        None,
    );
    assert_user_error(&out, "is the key of gd.rsst, not gd.rst");
    let out = dept(
        dir,
        &[
            "register",
            "--key",
            "root.key",
            "--policy",
            policy,
            "--vkey",
            "gd.rst.vkey",
            "--out",
            "registry/2-key.json",
        ],
        None,
    );
    assert_ok(&out);
    let out = dept(dir, &["pubkey", "--json", "gd.rst.vkey"], None);
    let named: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(named["name"], "gd.rst");

    // A folder, submitted at once: one line per attestation and a total.
    let out = dept(
        dir,
        &[
            "submit", "--notary", url, "--policy", policy, "registry", "--out", "receipts",
        ],
        None,
    );
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("registry/1-department.json: notarised as entry 0 (department)"),
        "{err}"
    );
    assert!(
        err.contains("registry/2-key.json: notarised as entry 1 (department_key)"),
        "{err}"
    );
    assert!(err.contains("2 notarised, 0 refused, of 2"), "{err}");
    assert!(dir.join("receipts/2-key.json").is_file());

    // Submitted again, with --out: said so, and the original entry.
    let out = dept(
        dir,
        &[
            "submit",
            "--notary",
            url,
            "registry/1-department.json",
            "--out",
            "again.json",
        ],
        None,
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("already notarised as entry 0"),
        "{}",
        stderr(&out)
    );

    // A body file given without @, then with a byte order mark.
    let catalog = r#"{"item":"rst/x","name":"社保缴费记录","data_items":["缴费月份"],"format":"JSON","update_frequency":"每日","share_attribute":"unconditional","sharing_method":"service_interface","classification":"二级"}"#;
    std::fs::write(
        dir.join("catalog.json"),
        [&b"\xEF\xBB\xBF"[..], catalog.as_bytes()].concat(),
    )
    .unwrap();
    let sign_catalog = |body: &str| {
        dept(
            dir,
            &[
                "sign",
                "--key",
                "gd.rst.key",
                "--policy",
                policy,
                "--kind",
                "catalog_entry",
                "--body",
                body,
            ],
            None,
        )
    };
    assert_user_error(&sign_catalog("catalog.json"), "--body @catalog.json");
    let out = sign_catalog("@catalog.json");
    assert_ok(&out);
    // Submitted from standard input: the receipt on stdout, a line on stderr.
    let out = dept(
        dir,
        &["submit", "--notary", url, "--policy", policy, "-"],
        Some(&out.stdout),
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("(stdin): notarised as entry 2 (catalog_entry)"),
        "{}",
        stderr(&out)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["index"], 2);

    // Mistakes: a time in seconds, a member of the wrong type.
    let out = dept(
        dir,
        &[
            "sign",
            "--key",
            "gd.rst.key",
            "--policy",
            policy,
            "--kind",
            "approval",
            "--body",
            r#"{"case":"c9"}"#,
            "--signed-at",
            "1764201600",
        ],
        None,
    );
    assert_user_error(&out, "looks like seconds");
    let bad = catalog.replace(r#""data_items":["缴费月份"]"#, r#""data_items":"缴费月份""#);
    assert_user_error(&sign_catalog(&bad), "`body.data_items`");
    let feb_30 = r#"{"case":"c1","item":"rst/x","provider":"gd.rst","data_items":["a"],"legal_basis":"x","use_scenario":"s","scope_of_use":"s","sharing_method":"service_interface","use_until":"2027-02-30","approved_by":"张三","declaration":true}"#;
    let out = dept(
        dir,
        &[
            "sign",
            "--key",
            "gd.rst.key",
            "--policy",
            policy,
            "--kind",
            "application",
            "--body",
            feb_30,
        ],
        None,
    );
    assert_user_error(
        &out,
        "`body.use_until`: \"2027-02-30\" is not a date YYYY-MM-DD that exists",
    );

    // A refusal: its status, code and message; exit 1.
    let out = dept(
        dir,
        &[
            "sign",
            "--key",
            "gd.rst.key",
            "--policy",
            policy,
            "--kind",
            "approval",
            "--body",
            r#"{"case":"c9"}"#,
        ],
        None,
    );
    assert_ok(&out);
    let out = dept(dir, &["submit", "--notary", url, "-"], Some(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused (422 unknown_case)"),
        "{}",
        stderr(&out)
    );

    // In Chinese: by option, or by the locale; the code stays the same.
    let approval = dept(
        dir,
        &[
            "sign",
            "--key",
            "gd.rst.key",
            "--policy",
            policy,
            "--kind",
            "approval",
            "--body",
            r#"{"case":"c9"}"#,
        ],
        None,
    );
    let out = dept(
        dir,
        &["--lang", "zh", "submit", "--notary", url, "-"],
        Some(&approval.stdout),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("被拒绝（422 unknown_case）：案件 c9 不存在"),
        "{err}"
    );
    let out = Command::new(binary("dept"))
        .args(["submit", "--notary", url, "registry/1-department.json"])
        .current_dir(dir)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("此前已公证为第 0 条"),
        "{}",
        stderr(&out)
    );
    let out = dept(
        dir,
        &[
            "--lang", "zh", "submit", "--notary", url, "a.json", "b.json",
        ],
        None,
    );
    assert_user_error(&out, "多份证明：请用 --out 文件夹 保存它们的收据");
}

#[test]
fn dept_templates_schemas_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert_ok(&dept(
        dir,
        &["keygen", "--name", "gd.rst", "--out", "k"],
        None,
    ));
    for kind in ledger::attestation::Kind::ALL {
        let template = dept(dir, &["template", kind.name()], None);
        assert_ok(&template);
        let mut body = String::from_utf8(template.stdout).unwrap();
        let sign = |body: &str| {
            dept(
                dir,
                &[
                    "sign",
                    "--key",
                    "k.key",
                    "--log",
                    "x.gov.cn/share-audit/2026",
                    "--kind",
                    kind.name(),
                    "--body",
                    body,
                ],
                None,
            )
        };
        if *kind == ledger::attestation::Kind::DepartmentKey {
            // The template's key is an example anyone can sign with: refused
            // until it is replaced by the department's own.
            assert_user_error(&sign(&body), "example key of `dept template`");
            let own = dept(dir, &["pubkey", "k.vkey"], None);
            body = body.replace(ledger::attestation::EXAMPLE_KEY, stdout(&own).trim());
        }
        let out = sign(&body);
        assert_ok(&out);
        let schema = dept(dir, &["schema", kind.name()], None);
        let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
        let template: serde_json::Value = serde_json::from_str(&body).unwrap();
        for member in schema["required"].as_array().unwrap() {
            assert!(
                template.get(member.as_str().unwrap()).is_some(),
                "{kind:?} {member}"
            );
        }
    }
    assert_user_error(&dept(dir, &["template", "wiretap"], None), "unknown kind");
    // A member twice, a file that never ends, a salt too short to salt.
    let twice = dept(
        dir,
        &[
            "sign",
            "--key",
            "k.key",
            "--log",
            "x.gov.cn/share-audit/2026",
            "--kind",
            "approval",
            "--body",
            r#"{"case":"a","case":"b"}"#,
        ],
        None,
    );
    assert_user_error(&twice, "duplicate");
    let endless = dept(
        dir,
        &[
            "sign",
            "--key",
            "k.key",
            "--log",
            "x.gov.cn/share-audit/2026",
            "--kind",
            "approval",
            "--body",
            "@/dev/zero",
        ],
        None,
    );
    assert_user_error(&endless, "MiB");
    std::fs::write(dir.join("short"), b"abc").unwrap();
    std::fs::write(dir.join("d.txt"), b"d").unwrap();
    assert_user_error(
        &dept(dir, &["digest", "--salt", "short", "d.txt"], None),
        "16 bytes",
    );

    std::fs::write(dir.join("data.csv"), b"a,b\n1,2\n").unwrap();
    std::fs::write(dir.join("salt"), b"0123456789abcdef").unwrap();
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let plain = dept(dir, &["digest", "data.csv"], None);
    assert_eq!(
        stdout(&plain).trim(),
        format!("sha256:{}", hex(&ledger::hashing::sha256(b"a,b\n1,2\n")))
    );
    let salted = dept(dir, &["digest", "--salt", "salt", "-"], Some(b"a,b\n1,2\n"));
    assert_eq!(
        stdout(&salted).trim(),
        format!(
            "sha256:{}",
            hex(&ledger::hashing::sha256(b"0123456789abcdefa,b\n1,2\n"))
        )
    );
}

/// Registers gd.rst and returns a signed approval-free statement to submit:
/// its department registration, signed by the root.
fn registration_of(setup: &Setup, dir: &Path) -> Vec<u8> {
    let policy = setup.data().join("policy.txt");
    let out = dept(
        dir,
        &[
            "sign",
            "--key",
            "root.key",
            "--policy",
            policy.to_str().unwrap(),
            "--kind",
            "department",
            "--body",
            r#"{"id":"gd.rst","name":"人社厅","roles":["provider"],"jurisdiction":"广东省"}"#,
        ],
        None,
    );
    assert_ok(&out);
    out.stdout
}

#[test]
fn dept_reaches_a_notary_behind_tls_and_retries_when_it_is_busy() {
    let setup = Setup::new();
    let notary = setup.start();
    let dir = setup.dir.path();
    let ca = proxy::TestCa::new();
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).unwrap();
    let front = proxy::Proxy::start(&notary.url, Some(ca.server.clone()), 2);
    let attestation = registration_of(&setup, dir);

    // The test CA is not the system's: refused, and said why.
    let out = dept(
        dir,
        &["submit", "--notary", &front.url, "--retries", "0", "-"],
        Some(&attestation),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach the notary"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("give the notary's CA with --ca"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );

    // Trusting the bundle: the first two answers are 503, the third a receipt.
    let out = dept(
        dir,
        &[
            "submit",
            "--notary",
            &front.url,
            "--ca",
            "ca.pem",
            "--retries",
            "3",
            "-",
        ],
        Some(&attestation),
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("notarised as entry 0"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("after 3 attempts"),
        "{}",
        stderr(&out)
    );
    assert_eq!(front.refused.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Out of retries, having waited as asked: the notary's 503, and exit 3
    // (not taken now, retry later).
    let busy = proxy::Proxy::start_waiting(&notary.url, None, 5, 1);
    let started = Instant::now();
    let out = dept(
        dir,
        &["submit", "--notary", &busy.url, "--retries", "1", "-"],
        Some(&attestation),
    );
    assert!(
        started.elapsed() >= Duration::from_secs(busy.retry_after),
        "Retry-After was not honoured"
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    assert!(
        stderr(&out).contains("refused (503 overloaded)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("after 2 attempts"),
        "{}",
        stderr(&out)
    );

    // --ca is for TLS only; stdin can be read once.
    let out = dept(
        dir,
        &["submit", "--notary", &notary.url, "--ca", "ca.pem", "-"],
        Some(&attestation),
    );
    assert_user_error(&out, "--ca is for an https:// notary");
    let out = dept(
        dir,
        &["submit", "--notary", &notary.url, "-", "-"],
        Some(&attestation),
    );
    assert_user_error(&out, "more than once");
}

/// `verifier findings` on receipts a real notary issued: a rejection of an
/// unconditional item now, and a reply missing a month later.
#[test]
fn verifier_findings_on_receipts_of_a_real_notary() {
    use ledger::attestation::Kind;
    let setup = Setup::new();
    let notary = setup.start();
    let (provider, requester) = harness::provider_and_requester(&setup, &notary);
    let dir = tempfile::tempdir().unwrap();
    let keep = |name: &str, body: serde_json::Value| {
        std::fs::write(dir.path().join(format!("{name}.json")), body.to_string()).unwrap();
    };
    // The harness's catalog item is conditional; an unconditional one here.
    let mut item = harness::catalog_entry("rst/open");
    item["share_attribute"] = "unconditional".into();
    item.as_object_mut().unwrap().remove("conditions");
    let (status, body) = notary.submit(&harness::sign(&provider, Kind::CatalogEntry, item));
    assert_eq!(status, 201, "{body}");
    keep("1-catalog", body);
    for (name, case) in [("2-application", "c1"), ("3-application", "c2")] {
        let (status, body) = notary.submit(&harness::sign(
            &requester,
            Kind::Application,
            harness::application(case, "rst/open", "gd.rst"),
        ));
        assert_eq!(status, 201, "{body}");
        keep(name, body);
    }
    let (status, body) = notary.submit(&harness::sign(
        &provider,
        Kind::Rejection,
        serde_json::json!({"case": "c1", "reasons": ["不予共享"]}),
    ));
    assert_eq!(status, 201, "{body}");
    keep("4-rejection", body);

    let policy = setup.data().join("policy.txt");
    let in_a_month = ledger::time::utc(harness::now_ms() + 31 * 86_400_000);
    let out = run(Command::new(binary("verifier"))
        .args(["--json", "findings"])
        .arg(dir.path())
        .arg("--policy")
        .arg(&policy)
        .args(["--as-of", &in_a_month]));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<(&str, bool)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["open"].as_bool().unwrap()))
        .collect();
    assert!(
        codes.contains(&("rejection_of_unconditional", false)),
        "{report}"
    );
    assert!(codes.contains(&("reply_missing", true)), "{report}");
    assert_eq!(report["open"], 1, "{report}");
    // A tampered receipt is no evidence of anything.
    let mut bad: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("4-rejection.json")).unwrap())
            .unwrap();
    bad["index"] = 0.into();
    std::fs::write(dir.path().join("4-rejection.json"), bad.to_string()).unwrap();
    let out = run(Command::new(binary("verifier"))
        .args(["findings"])
        .arg(dir.path())
        .arg("--policy")
        .arg(&policy));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

/// A second reply in a case is appended, and its submitter told at once.
#[test]
fn dept_tells_a_second_reply_at_once() {
    use ledger::attestation::Kind;
    let setup = Setup::new();
    let notary = setup.start();
    let (provider, requester) = harness::provider_and_requester(&setup, &notary);
    let (status, body) = notary.submit(&harness::sign(
        &requester,
        Kind::Application,
        harness::application("c1", "rst/shebao", "gd.rst"),
    ));
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let reply = |name: &str, kind: Kind, body: serde_json::Value| {
        let a = harness::sign(&provider, kind, body);
        std::fs::write(dir.path().join(name), a.to_json()).unwrap();
        dept(dir.path(), &["submit", "--notary", &notary.url, name], None)
    };
    let first = reply(
        "approval.json",
        Kind::Approval,
        serde_json::json!({"case": "c1"}),
    );
    assert_ok(&first);
    assert!(!stderr(&first).contains("note:"), "{}", stderr(&first));
    let index: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let second = reply(
        "rejection.json",
        Kind::Rejection,
        serde_json::json!({"case": "c1", "reasons": ["改变主意"]}),
    );
    assert_ok(&second);
    let err = stderr(&second);
    assert!(err.contains("notarised as entry"), "{err}");
    assert!(
        err.contains(&format!(
            "the case already had its reply (entry {})",
            index["index"]
        )),
        "{err}"
    );
    assert!(err.contains("second_reply"), "{err}");
    // Submitted again (a lost answer, say): the same receipt, the same note.
    let again = dept(
        dir.path(),
        &["submit", "--notary", &notary.url, "rejection.json"],
        None,
    );
    assert_ok(&again);
    let err = stderr(&again);
    assert!(err.contains("already notarised as entry"), "{err}");
    assert!(err.contains("second_reply"), "{err}");
    // The first reply submitted again is no second reply.
    let first_again = dept(
        dir.path(),
        &["submit", "--notary", &notary.url, "approval.json"],
        None,
    );
    assert!(
        !stderr(&first_again).contains("note:"),
        "{}",
        stderr(&first_again)
    );
}

/// Receipts of two histories of one log (a notary that forked: the same key
/// and origin, different entries at one index) are refused together.
#[test]
fn verifier_findings_refuses_receipts_of_two_histories() {
    let setup = Setup::new();
    let copy = setup.dir.path().join("copy");
    let status = Command::new("cp")
        .arg("-r")
        .arg(setup.data())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let dir = tempfile::tempdir().unwrap();
    for (i, data) in [setup.data(), copy.clone()].iter().enumerate() {
        let notary = harness::Notary::start(data, &[]);
        let name = format!("gd.dept{i}");
        let [department, _] =
            harness::registration(&setup.root, &harness::department(&name), &["provider"]);
        let (status, body) = notary.submit(&department);
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["index"], 0);
        std::fs::write(dir.path().join(format!("{i}.json")), body.to_string()).unwrap();
    }
    let out = run(Command::new(binary("verifier"))
        .args(["--json", "findings"])
        .arg(dir.path())
        .arg("--policy")
        .arg(setup.data().join("policy.txt")));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "fork_detected", "{report}");
}

/// Receipts of different entries, each in a checkpoint of the same size
/// with a different root: two histories, found from the checkpoints alone.
#[test]
fn verifier_findings_refuses_two_roots_at_one_size() {
    let setup = Setup::new();
    // Both histories start with an auditor, who reads the receipts.
    let auditor = harness::auditor(&setup, &setup.start());
    let copy = setup.dir.path().join("copy");
    let status = Command::new("cp")
        .arg("-r")
        .arg(setup.data())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let dir = tempfile::tempdir().unwrap();
    for (history, data) in [setup.data(), copy.clone()].iter().enumerate() {
        let notary = harness::Notary::start(data, &[]);
        for n in 0..2 {
            let name = format!("gd.h{history}n{n}");
            let [department, _] =
                harness::registration(&setup.root, &harness::department(&name), &["provider"]);
            assert_eq!(notary.submit(&department).0, 201);
        }
        // History 0 gives entry 3, history 1 entry 2: no index twice, both
        // proven in a checkpoint of size 4.
        let receipt = notary.read_text_as(&auditor, &format!("/v1/receipts/{}", 3 - history));
        std::fs::write(dir.path().join(format!("{history}.json")), receipt).unwrap();
    }
    let out = run(Command::new(binary("verifier"))
        .args(["--json", "findings"])
        .arg(dir.path())
        .arg("--policy")
        .arg(setup.data().join("policy.txt")));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "fork_detected", "{report}");
    assert!(
        report["message"].as_str().unwrap().contains("size 4"),
        "{report}"
    );
}
