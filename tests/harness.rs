//! Harness for end-to-end tests: runs the real `notary` binary on a
//! temporary data directory and talks to it over HTTP on loopback.
//!
//! The binaries are found next to the test executable's `deps/` directory,
//! so `scripts/test` builds them (`cargo build --release --bins`) first.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use department::now_ms;
use department::DepartmentKey;
use ledger::attestation::{Kind, SignedAttestation};
use ledger::keyfile;
use ledger::note::NoteSigner;
use ledger::policy::Policy;
use serde_json::{json, Value};

/// Path of a workspace binary built alongside the tests.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --release --bins`, as scripts/test does)",
        path.display()
    );
    path
}

/// A root key and a notary data directory initialised with it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub root: DepartmentKey,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::new_in(&std::env::temp_dir())
    }

    /// A setup whose data directory lives under `parent`.
    pub fn new_in(parent: &Path) -> Setup {
        let (root, _) = DepartmentKey::generate("gd.root").expect("root key");
        Setup::with(parent, ORIGIN, root)
    }

    /// A notary for the log `origin` whose policy trusts `root`.
    pub fn with(parent: &Path, origin: &str, root: DepartmentKey) -> Setup {
        let dir = tempfile::tempdir_in(parent).expect("temp dir");
        keyfile::write_key_pair(&dir.path().join("root"), &note_signer(&root))
            .expect("write root key");
        let out = Command::new(binary("notary"))
            .args(["init", "--origin", origin, "--data"])
            .arg(dir.path().join("data"))
            .arg("--root")
            .arg(dir.path().join("root.vkey"))
            .output()
            .expect("run notary init");
        assert!(
            out.status.success(),
            "notary init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Setup { dir, root }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn policy(&self) -> Policy {
        Policy::parse(&std::fs::read_to_string(self.data().join("policy.txt")).unwrap()).unwrap()
    }

    pub fn start(&self) -> Notary {
        Notary::start(&self.data(), &[])
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup::new()
    }
}

/// A running `notary serve` process.
pub struct Notary {
    pub child: Child,
    pub url: String,
    /// For `notary-test-clock`: its stdin, and the lines it prints.
    clock: Option<(std::process::ChildStdin, std::sync::mpsc::Receiver<String>)>,
}

impl Notary {
    pub fn start(data: &Path, extra: &[&str]) -> Notary {
        let mut child = Command::new(binary("notary"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("NOTARY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn notary serve");
        let (url, _) = listening(&mut child);
        Notary {
            child,
            url,
            clock: None,
        }
    }

    /// The notary on a clock the test sets ([`Notary::set_clock`]), starting
    /// at `start_ms`, with the calendar files of `calendar` if given
    /// (`notary-test-clock`, built with the tests only).
    pub fn start_with_clock(data: &Path, start_ms: u64, calendar: Option<&Path>) -> Notary {
        let mut child = Command::new(binary("notary-test-clock"))
            .arg(data)
            .arg(start_ms.to_string())
            .args(calendar)
            .env("NOTARY_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn notary-test-clock");
        let (url, lines) = listening(&mut child);
        let stdin = child.stdin.take().expect("stdin");
        Notary {
            child,
            url,
            clock: Some((stdin, lines)),
        }
    }

    /// Sets the notary's clock (`notary-test-clock` only); it only moves forward.
    pub fn set_clock(&mut self, ms: u64) {
        use std::io::Write as _;
        let (stdin, lines) = self.clock.as_mut().expect("a notary-test-clock");
        writeln!(stdin, "{ms}").expect("write to notary-test-clock");
        let answer = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("notary-test-clock answers");
        assert_eq!(
            answer,
            format!("clock {ms}"),
            "the clock only moves forward"
        );
    }

    /// Resident memory of the notary process, from /proc (Linux).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS line");
        kib * 1024
    }

    /// The address to open raw TCP connections to.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(mut self) {
        self.child.kill().expect("kill notary");
        self.child.wait().expect("reap notary");
    }

    pub fn submit(&self, a: &SignedAttestation) -> (u16, Value) {
        let r = department::submit(&self.url, a).expect("notary reachable");
        (r.status, r.body)
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        match ureq::get(&format!("{}{path}", self.url)).call() {
            Ok(r) => (r.status(), read_all(r)),
            Err(ureq::Error::Status(code, r)) => (code, read_all(r)),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// A read signed by `reader` (specs/reads.md).
    pub fn read_as(&self, reader: &DepartmentKey, path: &str) -> (u16, Vec<u8>) {
        let mut client = department::Client::new(&self.url, None).unwrap();
        client.retries = 0;
        let r = client.read(&reader.key, path).expect("notary reachable");
        (r.status, r.body)
    }

    /// A read signed by `reader` at `at_ms` (for a notary on a test clock).
    pub fn read_at(&self, reader: &DepartmentKey, path: &str, at_ms: u64) -> (u16, Vec<u8>) {
        let mut client = department::Client::new(&self.url, None).unwrap();
        client.retries = 0;
        let r = client
            .read_at(&reader.key, path, Some(at_ms / 1000))
            .expect("notary reachable");
        (r.status, r.body)
    }

    /// The text a read signed by `reader` gets; it must be a 200.
    pub fn read_text_as(&self, reader: &DepartmentKey, path: &str) -> String {
        let (status, body) = self.read_as(reader, path);
        assert_eq!(
            status,
            200,
            "GET {path} as {}: {}",
            reader.department,
            String::from_utf8_lossy(&body)
        );
        String::from_utf8(body).unwrap()
    }

    pub fn get_text(&self, path: &str) -> String {
        let (status, body) = self.get(path);
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        String::from_utf8(body).unwrap()
    }

    pub fn checkpoint(&self) -> String {
        self.get_text("/checkpoint")
    }

    /// Fetches the consistency proof from `old` to `new` and verifies it.
    pub fn check_consistent(
        &self,
        old: &ledger::checkpoint::Checkpoint,
        new: &ledger::checkpoint::Checkpoint,
    ) -> Result<(), ledger::proof::ProofError> {
        let text = self.get_text(&format!(
            "/v1/proof/consistency?from={}&to={}",
            old.size, new.size
        ));
        let proof = verifier::parse_proof(&text).expect("the notary sends base64 hashes");
        ledger::proof::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
    }

    pub fn tree_size(&self) -> u64 {
        self.checkpoint().lines().nth(1).unwrap().parse().unwrap()
    }
}

/// Waits for the notary to print its address; the lines it prints later
/// are passed on.
fn listening(child: &mut Child) -> (String, std::sync::mpsc::Receiver<String>) {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        assert!(Instant::now() < deadline, "notary did not start");
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("notary listening on ") {
                    break url.trim().to_owned();
                }
            }
            _ => panic!("notary exited before listening"),
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (url, rx)
}

impl Drop for Notary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_all(r: ureq::Response) -> Vec<u8> {
    let mut v = Vec::new();
    r.into_reader().read_to_end(&mut v).unwrap();
    v
}

/// Reads from `stream` until the server closes it (or resets it), for at
/// most `limit`; returns what it sent and how long it took, or `None` if the
/// connection was still open at the end.
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while started.elapsed() < limit {
        stream
            .set_read_timeout(Some(
                limit
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_millis(1)),
            ))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => {
                return Some((
                    String::from_utf8_lossy(&got).into_owned(),
                    started.elapsed(),
                ))
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return None
            }
            Err(_) => {
                return Some((
                    String::from_utf8_lossy(&got).into_owned(),
                    started.elapsed(),
                ))
            } // reset
        }
    }
    None
}

/// Asks for the checkpoint until a normal client is served, for at most
/// `limit` from `started`; returns when it was. `who` names what holds the
/// notary's connections, for the failure message.
pub fn wait_until_served(
    notary: &Notary,
    started: Instant,
    limit: Duration,
    who: &str,
) -> Duration {
    loop {
        let elapsed = started.elapsed();
        assert!(
            elapsed < limit,
            "{who} held every connection for {elapsed:?}"
        );
        let got = ureq::get(&format!("{}/checkpoint", notary.url))
            .timeout(Duration::from_secs(2))
            .call();
        if got.is_ok() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A department with its own key.
pub fn department(id: &str) -> DepartmentKey {
    DepartmentKey::generate(id).expect("department key").0
}

/// The origin of every test notary ([`Setup`]).
pub const ORIGIN: &str = "test.gov.cn/share-audit/2026";

/// Signs a statement for the test log ([`ORIGIN`]), now.
pub fn sign(key: &DepartmentKey, kind: Kind, body: Value) -> SignedAttestation {
    key.sign(ORIGIN, kind, body, now_ms())
        .unwrap_or_else(|e| panic!("{kind:?} statement invalid: {e}"))
}

/// Signs a statement for the test log at `at_ms` (a test clock's time).
pub fn sign_at(key: &DepartmentKey, kind: Kind, body: Value, at_ms: u64) -> SignedAttestation {
    key.sign(ORIGIN, kind, body, at_ms)
        .unwrap_or_else(|e| panic!("{kind:?} statement invalid: {e}"))
}

/// Signs a statement for the test log without checking it first: for
/// statements the notary must refuse.
pub fn sign_unchecked(key: &DepartmentKey, kind: Kind, body: Value) -> SignedAttestation {
    SignedAttestation::sign(key.statement(ORIGIN, kind, body, now_ms()), &key.key)
}

/// Root-signed registration of a department (in 广东省) and one key.
pub fn registration(
    root: &DepartmentKey,
    dept: &DepartmentKey,
    roles: &[&str],
) -> [SignedAttestation; 2] {
    registration_in(root, dept, roles, "广东省")
}

/// Root-signed registration of a department in `jurisdiction`, and one key.
pub fn registration_in(
    root: &DepartmentKey,
    dept: &DepartmentKey,
    roles: &[&str],
    jurisdiction: &str,
) -> [SignedAttestation; 2] {
    [
        sign(
            root,
            Kind::Department,
            json!({"id": dept.department, "name": format!("{} 部门", dept.department), "roles": roles, "jurisdiction": jurisdiction}),
        ),
        sign(
            root,
            Kind::DepartmentKey,
            json!({"department": dept.department, "key": dept.public_key_base64()}),
        ),
    ]
}

pub fn catalog_entry(item: &str) -> Value {
    json!({
        "item": item, "name": "企业社保缴纳记录", "data_items": ["统一社会信用代码", "缴费月份", "缴费金额"],
        "format": "JSON", "update_frequency": "每日", "share_attribute": "conditional",
        "sharing_method": "service_interface", "conditions": ["仅用于企业信用评价"], "classification": "二级"
    })
}

pub fn application(case: &str, item: &str, provider: &str) -> Value {
    json!({
        "case": case, "item": item, "provider": provider, "data_items": ["缴费月份"],
        "legal_basis": "《政务数据共享条例》第二十条", "use_scenario": "企业信用评价", "scope_of_use": "本部门信用评价处",
        "sharing_method": "service_interface", "use_until": "2027-12-31", "approved_by": "数据共享工作机构负责人 张三",
        "declaration": true
    })
}

/// Keeps a signer usable by tests that need a `NoteSigner`.
pub fn note_signer(key: &DepartmentKey) -> NoteSigner {
    NoteSigner::new(&key.department, key.key.clone()).unwrap()
}

/// Registers an auditor (审计), who reads every entry and signs nothing.
pub fn auditor(setup: &Setup, notary: &Notary) -> DepartmentKey {
    let auditor = department("gd.audit");
    for a in registration(&setup.root, &auditor, &["auditor"]) {
        let (status, body) = notary.submit(&a);
        assert_eq!(status, 201, "{body}");
    }
    auditor
}

/// Registers a provider and a requester and publishes one catalog item,
/// so that applications (each opening a new case) can be submitted.
pub fn provider_and_requester(setup: &Setup, notary: &Notary) -> (DepartmentKey, DepartmentKey) {
    let provider = department("gd.rst");
    let requester = department("gd.scjgj");
    for (d, roles) in [(&provider, &["provider"][..]), (&requester, &["requester"])] {
        for a in registration(&setup.root, d, roles) {
            assert_eq!(notary.submit(&a).0, 201);
        }
    }
    let (status, body) = notary.submit(&sign(
        &provider,
        Kind::CatalogEntry,
        catalog_entry("rst/shebao"),
    ));
    assert_eq!(status, 201, "{body}");
    (provider, requester)
}

/// A new application (a new case) by `requester`.
pub fn new_case(requester: &DepartmentKey, case: &str) -> SignedAttestation {
    sign(
        requester,
        Kind::Application,
        application(case, "rst/shebao", "gd.rst"),
    )
}
