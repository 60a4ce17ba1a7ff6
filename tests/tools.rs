//! The tools as people run them (issue 8): the real `notary`, `dept` and
//! `verifier` binaries, with the arguments and mistakes people make.

#[allow(dead_code)]
mod harness;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harness::{binary, Setup};

fn run(cmd: &mut Command) -> Output {
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
    let seed = private.trim().rsplit('+').next().unwrap();

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
    // Signed by a department nobody registered.
    let stranger = harness::department("gd.stranger");
    let statement = harness::sign_unchecked(
        &stranger,
        ledger::attestation::Kind::Approval,
        serde_json::json!({"case": "c1"}),
    );
    let (status, first_id) = a.post(&statement.to_json());
    assert_eq!(status, 403);
    let (status, second_id) = a.post("{not json");
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
    for part in [
        "refused",
        "status=403",
        "unknown_department",
        "department=gd.stranger",
    ] {
        assert!(refusal.contains(part), "{part} not in {refusal}");
    }
    assert!(
        log.lines()
            .any(|l| l.contains(&second_id) && l.contains("invalid_json")),
        "{log}"
    );

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
