//! The attacks and failures of the hardening review, each reproduced against
//! the real binaries (notary, dept, verifier) over loopback, and shown to be
//! refused or bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use department::DepartmentKey;
use e2e::*;
use ledger::attestation::{Kind, SignedAttestation};
use ledger::entry::Entry;
use serde_json::{json, Value};

/// Runs a binary with stdout a pipe whose reader has already gone away.
fn run_with_closed_stdout(cmd: &mut Command) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer)
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn assert_quiet_success(what: &str, out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{what}: {} {stderr}",
        out.status
    );
}

#[test]
fn a_closed_stdout_ends_output_quietly() {
    let setup = Setup::new();
    let notary = setup.start();
    let dir = setup.dir.path();
    let dept = binary("dept");
    let policy = setup.data().join("policy.txt");

    let out = run_with_closed_stdout(
        Command::new(&dept)
            .args(["keygen", "--name", "gd.rst", "--out"])
            .arg(dir.join("k")),
    );
    assert_quiet_success("dept keygen", &out);
    assert!(
        dir.join("k.key").exists(),
        "the key is written whatever stdout is"
    );

    let attestation = dir.join("a.json");
    let root = setup.dir.path().join("root.key");
    let body = r#"{"id":"gd.rst","name":"厅","roles":["provider"],"jurisdiction":"广东省"}"#;
    let sign = Command::new(&dept)
        .args(["sign", "--kind", "department", "--body", body, "--key"])
        .arg(&root)
        .arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&attestation)
        .output()
        .unwrap();
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );

    // The receipt is printed after the submission succeeded: the entry is
    // appended and dept exits 0, as the demo's `| grep -m1` expects.
    let out = run_with_closed_stdout(
        Command::new(&dept)
            .args(["submit", "--notary", &notary.url])
            .arg(&attestation),
    );
    assert_quiet_success("dept submit", &out);
    assert_eq!(notary.tree_size(), 1);

    let receipt = dir.join("r.json");
    let keep = Command::new(&dept)
        .args(["submit", "--notary", &notary.url, "--out"])
        .arg(&receipt)
        .arg(&attestation)
        .output()
        .unwrap();
    assert!(keep.status.success());
    let out = run_with_closed_stdout(
        Command::new(binary("verifier"))
            .args(["receipt", "--policy"])
            .arg(&policy)
            .arg(&receipt),
    );
    assert_quiet_success("verifier receipt", &out);

    // A stdout that fails otherwise (a full disk) is a failure, not the end
    // of the output: the receipt a department expects is not there.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(&dept)
        .args(["submit", "--notary", &notary.url])
        .arg(&attestation)
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write the output"), "{stderr}");

    let out = run_with_closed_stdout(
        Command::new(binary("notary"))
            .args(["init", "--origin", "x.gov.cn/share-audit/2026", "--root"])
            .arg(dir.join("root.vkey"))
            .arg("--data")
            .arg(dir.join("second")),
    );
    assert_quiet_success("notary init", &out);
    assert!(dir.join("second/policy.txt").exists());
}

/// Entry `index` of a running notary, as the signed attestation it holds.
fn attestation_of_entry(notary: &Notary, reader: &DepartmentKey, index: u64) -> SignedAttestation {
    let (status, bytes) = notary.read_as(reader, &format!("/v1/entries/{index}"));
    assert_eq!(status, 200);
    let entry = Entry::parse(&bytes).unwrap();
    SignedAttestation {
        statement: entry.statement,
        signature: entry.signature,
    }
}

#[test]
fn statements_cannot_be_replayed_into_another_log() {
    // Two logs whose policies trust the same root key.
    let (root, _) = DepartmentKey::generate("gd.root").unwrap();
    let a = Setup::with(&std::env::temp_dir(), ORIGIN, root.clone());
    let other = "other.gov.cn/share-audit/2026";
    let b = Setup::with(&std::env::temp_dir(), other, root.clone());
    let (notary_a, notary_b) = (a.start(), b.start());
    // Entries 0 and 1 of A: an auditor's registration, whom A lets read.
    let auditor = auditor(&a, &notary_a);

    // In A: a provider and its key are registered, the key signs, and is revoked.
    let provider = department("gd.rst");
    for att in registration(&root, &provider, &["provider"]) {
        assert_eq!(notary_a.submit(&att).0, 201);
    }
    let signed_in_a = sign(&provider, Kind::CatalogEntry, catalog_entry("rst/shebao"));
    assert_eq!(notary_a.submit(&signed_in_a).0, 201);
    let revoke = sign(
        &root,
        Kind::KeyRevocation,
        json!({"department": "gd.rst", "key": provider.public_key_base64(), "reason": "密钥泄露"}),
    );
    assert_eq!(notary_a.submit(&revoke).0, 201);

    // The registrations fetched from A, and the revoked key's statement,
    // posted to B: every one is refused, and B appends nothing.
    for replayed in [
        attestation_of_entry(&notary_a, &auditor, 0),
        attestation_of_entry(&notary_a, &auditor, 1),
        signed_in_a,
    ] {
        let (status, body) = notary_b.submit(&replayed);
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("wrong_log")),
            "{body}"
        );
    }
    assert_eq!(notary_b.tree_size(), 0);
    // Signed for B, the key is just unknown there.
    let for_b = provider
        .sign(other, Kind::CatalogEntry, catalog_entry("rst/x"), now_ms())
        .unwrap();
    let (status, body) = notary_b.submit(&for_b);
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("unknown_department"))
    );

    // A receipt of A is no receipt under B's policy.
    let receipt = a.dir.path().join("receipt.json");
    std::fs::write(&receipt, notary_a.read_text_as(&auditor, "/v1/receipts/1")).unwrap();
    let verify = |policy: &Path| {
        Command::new(binary("verifier"))
            .args(["receipt", "--policy"])
            .arg(policy)
            .arg(&receipt)
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(verify(&a.data().join("policy.txt")), Some(0));
    assert_eq!(verify(&b.data().join("policy.txt")), Some(1));
}

#[test]
fn signed_at_far_from_the_notarised_time_is_refused() {
    let setup = Setup::new();
    let notary = setup.start();
    let hour = 3_600_000;
    for (signed_at, what) in [
        (now_ms() - 25 * hour, "a day old"),
        (now_ms() + hour, "an hour ahead"),
    ] {
        let att = setup
            .root
            .sign(
                ORIGIN,
                Kind::Department,
                json!({"id": "gd.rst", "name": "厅", "roles": ["provider"], "jurisdiction": "广东省"}),
                signed_at,
            )
            .unwrap();
        let (status, body) = notary.submit(&att);
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("signed_at_out_of_range")),
            "{what}: {body}"
        );
    }
    assert_eq!(notary.tree_size(), 0);
}

/// POSTs a bulk body; returns the status and the answer.
fn post_bulk(notary: &Notary, body: String) -> (u16, Value) {
    match ureq::post(&format!("{}/v1/attestations/batch", notary.url)).send_string(&body) {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

/// Sends `count` statements from departments nobody registered, each with a
/// valid signature by a self-made key, 256 to a request.
fn refusal_flood(notary: &Notary, key: &DepartmentKey, from: usize, count: usize) {
    let mut sent = from;
    while sent < from + count {
        let n = 256.min(from + count - sent);
        let items: Vec<String> = (sent..sent + n)
            .map(|i| {
                let body = json!({"case": format!("C-{i}")});
                let bytes = key.statement(ORIGIN, Kind::Approval, body, now_ms());
                // Each statement names another unknown department.
                let bytes = String::from_utf8(bytes)
                    .unwrap()
                    .replace("\"gd.flood\"", &format!("\"gd.flood.{i}\""));
                SignedAttestation::sign(bytes.into_bytes(), &key.key).to_json()
            })
            .collect();
        let (status, answer) = post_bulk(notary, format!("[{}]", items.join(",")));
        assert_eq!(status, 200, "{answer}");
        for r in answer["results"].as_array().unwrap() {
            assert_eq!(r["error"], "unknown_department", "{r}");
        }
        sent += n;
    }
}

/// Refusals sent after the warm-up; `FLOOD_REFUSALS=2100000` reproduces the
/// review's flood (scripts/flood does).
fn flood_size() -> usize {
    std::env::var("FLOOD_REFUSALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150_000)
}

#[test]
fn a_flood_of_refusals_leaves_memory_flat() {
    let setup = Setup::new();
    let notary = setup.start();
    let key = department("gd.flood");
    // Warm up allocator pools and RocksDB's caches with the same traffic.
    let warm_up = 20_000;
    refusal_flood(&notary, &key, 0, warm_up);
    let before = notary.rss_bytes();
    eprintln!("RSS {} MiB after {warm_up} refusals", before >> 20);
    let (total, step) = (flood_size(), 100_000);
    let mut sent = 0;
    let mut most = before;
    while sent < total {
        let n = step.min(total - sent);
        refusal_flood(&notary, &key, warm_up + sent, n);
        sent += n;
        let rss = notary.rss_bytes();
        most = most.max(rss);
        eprintln!("RSS {} MiB after {} refusals", rss >> 20, warm_up + sent);
    }
    // Caching every miss cost ~300 bytes per refusal: 45 MB for 150,000.
    let grown = most.saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "{total} refusals grew the notary by {} MiB",
        grown >> 20
    );
    assert_eq!(notary.tree_size(), 0, "nothing was appended");
}

/// Opens a connection that pipelines `requests` copies of `request` and
/// never reads an answer.
fn pipelining_non_reader(addr: &str, request: &str, requests: usize) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    let all = request.repeat(requests);
    // Write from a thread: once the notary stops reading, the write blocks.
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = writer.write_all(all.as_bytes());
    });
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

const METRICS: &str = "GET /metrics HTTP/1.1\r\nHost: notary\r\n\r\n";

#[test]
fn clients_that_pipeline_and_never_read_lose_their_connections() {
    let setup = Setup::new();
    let notary = Notary::start(
        &setup.data(),
        &["--max-connections", "4", "--write-timeout-ms", "1000"],
    );
    let addr = notary.addr();
    let started = Instant::now();
    let mut hogs: Vec<TcpStream> = (0..4)
        .map(|_| pipelining_non_reader(&addr, METRICS, 20_000))
        .collect();
    // A normal client is served again once the hogs' writes time out.
    let served = wait_until_served(
        &notary,
        started,
        Duration::from_secs(30),
        "non-reading clients",
    );
    eprintln!("a normal client was served {served:?} after four non-readers connected");
    for hog in &mut hogs {
        assert!(
            read_until_closed(hog, Duration::from_secs(20)).is_some(),
            "a non-reading client kept its connection"
        );
    }
}

#[test]
fn clients_that_read_a_trickle_lose_their_connections() {
    let setup = Setup::new();
    let notary = Notary::start(
        &setup.data(),
        &["--max-connections", "4", "--write-timeout-ms", "1000"],
    );
    let addr = notary.addr();
    let started = Instant::now();
    // Four clients that ask for 5 KB of metrics every 100 ms and read 1 KB
    // of the answers in that time: nothing ever blocks the notary's writes,
    // but the unread answers pile up (the review's slow readers).
    let trickles: Vec<_> = (0..4)
        .map(|_| {
            let mut hog = TcpStream::connect(&addr).unwrap();
            hog.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    if hog.write_all(METRICS.as_bytes()).is_err() {
                        return true; // closed by the notary
                    }
                    match hog.read(&mut buf) {
                        Ok(0) | Err(_) => return true,
                        Ok(_) => {}
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                false
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let served = wait_until_served(&notary, started, Duration::from_secs(45), "trickle readers");
    eprintln!("a normal client was served {served:?} after four trickle readers connected");
    for t in trickles {
        assert!(
            t.join().unwrap(),
            "a trickle reader kept its connection for a minute"
        );
    }
}

#[test]
fn no_connection_outlives_its_maximum_age() {
    let setup = Setup::new();
    let notary = Notary::start(&setup.data(), &["--max-connection-age-s", "2"]);
    // A client that asks for a checkpoint every 300 ms and reads nothing:
    // its answers never back up enough to start the read clock.
    let mut s = TcpStream::connect(notary.addr()).unwrap();
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        while writer
            .write_all(b"GET /checkpoint HTTP/1.1\r\nHost: notary\r\n\r\n")
            .is_ok()
        {
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let started = Instant::now();
    assert!(
        read_until_closed(&mut s, Duration::from_secs(10)).is_some(),
        "still open"
    );
    let age = started.elapsed();
    assert!(
        age >= Duration::from_millis(1500) && age < Duration::from_secs(8),
        "{age:?}"
    );
}

/// An application already in the log whose receipt is ~85 KB: it cites a
/// catalog entry of 60 KB as evidence. Resubmitting it costs little and is
/// answered with much.
fn application_with_large_evidence(setup: &Setup, notary: &Notary) -> SignedAttestation {
    let (provider, requester) = provider_and_requester(setup, notary);
    let mut item = catalog_entry("rst/large");
    item["name"] = "企".repeat(20_000).into();
    assert_eq!(
        notary.submit(&sign(&provider, Kind::CatalogEntry, item)).0,
        201
    );
    let app = sign(
        &requester,
        Kind::Application,
        application("BIG-1", "rst/large", "gd.rst"),
    );
    assert_eq!(notary.submit(&app).0, 201);
    app
}

#[test]
fn bulk_answers_are_produced_as_they_are_read() {
    let setup = Setup::new();
    let notary = setup.start();
    let app = application_with_large_evidence(&setup, &notary);
    // 256 resubmissions: a 400 KB request answered with ~22 MB of receipts.
    let body = format!("[{}]", vec![app.to_json(); 256].join(","));
    let request = format!(
        "POST /v1/attestations/batch HTTP/1.1\r\nHost: notary\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let before = notary.rss_bytes();
    // Sixteen clients that never read: ~350 MB of answers, if they were built.
    let _readers_that_never_read: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(notary.addr()).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let grown = notary.rss_bytes().saturating_sub(before);
    eprintln!(
        "sixteen unread bulk answers grew the notary by {} MiB",
        grown >> 20
    );
    // Built whole, the answers grew it by 404 MiB; produced item by item as
    // the client reads, each holds what the socket and hyper buffer.
    assert!(grown < 96 << 20, "grew by {} MiB", grown >> 20);

    // Meanwhile a client that reads gets the whole answer, promptly.
    let started = Instant::now();
    let (status, answer) = post_bulk(&notary, body);
    assert_eq!(status, 200);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 256);
    assert!(results.iter().all(|r| r["status"] == 200));
    eprintln!(
        "a reading client got its 22 MB answer in {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn slow_readers_of_bulk_answers_hold_no_upload_budget() {
    let setup = Setup::new();
    let notary = Notary::start(&setup.data(), &["--upload-budget-mib", "8"]);
    let app = application_with_large_evidence(&setup, &notary);
    // Three ~4 MB bulks of resubmissions (white space between the items),
    // one after the other, whose ~22 MB answers nobody reads: together their
    // bodies are more than the 8 MiB budget, so each must give its charge
    // back once its items are queued, not keep it while its answer waits.
    let items = vec![format!("{}{}", app.to_json(), " ".repeat(14_000)); 256];
    let body = format!("[{}]", items.join(","));
    assert!(body.len() > 3 << 20 && body.len() < 4 << 20);
    let request = format!(
        "POST /v1/attestations/batch HTTP/1.1\r\nHost: notary\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _unread: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(notary.addr()).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            // Both were taken: their answers have begun.
            let mut status = [0u8; 12];
            s.read_exact(&mut status).unwrap();
            assert_eq!(&status, b"HTTP/1.1 200");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let registration = registration(&setup.root, &department("gd.other"), &["provider"]);
    let (status, body) = notary.submit(&registration[0]);
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_client_that_shuts_down_its_side_still_gets_its_receipt() {
    let setup = Setup::new();
    let notary = setup.start();
    let registration = registration(&setup.root, &department("gd.rst"), &["provider"]);
    let body = registration[0].to_json();
    let mut s = TcpStream::connect(notary.addr()).unwrap();
    write!(
        s,
        "POST /v1/attestations HTTP/1.1\r\nHost: notary\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(notary.tree_size(), 1);
}

#[test]
fn a_non_reading_client_cannot_delay_shutdown() {
    let setup = Setup::new();
    let mut notary = Notary::start(
        &setup.data(),
        // A write timeout far beyond the test: only the shutdown timeout can end it.
        &[
            "--write-timeout-ms",
            "600000",
            "--shutdown-timeout-ms",
            "1000",
        ],
    );
    let _hog = pipelining_non_reader(&notary.addr(), METRICS, 20_000);
    std::thread::sleep(Duration::from_secs(2));
    let pid = notary.child.id().to_string();
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exit = loop {
        if let Some(status) = notary.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "SIGTERM not done after {:?}",
            sent.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("exited {:?} after SIGTERM", sent.elapsed());
    assert!(exit.success(), "{exit}");
}

/// Opens a POST announcing a body of `len` bytes and sends only its headers.
fn announce_body(addr: &str, path: &str, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: notary\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n["
    )
    .unwrap();
    s
}

fn read_answer(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn uploads_are_charged_for_what_arrives() {
    let setup = Setup::new();
    let notary = Notary::start(&setup.data(), &["--upload-budget-mib", "6"]);
    let addr = notary.addr();
    let bulk = 4 << 20;
    // Sixteen uploads that announce 4 MiB and send one byte cost a byte
    // each: the budget is not spent on promises.
    let _stalled: Vec<TcpStream> = (0..16)
        .map(|_| announce_body(&addr, "/v1/attestations/batch", bulk))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let registration = registration(&setup.root, &department("gd.rst"), &["provider"]);
    assert_eq!(notary.submit(&registration[0]).0, 201);

    // An upload that has really sent 3 MiB holds its buffer: 3 to 4 MiB of
    // the 6 ...
    let mut big = announce_body(&addr, "/v1/attestations/batch", bulk);
    big.write_all(&vec![b' '; 3 << 20]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // ... so a small submission still fits, and another full 4 MiB upload
    // does not.
    assert_eq!(notary.submit(&registration[1]).0, 201);
    let mut third = announce_body(&addr, "/v1/attestations/batch", bulk);
    let _ = third.write_all(&vec![b' '; (4 << 20) - 1]);
    let answer = read_answer(&mut third);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""error":"overloaded""#), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    // Reads are not uploads.
    assert_eq!(notary.get("/checkpoint").0, 200);
}

#[test]
fn bulk_bodies_are_counted_as_they_are_read() {
    let setup = Setup::new();
    let notary = setup.start();
    let before = notary.rss_bytes();
    // Four 4 MiB bodies of two million tiny items each, at once: refused at
    // the 257th item, without a tree of the body.
    let body = format!("[{}1]", "1,".repeat((4 << 20) / 2 - 2));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (url, body) = (notary.url.clone(), body.clone());
            std::thread::spawn(move || {
                match ureq::post(&format!("{url}/v1/attestations/batch")).send_string(&body) {
                    Err(ureq::Error::Status(code, r)) => (code, r.into_json::<Value>().unwrap()),
                    other => panic!("{:?}", other.map(|r| r.status())),
                }
            })
        })
        .collect();
    for t in threads {
        let (status, answer) = t.join().unwrap();
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_batch")),
            "{answer}"
        );
    }
    let grown = notary.rss_bytes().saturating_sub(before);
    eprintln!(
        "four 4 MiB bulk bodies grew the notary by {} MiB",
        grown >> 20
    );
    assert!(grown < 64 << 20, "grew by {} MiB", grown >> 20);
}

#[test]
fn json_shapes_the_spec_refuses_are_refused() {
    let setup = Setup::new();
    let notary = setup.start();
    let post = |body: &str| match ureq::post(&format!("{}/v1/attestations", notary.url))
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_json::<Value>().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_json::<Value>().unwrap()),
        Err(e) => panic!("{e}"),
    };
    let root = &setup.root;
    let key = root.public_key_base64();
    let statement = |s: String| SignedAttestation::sign(s.into_bytes(), &root.key);
    let signer = format!(r#"{{"department":"gd.root","key":"{key}"}}"#);
    let at = now_ms();
    let cases = [
        // The statement as an array of its members' values.
        format!(
            r#"[1,"department","{ORIGIN}",["gd.root","{key}"],{at},{{"id":"gd.rst","name":"厅","roles":["provider"],"jurisdiction":"广东省"}}]"#
        ),
        // The signer as an array.
        format!(
            r#"{{"version":1,"kind":"department","log":"{ORIGIN}","signer":["gd.root","{key}"],"signed_at":{at},"body":{{"id":"gd.rst","name":"厅","roles":["provider"],"jurisdiction":"广东省"}}}}"#
        ),
        // An enum written as an object.
        format!(
            r#"{{"version":1,"kind":"department","log":"{ORIGIN}","signer":{signer},"signed_at":{at},"body":{{"id":"gd.rst","name":"厅","roles":[{{"provider":null}}],"jurisdiction":"广东省"}}}}"#
        ),
        // null for an optional member.
        format!(
            r#"{{"version":1,"kind":"department_key","log":"{ORIGIN}","signer":{signer},"signed_at":{at},"body":{{"department":"gd.rst","key":"{key}","valid_from":null}}}}"#
        ),
    ];
    for case in cases {
        let (status, body) = notary.submit(&statement(case.clone()));
        assert_eq!(status, 400, "{case}: {body}");
        assert!(
            ["schema_violation", "invalid_body"].contains(&body["error"].as_str().unwrap()),
            "{body}"
        );
    }
    // The submission itself as an array.
    let (status, body) = post(r#"["e30=","AAAA"]"#);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("schema_violation"))
    );
    assert_eq!(notary.tree_size(), 0);
}

#[test]
fn odd_paths_and_methods_get_json_errors() {
    let setup = Setup::new();
    let notary = setup.start();
    for (path, code) in [
        ("/tile/32/000", "no_such_tile"),
        ("/tile/63/x999/999", "no_such_tile"),
        ("/tile/8/000.p/1", "no_such_tile"),
        ("/tile/0%2F000.p%2F6", "bad_tile_path"),
        ("/tile/0/00%30.p/6", "bad_tile_path"),
        ("/tile/%FF/000", "bad_tile_path"),
    ] {
        let (status, body) = notary.get(path);
        let body: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{path}: {}", String::from_utf8_lossy(&body)));
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some(code)),
            "{path}"
        );
    }
    // The notary is still up, and answers a method it does not take with JSON.
    let mut s = TcpStream::connect(notary.addr()).unwrap();
    write!(
        s,
        "DELETE /checkpoint HTTP/1.1\r\nHost: notary\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(
        answer.contains(r#""error":"method_not_allowed""#),
        "{answer}"
    );
    // A path that percent-decodes to invalid UTF-8.
    // Paths that are not one entry's one URL, read by a registered reader.
    let reader = auditor(&setup, &notary);
    for path in [
        "/v1/entries/%FF",
        "/v1/entries/+0",
        "/v1/entries/00",
        "/v1/receipts/-1",
    ] {
        let (status, body) = notary.read_as(&reader, path);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_index")),
            "{path}"
        );
    }
}

#[test]
fn dept_submit_keeps_only_a_receipt_that_verifies() {
    let setup = Setup::new();
    let notary = setup.start();
    let dir = setup.dir.path();
    let dept = binary("dept");
    let root = dir.join("root.key");
    let body = r#"{"id":"gd.rst","name":"厅","roles":["provider"],"jurisdiction":"广东省"}"#;
    let attestation = dir.join("a.json");
    let policy = setup.data().join("policy.txt");
    assert!(Command::new(&dept)
        .args(["sign", "--kind", "department", "--body", body, "--key"])
        .arg(&root)
        .args(["--log", ORIGIN, "--out"])
        .arg(&attestation)
        .status()
        .unwrap()
        .success());

    // Given the policy of another log, the answer does not verify: nothing is kept.
    let (other_root, _) = DepartmentKey::generate("gd.root").unwrap();
    let other = Setup::with(
        &std::env::temp_dir(),
        "other.gov.cn/share-audit/2026",
        other_root,
    );
    let kept = dir.join("receipt.json");
    let out = Command::new(&dept)
        .args(["submit", "--notary", &notary.url, "--policy"])
        .arg(other.data().join("policy.txt"))
        .arg("--out")
        .arg(&kept)
        .arg(&attestation)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("nothing saved"), "{stderr}");
    assert!(!kept.exists());

    // With its own log's policy, the receipt is checked and kept.
    let out = Command::new(&dept)
        .args(["submit", "--notary", &notary.url, "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&kept)
        .arg(&attestation)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(kept.exists());

    // A receipt for another statement is not this one's, policy or not.
    let receipt: Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    let mine = SignedAttestation::from_json(&std::fs::read(&attestation).unwrap()).unwrap();
    assert!(department::check_receipt(&receipt, &mine, None).is_ok());
    let mut other = mine.clone();
    other.statement = String::from_utf8(other.statement)
        .unwrap()
        .replace("厅", "局")
        .into_bytes();
    assert!(department::check_receipt(&receipt, &other, None).is_err());
}

#[test]
fn private_keys_readable_by_others_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new();
    let key = setup.data().join("notary.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(binary("notary"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(setup.data())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(
        !stderr.contains("PRIVATE+KEY"),
        "the key itself is never printed: {stderr}"
    );

    let root = setup.dir.path().join("root.key");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = Command::new(binary("dept"))
        .args([
            "sign",
            "--kind",
            "approval",
            "--body",
            r#"{"case":"C-1"}"#,
            "--log",
            ORIGIN,
            "--key",
        ])
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
}
