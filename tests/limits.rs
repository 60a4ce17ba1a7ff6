//! What keeps the notary up under pressure: a bounded queue answered with
//! 503 and Retry-After (nothing lost), slow clients cut off, a connection
//! cap; and what lets operators see it: /metrics and request ids.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::*;
use ledger::checkpoint::Checkpoint;
use ledger::receipt::Receipt;
use serde_json::Value;

#[test]
fn a_full_queue_answers_503_with_retry_after_and_loses_nothing() {
    let setup = Setup::new();
    let policy = setup.policy();
    let boot = setup.start();
    let (_, requester) = provider_and_requester(&setup, &boot);
    boot.kill();
    // A tiny queue in front of a single verification thread.
    let notary = Notary::start(
        &setup.data(),
        &["--queue", "2", "--verify-threads", "1", "--max-batch", "4"],
    );
    let accepted: Arc<Mutex<Vec<Receipt>>> = Arc::default();
    let overloaded = Arc::new(Mutex::new(0u32));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let (url, requester, accepted, overloaded) = (
                notary.url.clone(),
                requester.clone(),
                accepted.clone(),
                overloaded.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..30 {
                    let body = new_case(&requester, &format!("Q-{t}-{i}")).to_json();
                    match ureq::post(&format!("{url}/v1/attestations")).send_string(&body) {
                        Ok(r) => {
                            assert_eq!(r.status(), 201);
                            let receipt =
                                Receipt::from_json(r.into_string().unwrap().as_bytes()).unwrap();
                            accepted.lock().unwrap().push(receipt);
                        }
                        Err(ureq::Error::Status(503, r)) => {
                            assert_eq!(r.header("retry-after"), Some("1"));
                            let body: Value = r.into_json().unwrap();
                            assert_eq!(body["error"], "overloaded", "{body}");
                            *overloaded.lock().unwrap() += 1;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let accepted = accepted.lock().unwrap();
    assert!(*overloaded.lock().unwrap() > 0, "the queue never filled up");
    assert!(!accepted.is_empty());
    // Every acknowledged entry is in the log, and only those were appended.
    let newest = Checkpoint::verify(
        notary.checkpoint().as_bytes(),
        &policy.origin,
        &policy.log_keys,
    )
    .unwrap();
    assert_eq!(
        newest.size,
        5 + accepted.len() as u64,
        "setup wrote 5 entries"
    );
    for r in accepted.iter() {
        r.verify(&policy).unwrap();
    }
}

#[test]
fn slow_clients_are_cut_off() {
    let setup = Setup::new();
    let notary = Notary::start(
        &setup.data(),
        &["--header-timeout-ms", "500", "--request-timeout-ms", "800"],
    );

    // Headers trickled in and never finished: the connection is closed.
    let mut slow_headers = TcpStream::connect(notary.addr()).unwrap();
    slow_headers
        .write_all(b"POST /v1/attestations HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, took) = read_until_closed(&mut slow_headers, Duration::from_secs(5))
        .expect("the server kept the connection open");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");

    // A body that never arrives: 408 with a JSON error, then the connection ends.
    let mut slow_body = TcpStream::connect(notary.addr()).unwrap();
    slow_body
        .write_all(b"POST /v1/attestations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"statement\"")
        .unwrap();
    let (answer, took) = read_until_closed(&mut slow_body, Duration::from_secs(5))
        .expect("the server kept the connection open");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    assert_eq!(notary.tree_size(), 0, "nothing was appended");
}

#[test]
fn connections_beyond_the_cap_are_closed() {
    let setup = Setup::new();
    let notary = Notary::start(&setup.data(), &["--max-connections", "2"]);
    let _a = TcpStream::connect(notary.addr()).unwrap();
    let _b = TcpStream::connect(notary.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut c = TcpStream::connect(notary.addr()).unwrap();
    let _ = c.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, _) = read_until_closed(&mut c, Duration::from_secs(5))
        .expect("the server kept the connection open");
    assert!(answer.is_empty(), "a third connection was served: {answer}");
    drop(_a);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        notary.checkpoint().contains("test.gov.cn/share-audit/2026"),
        "a freed slot is usable again"
    );
}

#[test]
fn metrics_and_request_ids() {
    let setup = Setup::new();
    let notary = setup.start();
    let (provider, _) = provider_and_requester(&setup, &notary);
    let mut bad = sign(
        &provider,
        ledger::attestation::Kind::Approval,
        serde_json::json!({"case": "x"}),
    );
    bad.signature[5] ^= 1;
    let r = ureq::post(&format!("{}/v1/attestations", notary.url))
        .set("X-Request-Id", "dept-42")
        .send_string(&bad.to_json());
    let Err(ureq::Error::Status(400, r)) = r else {
        panic!("expected 400")
    };
    assert_eq!(r.header("x-request-id"), Some("dept-42"));
    let r = ureq::get(&format!("{}/checkpoint", notary.url))
        .call()
        .unwrap();
    assert!(r.header("x-request-id").is_some_and(|id| id.len() == 16));

    let text = notary.get_text("/metrics");
    for name in [
        "share_audit_queue_depth 0",
        "share_audit_tree_size 5",
        "share_audit_entries_appended_total 5",
        "share_audit_batch_size_count",
        "share_audit_verify_batch_size_count",
        "share_audit_sequencing_seconds_bucket{le=",
        "share_audit_fsync_seconds_sum",
        "share_audit_queue_wait_seconds_count",
        "share_audit_refusals_total{reason=\"bad_signature\"} 1",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}:\n{text}");
    }
}
