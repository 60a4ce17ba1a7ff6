//! A whole sharing case through the real notary over HTTP, every receipt
//! verified offline, and every kind of refusal appending nothing.

use base64::Engine as _;
use e2e::*;
use ledger::attestation::Kind;
use ledger::hashing::leaf_hash;
use ledger::receipt::Receipt;
use serde_json::{json, Value};

fn receipt_of(body: &Value) -> Receipt {
    Receipt::from_json(body.to_string().as_bytes()).expect("receipt parses")
}

fn assert_refused(
    notary: &Notary,
    a: &ledger::attestation::SignedAttestation,
    status: u16,
    code: &str,
) {
    let before = notary.checkpoint();
    let (got, body) = notary.submit(a);
    assert_eq!(
        (got, body["error"].as_str().unwrap_or("")),
        (status, code),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(notary.checkpoint(), before, "a refusal must not append");
}

#[test]
fn sharing_case_from_catalog_to_destruction() {
    let setup = Setup::new();
    let policy = setup.policy();
    let notary = setup.start();
    assert_eq!(notary.tree_size(), 0);

    let supervisor = department("gd.zsj");
    let provider = department("gd.rst");
    let requester = department("gd.scjgj");
    let mut receipts = Vec::new();
    let mut submit_ok = |a| {
        let (status, body) = notary.submit(&a);
        assert_eq!(status, 201, "{body}");
        let r = receipt_of(&body);
        verifier::verify_receipt(body.to_string().as_bytes(), &policy)
            .unwrap_or_else(|e| panic!("receipt {}: {e}", r.index));
        receipts.push(r);
    };
    for (d, roles) in [
        (&supervisor, &["supervisor"][..]),
        (&provider, &["provider"]),
        (&requester, &["requester"]),
    ] {
        for a in registration(&setup.root, d, roles) {
            submit_ok(a);
        }
    }
    let case = "GD-2026-0001";
    submit_ok(sign(
        &provider,
        Kind::CatalogEntry,
        catalog_entry("rst/shebao"),
    ));
    submit_ok(sign(
        &requester,
        Kind::Application,
        application(case, "rst/shebao", "gd.rst"),
    ));
    submit_ok(sign(
        &supervisor,
        Kind::ReplyExtension,
        json!({"case": case, "working_days": 5, "reason": "需核实使用范围"}),
    ));
    submit_ok(sign(
        &provider,
        Kind::Approval,
        json!({"case": case, "conditions": ["仅用于企业信用评价"]}),
    ));
    let digest = format!("sha256:{}", "ab".repeat(32));
    submit_ok(sign(
        &provider,
        Kind::Delivery,
        json!({"case": case, "method": "service_interface", "data_digest": digest}),
    ));
    submit_ok(sign(
        &requester,
        Kind::DeliveryReceipt,
        json!({"case": case, "data_digest": digest}),
    ));
    submit_ok(sign(
        &requester,
        Kind::CorrectionRequest,
        json!({"case": case, "request": "c1", "problems": ["2026-03 缴费金额缺失"]}),
    ));
    submit_ok(sign(
        &provider,
        Kind::CorrectionResult,
        json!({"case": case, "request": "c1", "outcome": "corrected", "description": "已补录"}),
    ));
    submit_ok(sign(
        &requester,
        Kind::UsageRecord,
        json!({"case": case, "use_scenario": "企业信用评价", "use_process": "批量比对", "outcome": "完成评价 120 家", "storage_status": "加密存储", "destruction_status": "未销毁"}),
    ));
    submit_ok(sign(
        &provider,
        Kind::Consent,
        json!({"case": case, "scope": "wider_use", "description": "同意用于年度报告"}),
    ));
    submit_ok(sign(
        &requester,
        Kind::Disposal,
        json!({"case": case, "method": "destroyed", "description": "使用目的已实现，按提供部门要求销毁"}),
    ));
    submit_ok(sign(
        &supervisor,
        Kind::Termination,
        json!({"case": case, "reason": "共享已完成"}),
    ));
    let n = receipts.len() as u64;
    assert_eq!(notary.tree_size(), n);

    // Indexes are dense and in order; evidence is earlier and cited.
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.index, i as u64);
    }
    let approval = &receipts[9];
    let cited: Vec<u64> = approval.evidence.iter().map(|e| e.index).collect();
    assert_eq!(
        cited,
        vec![2, 3, 7],
        "provider registration, provider key, the application"
    );

    // Raw entries hash to the receipts' leaves; full receipts verify too.
    // The requester reads them: the registry, the catalog and its case.
    for r in &receipts {
        let (status, bytes) = notary.read_as(&requester, &format!("/v1/entries/{}", r.index));
        assert_eq!(status, 200);
        assert_eq!(leaf_hash(&bytes), r.leaf_hash);
        let full = notary.read_text_as(&requester, &format!("/v1/receipts/{}", r.index));
        verifier::verify_receipt(full.as_bytes(), &policy).unwrap();
        let proof = notary.get_text(&format!("/v1/proof/inclusion?index={}", r.index));
        assert!(
            proof.starts_with("c2sp.org/tlog-proof@v1\nindex "),
            "{proof}"
        );
    }

    // Each receipt's checkpoint is consistent with the latest one.
    let latest = ledger::checkpoint::Checkpoint::verify(
        notary.checkpoint().as_bytes(),
        &policy.origin,
        &policy.log_keys,
    )
    .unwrap();
    for r in &receipts {
        let tp = ledger::tlog_proof::TlogProof::parse(&r.proof).unwrap();
        let cp = ledger::checkpoint::Checkpoint::verify(
            tp.checkpoint.as_bytes(),
            &policy.origin,
            &policy.log_keys,
        )
        .unwrap();
        notary.check_consistent(&cp, &latest).unwrap();
    }

    // A tampered receipt fails offline verification.
    let mut tampered: Value = serde_json::from_str(&receipts[9].to_json()).unwrap();
    let entry = base64::engine::general_purpose::STANDARD
        .decode(tampered["entry"].as_str().unwrap())
        .unwrap();
    let forged = String::from_utf8(entry)
        .unwrap()
        .replace("仅用于企业信用评价", "任意用途");
    tampered["entry"] = base64::engine::general_purpose::STANDARD
        .encode(forged.as_bytes())
        .into();
    tampered["leaf_hash"] = leaf_hash(forged.as_bytes()).to_base64().into();
    let err = verifier::verify_receipt(tampered.to_string().as_bytes(), &policy).unwrap_err();
    assert_eq!(err.code(), "proof_invalid", "{err}");
}

#[test]
fn refusals_are_specific_and_append_nothing() {
    let setup = Setup::new();
    let notary = setup.start();
    let provider = department("gd.rst");
    let requester = department("gd.scjgj");
    let stranger = department("gd.unknown");
    for (d, roles) in [(&provider, &["provider"][..]), (&requester, &["requester"])] {
        for a in registration(&setup.root, d, roles) {
            assert_eq!(notary.submit(&a).0, 201);
        }
    }
    assert_eq!(
        notary
            .submit(&sign(
                &provider,
                Kind::CatalogEntry,
                catalog_entry("rst/shebao")
            ))
            .0,
        201
    );
    let app = sign(
        &requester,
        Kind::Application,
        application("C-1", "rst/shebao", "gd.rst"),
    );
    let (status, first) = notary.submit(&app);
    assert_eq!(status, 201);

    // Resubmitting the same signed bytes returns the original receipt with 200.
    let (status, again) = notary.submit(&app);
    assert_eq!(status, 200);
    assert_eq!(
        (again["index"].clone(), again["entry"].clone()),
        (first["index"].clone(), first["entry"].clone())
    );

    // Unknown department and key.
    assert_refused(
        &notary,
        &sign(&stranger, Kind::Approval, json!({"case": "C-1"})),
        403,
        "unknown_department",
    );
    // A key of another department: the requester's key claiming to be the provider.
    let mut impostor = department("gd.rst");
    impostor.key = requester.key.clone();
    assert_refused(
        &notary,
        &sign(&impostor, Kind::Approval, json!({"case": "C-1"})),
        403,
        "key_of_other_department",
    );
    // Only the case's provider approves; only its requester records usage.
    assert_refused(
        &notary,
        &sign(&requester, Kind::Approval, json!({"case": "C-1"})),
        403,
        "not_case_party",
    );
    let usage = json!({"case": "C-1", "use_scenario": "s", "use_process": "p", "outcome": "o", "storage_status": "s", "destruction_status": "d"});
    assert_refused(
        &notary,
        &sign(&provider, Kind::UsageRecord, usage.clone()),
        403,
        "not_case_party",
    );
    assert_refused(
        &notary,
        &sign(&provider, Kind::Approval, json!({"case": "C-404"})),
        422,
        "unknown_case",
    );
    assert_refused(
        &notary,
        &sign(
            &provider,
            Kind::ReplyExtension,
            json!({"case": "C-1", "working_days": 3, "reason": "r"}),
        ),
        403,
        "missing_role",
    );
    // Registry entries need a root key; root keys sign nothing else.
    assert_refused(
        &notary,
        &sign(
            &provider,
            Kind::Department,
            json!({"id": "x", "name": "x", "roles": ["provider"], "jurisdiction": "j"}),
        ),
        403,
        "not_root",
    );
    let mut root_as_dept = department("gd.root");
    root_as_dept.key = setup.root.key.clone();
    assert_refused(
        &notary,
        &sign(&root_as_dept, Kind::Approval, json!({"case": "C-1"})),
        403,
        "root_signs_only_registry",
    );

    // A revoked key is refused from the revocation on.
    let revoke = sign(
        &setup.root,
        Kind::KeyRevocation,
        json!({"department": "gd.scjgj", "key": requester.public_key_base64(), "reason": "密钥泄露"}),
    );
    assert_eq!(notary.submit(&revoke).0, 201);
    assert_refused(
        &notary,
        &sign(&requester, Kind::UsageRecord, usage),
        403,
        "key_revoked",
    );

    // Malformed input: clear 4xx JSON errors.
    let mut bad_sig = sign(&provider, Kind::Approval, json!({"case": "C-1"}));
    bad_sig.signature[0] ^= 1;
    assert_refused(&notary, &bad_sig, 400, "bad_signature");
    let post = |body: &str| match ureq::post(&format!("{}/v1/attestations", notary.url))
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_json::<Value>().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_json::<Value>().unwrap()),
        Err(e) => panic!("{e}"),
    };
    let before = notary.checkpoint();
    assert_eq!(post("{").1["error"], "invalid_json");
    // A statement whose entry would exceed 65,535 bytes (C2SP tiles) is refused.
    let mut big = application("C-BIG", "rst/shebao", "gd.rst");
    big["scope_of_use"] = "范".repeat(22_000).into();
    let (status, body) = notary.submit(&sign_unchecked(&requester, Kind::Application, big));
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (413, "too_large"),
        "{body}"
    );
    assert_eq!(
        post(r#"{"statement":"e30=","signature":"AA==","x":1}"#).1["error"],
        "schema_violation"
    );
    // A body over the limit is refused from its Content-Length, before it is read.
    let answer = post_announcing(&notary, 200 * 1024);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""error":"too_large""#), "{answer}");
    assert_eq!(notary.checkpoint(), before);
    // Read API errors are JSON too.
    let (status, body) = notary.read_as(&provider, "/v1/entries/999");
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"],
        "no_such_entry"
    );
    let (status, body) = notary.get("/v1/proof/consistency?from=0&to=2");
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"],
        "consistency_from_empty_tree"
    );
    let (status, _) = notary.get("/v1/proof/inclusion?index=abc");
    assert_eq!(status, 400);
    assert_eq!(notary.get("/v1/proof/inclusion?index=1&hash=00").0, 400);
    assert_eq!(
        notary
            .get(&format!("/v1/proof/inclusion?hash={}", "ab".repeat(32)))
            .0,
        404
    );
}

#[test]
fn bulk_submission_answers_each_item_on_its_own() {
    let setup = Setup::new();
    let policy = setup.policy();
    let notary = setup.start();
    let (provider, requester) = provider_and_requester(&setup, &notary);
    let existing = new_case(&requester, "B-0");
    assert_eq!(notary.submit(&existing).0, 201);
    let fresh = new_case(&requester, "B-1");
    let mut forged = new_case(&requester, "B-2");
    forged.signature[9] ^= 1;
    let stranger = sign(
        &department("gd.unknown"),
        Kind::Approval,
        json!({"case": "B-1"}),
    );
    let approval = sign(&provider, Kind::Approval, json!({"case": "B-1"}));
    let items = [&fresh, &forged, &stranger, &existing, &fresh, &approval];
    let body = format!(
        "[{}]",
        items
            .iter()
            .map(|a| a.to_json())
            .collect::<Vec<_>>()
            .join(",")
    );
    let post = |body: String| match ureq::post(&format!("{}/v1/attestations/batch", notary.url))
        .send_string(&body)
    {
        Ok(r) => (r.status(), r.into_json::<Value>().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_json::<Value>().unwrap()),
        Err(e) => panic!("{e}"),
    };
    let (status, answer) = post(body);
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![201, 400, 403, 200, 200, 201], "{answer}");
    assert_eq!(results[1]["error"], "bad_signature");
    assert_eq!(results[2]["error"], "unknown_department");
    // The approval, later in the same batch, sees the case the application opened.
    for i in [0, 3, 4, 5] {
        verifier::verify_receipt(results[i]["receipt"].to_string().as_bytes(), &policy).unwrap();
    }
    assert_eq!(
        results[0]["receipt"]["index"], results[4]["receipt"]["index"],
        "the same statement twice: one entry"
    );
    assert_eq!(
        notary.tree_size(),
        8,
        "5 set-up entries, B-0, B-1 and the approval"
    );

    // The batch itself must be a JSON array of 1 to 256 submissions.
    assert_eq!(post("{}".into()).1["error"], "invalid_batch");
    assert_eq!(post("[]".into()).1["error"], "invalid_batch");
    assert_eq!(post("[".into()).1["error"], "invalid_json");
    let many = format!("[{}]", vec![fresh.to_json(); 257].join(","));
    assert_eq!(post(many).1["error"], "invalid_batch");
    assert_eq!(notary.tree_size(), 8);
}

/// Announces a body of `len` bytes and reads the answer without sending
/// the body: an oversized request must be refused from its headers alone.
fn post_announcing(notary: &Notary, len: usize) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(notary.url.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let head = format!("POST /v1/attestations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("an answer before the body");
    answer
}

#[test]
fn private_keys_are_written_0600() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new();
    for key in [
        setup.data().join("notary.key"),
        setup.dir.path().join("root.key"),
    ] {
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
}
