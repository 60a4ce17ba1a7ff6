//! Who may read what (specs/reads.md), through the real notary: each role,
//! each refusal, replays, stale and future signatures, and revoked keys.

use std::time::Duration;

use department::DepartmentKey;
use e2e::*;
use ledger::attestation::Kind;
use ledger::read_signature::{self, Target};
use serde_json::{json, Value};

/// A read sent with headers made here, to try what a client should not do.
fn raw_read(
    notary: &Notary,
    key: &DepartmentKey,
    authority: Option<&str>,
    path: &str,
    created: u64,
    lifetime: u64,
    nonce: &str,
) -> (u16, Value, Option<String>) {
    let own = notary.addr();
    let target = Target {
        method: "GET",
        authority: authority.unwrap_or(&own),
        path,
        query: None,
    };
    let (input, signature) = read_signature::sign(&key.key, &target, created, lifetime, nonce);
    send(notary, path, Some((&input, &signature)))
}

fn send(
    notary: &Notary,
    path: &str,
    headers: Option<(&str, &str)>,
) -> (u16, Value, Option<String>) {
    let mut req = ureq::get(&format!("{}{path}", notary.url));
    if let Some((input, signature)) = headers {
        req = req
            .set("Signature-Input", input)
            .set("Signature", signature);
    }
    let resp = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let challenge = resp.header("www-authenticate").map(str::to_owned);
    let body = resp.into_string().unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
        challenge,
    )
}

/// A GET of `path` signed by `key` for `authority`, now, ready to send.
fn signed_get(notary: &Notary, key: &DepartmentKey, authority: &str, path: &str) -> ureq::Request {
    let target = Target {
        method: "GET",
        authority,
        path,
        query: None,
    };
    let (input, signature) =
        read_signature::sign(&key.key, &target, now_s(), 60, &read_signature::new_nonce());
    ureq::get(&format!("{}{path}", notary.url))
        .set("Signature-Input", &input)
        .set("Signature", &signature)
}

fn now_s() -> u64 {
    now_ms() / 1000
}

struct Parties {
    provider: DepartmentKey,
    requester: DepartmentKey,
    other: DepartmentKey,
    third: DepartmentKey,
    supervisor: DepartmentKey,
    far_supervisor: DepartmentKey,
    auditor: DepartmentKey,
}

/// Indexes of the case's entries.
struct Case {
    application: u64,
    approval: u64,
    consent: u64,
    usage: u64,
}

fn submit(notary: &Notary, a: &ledger::attestation::SignedAttestation) -> u64 {
    let (status, body) = notary.submit(a);
    assert_eq!(status, 201, "{body}");
    body["index"].as_u64().unwrap()
}

fn setup_case(setup: &Setup, notary: &Notary) -> (Parties, Case) {
    let p = Parties {
        provider: department("gd.rst"),
        requester: department("gd.scjgj"),
        other: department("gd.gaj"),
        third: department("gd.swj"),
        supervisor: department("gd.zsj"),
        far_supervisor: department("zj.dsj"),
        auditor: department("gd.audit"),
    };
    for (d, roles, jurisdiction) in [
        (&p.provider, &["provider"][..], "广东省"),
        (&p.requester, &["requester"], "广东省"),
        (&p.other, &["requester"], "广东省"),
        (&p.third, &["requester"], "广东省"),
        (&p.supervisor, &["supervisor"], "广东省"),
        (&p.far_supervisor, &["supervisor"], "浙江省"),
        (&p.auditor, &["auditor"], "广东省"),
    ] {
        for a in registration_in(&setup.root, d, roles, jurisdiction) {
            submit(notary, &a);
        }
    }
    submit(
        notary,
        &sign(&p.provider, Kind::CatalogEntry, catalog_entry("rst/shebao")),
    );
    let application = submit(notary, &new_case(&p.requester, "C-1"));
    let approval = submit(
        notary,
        &sign(&p.provider, Kind::Approval, json!({"case": "C-1"})),
    );
    let consent = submit(
        notary,
        &sign(
            &p.provider,
            Kind::Consent,
            json!({"case": "C-1", "scope": "third_party", "third_party": "gd.swj", "description": "转交税务局用于核定"}),
        ),
    );
    let usage = submit(
        notary,
        &sign(
            &p.requester,
            Kind::UsageRecord,
            json!({"case": "C-1", "use_scenario": "信用评价", "use_process": "比对缴费记录", "outcome": "评价完成",
                   "storage_status": "加密存储", "destruction_status": "未销毁"}),
        ),
    );
    (
        p,
        Case {
            application,
            approval,
            consent,
            usage,
        },
    )
}

fn status_of(notary: &Notary, reader: &DepartmentKey, path: &str) -> u16 {
    notary.read_as(reader, path).0
}

#[test]
fn each_role_reads_what_the_regulation_lets_it() {
    let setup = Setup::new();
    let notary = setup.start();
    let (p, case) = setup_case(&setup, &notary);
    let entry = |i: u64| format!("/v1/entries/{i}");
    let receipt = |i: u64| format!("/v1/receipts/{i}");
    let case_entries = [case.application, case.approval, case.consent, case.usage];

    // The case's provider and requester, the supervisor of their
    // jurisdiction and the auditor read every entry and receipt of the case.
    for reader in [&p.provider, &p.requester, &p.supervisor, &p.auditor] {
        for i in case_entries {
            assert_eq!(
                status_of(&notary, reader, &entry(i)),
                200,
                "{} {i}",
                reader.department
            );
            assert_eq!(
                status_of(&notary, reader, &receipt(i)),
                200,
                "{} {i}",
                reader.department
            );
        }
    }
    // The consented third party, from the consent on only: its entries,
    // not their receipts (whose evidence is the case's application), and
    // the case without its findings (judged on the whole case).
    for i in [case.application, case.approval] {
        assert_eq!(status_of(&notary, &p.third, &entry(i)), 403);
    }
    for i in [case.consent, case.usage] {
        assert_eq!(status_of(&notary, &p.third, &entry(i)), 200);
        assert_eq!(status_of(&notary, &p.third, &receipt(i)), 403);
    }
    let seen: Value =
        serde_json::from_str(&notary.read_text_as(&p.third, "/v1/cases/C-1")).unwrap();
    let indices: Vec<u64> = seen["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![case.consent, case.usage]);
    assert_eq!(seen["findings"], Value::Null);
    let (status, body) = notary.read_as(&p.third, "/v1/findings?department=gd.rst");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["findings"],
        json!([])
    );
    // Signed reads are for their reader: no shared cache keeps them.
    let r = ureq::get(&format!("{}/tile/0/000.p/1", notary.url))
        .call()
        .unwrap();
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // Another department, and a supervisor of another jurisdiction: none.
    for reader in [&p.other, &p.far_supervisor] {
        for i in case_entries {
            let (status, body) = notary.read_as(reader, &receipt(i));
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (status, body["error"].as_str()),
                (403, Some("not_permitted_to_read")),
                "{} {i}",
                reader.department
            );
        }
    }
    // The registry and the catalog: every registered department.
    for reader in [&p.other, &p.far_supervisor, &p.third] {
        for i in [0, 1, case.application - 1] {
            assert_eq!(status_of(&notary, reader, &entry(i)), 200);
        }
    }
    // Beyond the tree: 404 for anyone authenticated (the size is public).
    assert_eq!(status_of(&notary, &p.other, &entry(case.usage + 1)), 404);

    let path = receipt(case.application);
    let r = signed_get(&notary, &p.requester, &notary.addr(), &path)
        .call()
        .unwrap();
    assert_eq!(r.header("cache-control"), Some("private, no-store"));

    // Entry bundles mix cases: auditors only.
    let bundle = format!("/tile/entries/000.p/{}", case.usage + 1);
    assert_eq!(status_of(&notary, &p.auditor, &bundle), 200);
    assert_eq!(status_of(&notary, &p.provider, &bundle), 403);
    assert_eq!(send(&notary, &bundle, None).0, 401);
    // Hash tiles, checkpoints and proofs stay public.
    assert_eq!(
        notary.get(&format!("/tile/0/000.p/{}", case.usage + 1)).0,
        200
    );
    assert_eq!(
        notary
            .get(&format!("/v1/proof/inclusion?index={}", case.usage))
            .0,
        200
    );

    // An auditor signs nothing.
    let (status, body) = notary.submit(&sign(
        &p.auditor,
        Kind::CatalogEntry,
        catalog_entry("audit/x"),
    ));
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("auditor_signs_nothing")),
        "{body}"
    );
}

#[test]
fn unauthenticated_and_bad_reads_are_refused_and_say_why() {
    let setup = Setup::new();
    let notary = setup.start();
    let (p, case) = setup_case(&setup, &notary);
    let path = format!("/v1/entries/{}", case.application);
    // Let the notary's start lie a whole second behind `created` below.
    std::thread::sleep(Duration::from_millis(1100));
    let now = now_s();

    let code = |(status, body, challenge): (u16, Value, Option<String>)| {
        assert_eq!(status, 401, "{body}");
        assert_eq!(challenge.as_deref(), Some("Signature"));
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        body["error"].as_str().unwrap().to_owned()
    };
    // No signature at all, whether the entry exists or not.
    assert_eq!(code(send(&notary, &path, None)), "unauthenticated");
    assert_eq!(
        code(send(&notary, "/v1/receipts/99999", None)),
        "unauthenticated"
    );
    // Malformed headers.
    assert_eq!(
        code(send(
            &notary,
            &path,
            Some(("read=(\"@method\");alg=\"ed25519\"", "read=:AAAA:"))
        )),
        "unauthenticated"
    );
    // A signature over another path, or for another notary's authority.
    let nonce = || read_signature::new_nonce();
    let other_path = format!("/v1/entries/{}", case.approval);
    let target = Target {
        method: "GET",
        authority: &notary.addr(),
        path: &other_path,
        query: None,
    };
    let (input, signature) = read_signature::sign(&p.requester.key, &target, now, 60, &nonce());
    assert_eq!(
        code(send(&notary, &path, Some((&input, &signature)))),
        "bad_read_signature"
    );
    assert_eq!(
        code(raw_read(
            &notary,
            &p.requester,
            Some("notary.other.gov.cn"),
            &path,
            now,
            60,
            &nonce()
        )),
        "bad_read_signature"
    );
    // Expired, created in the future, too long-lived, made before the notary started.
    for (created, lifetime) in [
        (now - 400, 300),
        (now + 60, 60),
        (now, 301),
        (now - 3600, 3700),
    ] {
        assert_eq!(
            code(raw_read(
                &notary,
                &p.requester,
                None,
                &path,
                created,
                lifetime,
                &nonce()
            )),
            "stale_request",
            "created {created} lifetime {lifetime}"
        );
    }
    // A key nobody registered.
    let stranger = department("gd.scjgj");
    assert_eq!(
        code(raw_read(&notary, &stranger, None, &path, now, 60, &nonce())),
        "unknown_reader_key"
    );
    // A replay: the first read is answered, the same headers again are not.
    let fixed = nonce();
    let first = raw_read(&notary, &p.requester, None, &path, now, 60, &fixed);
    assert_eq!(first.0, 200);
    assert_eq!(
        code(raw_read(
            &notary,
            &p.requester,
            None,
            &path,
            now,
            60,
            &fixed
        )),
        "replayed_request"
    );
    // The same nonce with another key is another nonce.
    assert_eq!(
        raw_read(&notary, &p.provider, None, &path, now, 60, &fixed).0,
        200
    );

    // A revoked key reads nothing from its revocation on.
    assert_eq!(status_of(&notary, &p.requester, &path), 200);
    let revoke = sign(
        &setup.root,
        Kind::KeyRevocation,
        json!({"department": "gd.scjgj", "key": p.requester.public_key_base64(), "reason": "密钥泄露"}),
    );
    submit(&notary, &revoke);
    assert_eq!(
        code(raw_read(
            &notary,
            &p.requester,
            None,
            &path,
            now_s(),
            60,
            &nonce()
        )),
        "unknown_reader_key"
    );
}

#[test]
fn dept_read_prints_what_the_department_may_read() {
    let setup = Setup::new();
    let notary = setup.start();
    let (p, case) = setup_case(&setup, &notary);
    let dir = setup.dir.path();
    for (d, name) in [(&p.requester, "requester"), (&p.other, "other")] {
        department::keyfile::write_key_pair(&dir.join(name), &note_signer(d)).unwrap();
    }
    let dept = |key: &str, path: &str| {
        std::process::Command::new(binary("dept"))
            .args(["read", "--notary", &notary.url, "--key"])
            .arg(dir.join(format!("{key}.key")))
            .arg(path)
            .output()
            .unwrap()
    };
    let out = dept("requester", &format!("/v1/receipts/{}", case.application));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["index"], case.application);
    let out = dept("other", &format!("/v1/receipts/{}", case.application));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_permitted_to_read"));
    let out = dept("other", "v1/receipts/1");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a relative path is a usage error"
    );
}

#[test]
fn a_dispute_is_read_by_its_parties_only_and_the_host_header_is_not_trusted() {
    let setup = Setup::new();
    let notary = setup.start();
    let (p, _) = setup_case(&setup, &notary);
    let filed = submit(
        &notary,
        &sign(
            &p.requester,
            Kind::Dispute,
            json!({"dispute": "D-1", "with": "gd.rst", "supervisor": "gd.zsj", "subject": "拒绝理由不成立"}),
        ),
    );
    let path = format!("/v1/entries/{filed}");
    for reader in [&p.requester, &p.provider, &p.supervisor, &p.auditor] {
        assert_eq!(
            status_of(&notary, reader, &path),
            200,
            "{}",
            reader.department
        );
    }
    for reader in [&p.other, &p.third, &p.far_supervisor] {
        assert_eq!(
            status_of(&notary, reader, &path),
            403,
            "{}",
            reader.department
        );
    }
    // A signature for another authority does not verify, whatever Host the
    // request carries: the notary compares with its own.
    let r = signed_get(&notary, &p.requester, "notary.other.gov.cn", &path)
        .set("Host", "notary.other.gov.cn")
        .call();
    match r {
        Err(ureq::Error::Status(401, r)) => {
            assert!(r.into_string().unwrap().contains("bad_read_signature"))
        }
        other => panic!("{other:?}"),
    }
}

/// Receipts of the kinds with clocks of their own (Art. 17, 24, 28) verify
/// offline: their evidence carries every registration the rules read.
#[test]
fn receipts_of_changes_disputes_and_return_flows_verify_offline() {
    let setup = Setup::new();
    let notary = setup.start();
    let (p, _) = setup_case(&setup, &notary);
    let dir = setup.dir.path().join("receipts");
    std::fs::create_dir_all(&dir).unwrap();
    let digest = format!("sha256:{}", "ab".repeat(32));
    let mut answer = catalog_entry("rst/shebao");
    answer["change"] = json!("CH-1");
    let steps = [
        (
            &p.supervisor,
            Kind::CatalogChangeNotice,
            json!({"change": "CH-1", "provider": "gd.rst", "items": ["rst/shebao"], "basis": "法律修订"}),
        ),
        (
            &p.supervisor,
            Kind::CatalogUpdateExtension,
            json!({"change": "CH-1", "working_days": 3, "reason": "r"}),
        ),
        (&p.provider, Kind::CatalogEntry, answer),
        (
            &p.supervisor,
            Kind::CatalogPublication,
            json!({"change": "CH-1", "items": ["rst/shebao"]}),
        ),
        (
            &p.requester,
            Kind::Dispute,
            json!({"dispute": "D-1", "with": "gd.rst", "supervisor": "gd.zsj", "subject": "s"}),
        ),
        (
            &p.supervisor,
            Kind::DisputeEscalation,
            json!({"dispute": "D-1", "to": "zj.dsj", "reason": "r"}),
        ),
        (
            &p.far_supervisor,
            Kind::DisputeResolution,
            json!({"dispute": "D-1", "outcome": "o"}),
        ),
        (
            &p.requester,
            Kind::ReturnFlowRequest,
            json!({"request": "RF-1", "to": "gd.rst", "data_items": ["a"], "region": "广州市"}),
        ),
        (
            &p.provider,
            Kind::ReturnFlow,
            json!({"request": "RF-1", "data_digest": digest}),
        ),
    ];
    for (i, (who, kind, body)) in steps.into_iter().enumerate() {
        let (status, receipt) = notary.submit(&sign(who, kind, body));
        assert_eq!(status, 201, "{kind:?}: {receipt}");
        std::fs::write(dir.join(format!("{i:02}.json")), receipt.to_string()).unwrap();
    }
    let out = std::process::Command::new(binary("verifier"))
        .args(["receipt", "--policy"])
        .arg(setup.data().join("policy.txt"))
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
