//! Realistic cases through the real notary over HTTP, on a clock the test
//! sets (`notary-test-clock`), across 2026's Spring Festival, Labour Day and
//! National Day with their make-up working days: the findings each case
//! shows on `GET /v1/cases/{case}`, with exact codes, due days, actual days
//! and entry indices; the findings and figures queries; and who may read
//! them (specs/findings.md, specs/reads.md, specs/api.md §Queries).

use department::DepartmentKey;
use e2e::*;
use ledger::attestation::Kind;
use ledger::time::parse_rfc3339;
use serde_json::{json, Value};

/// A log with its departments and two catalog items: `rst/c` (conditional,
/// 10 working days to reply) and `rst/u` (unconditional, 1 working day).
struct World {
    _setup: Setup,
    notary: Notary,
    now: u64,
    provider: DepartmentKey,
    requester: DepartmentKey,
    supervisor: DepartmentKey,
    other: DepartmentKey,
    auditor: DepartmentKey,
}

/// One finding, as the tests compare them: code, due day, actual day,
/// entries, open.
type Summary = (String, Option<String>, Option<String>, Vec<u64>, bool);

fn ms(t: &str) -> u64 {
    parse_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}"))
}

impl World {
    fn new(start: &str) -> World {
        let setup = Setup::new();
        let now = ms(start);
        let notary = Notary::start_with_clock(&setup.data(), now, None);
        let mut w = World {
            notary,
            now,
            provider: department("gd.rst"),
            requester: department("gd.scjgj"),
            supervisor: department("gd.zsj"),
            other: department("gd.gaj"),
            auditor: department("gd.audit"),
            _setup: setup,
        };
        let root = w._setup.root.clone();
        for (d, role) in [
            (w.provider.clone(), "provider"),
            (w.requester.clone(), "requester"),
            (w.supervisor.clone(), "supervisor"),
            (w.other.clone(), "requester"),
            (w.auditor.clone(), "auditor"),
        ] {
            let [dept, key] = [Kind::Department, Kind::DepartmentKey].map(|kind| {
                let body = match kind {
                    Kind::Department => {
                        json!({"id": d.department, "name": "部门", "roles": [role], "jurisdiction": "广东省"})
                    }
                    _ => json!({"department": d.department, "key": d.public_key_base64()}),
                };
                sign_at(&root, kind, body, now)
            });
            w.submit(&dept);
            w.submit(&key);
        }
        let provider = w.provider.clone();
        w.step(start, &provider, Kind::CatalogEntry, catalog_entry("rst/c"));
        let mut unconditional = catalog_entry("rst/u");
        unconditional["share_attribute"] = json!("unconditional");
        unconditional.as_object_mut().unwrap().remove("conditions");
        w.step(start, &provider, Kind::CatalogEntry, unconditional);
        w
    }

    fn submit(&self, a: &ledger::attestation::SignedAttestation) -> (u64, Value) {
        let (status, body) = self.notary.submit(a);
        assert!(status == 201, "{status}: {body}");
        (body["index"].as_u64().unwrap(), body)
    }

    /// Signs and submits a step at the instant `at` (RFC 3339).
    fn step(&mut self, at: &str, who: &DepartmentKey, kind: Kind, body: Value) -> u64 {
        let t = ms(at);
        if t > self.now {
            self.notary.set_clock(t);
            self.now = t;
        }
        self.submit(&sign_at(who, kind, body, t)).0
    }

    /// An application for `item` (use until `use_until`).
    fn apply(&mut self, at: &str, case: &str, item: &str, use_until: &str) -> u64 {
        let mut body = application(case, item, "gd.rst");
        body["use_until"] = json!(use_until);
        let requester = self.requester.clone();
        self.step(at, &requester, Kind::Application, body)
    }

    fn by_provider(&mut self, at: &str, kind: Kind, body: Value) -> u64 {
        let p = self.provider.clone();
        self.step(at, &p, kind, body)
    }

    fn by_requester(&mut self, at: &str, kind: Kind, body: Value) -> u64 {
        let r = self.requester.clone();
        self.step(at, &r, kind, body)
    }

    /// A signed read, at the test clock's time.
    fn read(&self, reader: &DepartmentKey, path: &str) -> (u16, Value) {
        let (status, body) = self.notary.read_at(reader, path, self.now);
        let body = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        (status, body)
    }

    /// The case as the supervisor reads it, as of `as_of`.
    fn case(&self, case: &str, as_of: &str) -> Value {
        let path = format!("/v1/cases/{case}?as_of={}", as_of.replace('+', "%2B"));
        let (status, body) = self.read(&self.supervisor, &path);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The case's findings as of `as_of`, summarised.
    fn findings(&self, case: &str, as_of: &str) -> Vec<Summary> {
        summarise(&self.case(case, as_of)["findings"])
    }
}

fn summarise(findings: &Value) -> Vec<Summary> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["due"].as_str().map(str::to_owned),
                f["actual"].as_str().map(str::to_owned),
                f["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap())
                    .collect(),
                f["open"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn finding(
    code: &str,
    due: Option<&str>,
    actual: Option<&str>,
    entries: &[u64],
    open: bool,
) -> Summary {
    (
        code.to_owned(),
        due.map(str::to_owned),
        actual.map(str::to_owned),
        entries.to_vec(),
        open,
    )
}

fn usage() -> Value {
    json!({"case": "C", "use_scenario": "企业信用评价", "use_process": "比对缴费记录", "outcome": "评价完成",
           "storage_status": "加密存储", "destruction_status": "未销毁"})
}

fn delivery() -> Value {
    json!({"case": "C", "method": "service_interface", "data_digest": format!("sha256:{}", "ab".repeat(32))})
}

#[test]
fn a_case_by_the_book_has_no_findings_and_shows_its_timeline() {
    let mut w = World::new("2026-03-02T09:00:00+08:00");
    let a = w.apply("2026-03-02T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    let r = w.by_provider(
        "2026-03-05T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C", "conditions": ["仅用于企业信用评价"]}),
    );
    let d = w.by_provider("2026-03-10T10:00:00+08:00", Kind::Delivery, delivery());
    let u = w.by_requester("2026-04-01T10:00:00+08:00", Kind::UsageRecord, usage());
    let case = w.case("C", "2026-04-15T00:00:00+08:00");
    assert_eq!(summarise(&case["findings"]), vec![]);
    // The timeline: every entry, its time in CST, and a proof in one checkpoint.
    let entries = case["entries"].as_array().unwrap();
    let indices: Vec<u64> = entries
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![a, r, d, u]);
    assert_eq!(case["next"], Value::Null);
    // Pages: two entries, then the rest from where the first page stopped.
    let (_, first) = w.read(&w.supervisor, "/v1/cases/C?limit=2");
    let page: Vec<u64> = first["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!((page, first["next"].as_u64()), (vec![a, r], Some(d)));
    let (_, rest) = w.read(&w.supervisor, &format!("/v1/cases/C?limit=2&from={d}"));
    assert_eq!(rest["entries"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next"], Value::Null);
    for bad in ["limit=0", "limit=501", "from=x"] {
        let (status, body) = w.read(&w.supervisor, &format!("/v1/cases/C?{bad}"));
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_query")),
            "{bad}"
        );
    }
    assert_eq!(entries[0]["notarised"], "2026-03-02 10:00:00.000 CST");
    assert_eq!(entries[1]["kind"], "approval");
    assert_eq!(entries[1]["signer"], "gd.rst");
    let checkpoint = ledger::checkpoint::Checkpoint::parse_body(&format!(
        "{}\n",
        case["checkpoint"]
            .as_str()
            .unwrap()
            .split("\n\n")
            .next()
            .unwrap()
    ))
    .unwrap();
    for e in entries {
        let proof: Vec<ledger::hashing::Hash> = e["inclusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| ledger::hashing::Hash::from_base64(h.as_str().unwrap()).unwrap())
            .collect();
        let (status, bytes) =
            w.notary
                .read_at(&w.auditor, &format!("/v1/entries/{}", e["index"]), w.now);
        assert_eq!(status, 200);
        let leaf = ledger::entry::Entry::parse(&bytes)
            .unwrap()
            .leaf_hash()
            .unwrap();
        ledger::proof::verify_inclusion(
            e["index"].as_u64().unwrap(),
            checkpoint.size,
            &leaf,
            &proof,
            &checkpoint.root,
        )
        .unwrap();
    }
    // A year on, the data is still in use and no usage record came: open.
    assert_eq!(
        w.findings("C", "2026-07-01T00:00:00+08:00"),
        vec![finding(
            "usage_record_missing",
            Some("2026-06-30"),
            None,
            &[u],
            true
        )]
    );
}

#[test]
fn a_reply_late_over_the_spring_festival() {
    // Unconditional: 1 working day. Applied on Friday 13 February; the
    // Saturday after is a make-up working day (春节调休), so the reply was
    // due on 14 February, and came after the holiday.
    let mut w = World::new("2026-02-02T09:00:00+08:00");
    let a = w.apply("2026-02-13T10:00:00+08:00", "C", "rst/u", "2027-12-31");
    let r = w.by_provider(
        "2026-02-24T09:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    assert_eq!(
        w.findings("C", "2026-02-25T00:00:00+08:00"),
        vec![finding(
            "reply_late",
            Some("2026-02-14"),
            Some("2026-02-24"),
            &[a, r],
            false
        )]
    );
}

#[test]
fn a_reply_missing_over_labour_day() {
    // Conditional: 10 working days from 28 April, over 1–5 May (off) and the
    // make-up Saturday 9 May: due 14 May.
    let mut w = World::new("2026-04-20T09:00:00+08:00");
    let a = w.apply("2026-04-28T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    w.step(
        "2026-05-16T09:00:00+08:00",
        &w.provider.clone(),
        Kind::CatalogEntry,
        catalog_entry("rst/other"),
    );
    assert_eq!(w.findings("C", "2026-05-14T23:59:59+08:00"), vec![]);
    assert_eq!(
        w.findings("C", "2026-05-16T10:00:00+08:00"),
        vec![finding(
            "reply_missing",
            Some("2026-05-14"),
            None,
            &[a],
            true
        )]
    );
}

#[test]
fn an_extension_after_national_day_came_too_late() {
    // Applied 28 September: 10 working days over National Day (1–7 October
    // off, 10 October a make-up Saturday) end on 16 October. The
    // supervisor's extension of 19 October extends nothing.
    let mut w = World::new("2026-09-20T09:00:00+08:00");
    let a = w.apply("2026-09-28T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    let s = w.supervisor.clone();
    let x = w.step(
        "2026-10-19T10:00:00+08:00",
        &s,
        Kind::ReplyExtension,
        json!({"case": "C", "working_days": 5, "reason": "需核实使用范围"}),
    );
    assert_eq!(
        w.findings("C", "2026-10-20T00:00:00+08:00"),
        vec![
            finding("reply_missing", Some("2026-10-16"), None, &[a], true),
            finding(
                "extension_after_deadline",
                Some("2026-10-16"),
                Some("2026-10-19"),
                &[a, x],
                false
            ),
        ]
    );
}

#[test]
fn an_extension_in_time_moves_the_due_day() {
    let mut w = World::new("2026-09-20T09:00:00+08:00");
    w.apply("2026-09-28T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    let s = w.supervisor.clone();
    w.step(
        "2026-10-12T10:00:00+08:00",
        &s,
        Kind::ReplyExtension,
        json!({"case": "C", "working_days": 5, "reason": "需核实"}),
    );
    // 16 October + 5 working days = 23 October.
    w.by_provider(
        "2026-10-23T18:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    assert_eq!(w.findings("C", "2026-10-24T00:00:00+08:00"), vec![]);
}

#[test]
fn materials_incomplete_stops_the_clock_until_the_supplement() {
    let mut w = World::new("2026-03-02T09:00:00+08:00");
    w.apply("2026-03-02T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    w.by_provider(
        "2026-03-03T10:00:00+08:00",
        Kind::MaterialsIncomplete,
        json!({"case": "C", "missing": ["使用范围说明"]}),
    );
    // A month without a supplement: nothing is due from the provider.
    assert_eq!(w.findings("C", "2026-04-03T00:00:00+08:00"), vec![]);
    let s = w.by_requester(
        "2026-04-07T10:00:00+08:00",
        Kind::MaterialsSupplement,
        json!({"case": "C", "supplied": ["使用范围说明"]}),
    );
    // 10 working days from 7 April: 8, 9, 10, 13–17, 20, 21 April.
    assert_eq!(
        w.findings("C", "2026-04-23T00:00:00+08:00"),
        vec![finding(
            "reply_missing",
            Some("2026-04-21"),
            None,
            &[s],
            true
        )]
    );
}

#[test]
fn a_delivery_late_and_one_missing() {
    let mut w = World::new("2026-04-01T09:00:00+08:00");
    w.apply("2026-04-01T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    let r = w.by_provider(
        "2026-04-02T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    // 20 working days from 2 April: 3 April, then (6 April off) 7 April on,
    // over Labour Day (1, 4, 5 May off): due 6 May.
    assert_eq!(
        w.findings("C", "2026-05-08T00:00:00+08:00"),
        vec![finding(
            "delivery_missing",
            Some("2026-05-06"),
            None,
            &[r],
            true
        )]
    );
    let d = w.by_provider("2026-05-08T10:00:00+08:00", Kind::Delivery, delivery());
    assert_eq!(
        w.findings("C", "2026-05-09T00:00:00+08:00"),
        vec![finding(
            "delivery_late",
            Some("2026-05-06"),
            Some("2026-05-08"),
            &[r, d],
            false
        )]
    );
}

#[test]
fn out_of_order_steps_are_found() {
    let mut w = World::new("2026-06-01T09:00:00+08:00");
    w.apply("2026-06-01T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    let d = w.by_provider("2026-06-02T10:00:00+08:00", Kind::Delivery, delivery());
    let r = w.by_provider(
        "2026-06-03T10:00:00+08:00",
        Kind::Rejection,
        json!({"case": "C", "reasons": ["用途超出目录条件"]}),
    );
    let again = w.by_provider(
        "2026-06-04T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    let t = w.by_provider(
        "2026-06-05T10:00:00+08:00",
        Kind::Termination,
        json!({"case": "C", "reason": "拒绝后终止"}),
    );
    let u = w.by_requester("2026-06-08T10:00:00+08:00", Kind::UsageRecord, usage());
    let codes: Vec<(String, Vec<u64>)> = w
        .findings("C", "2026-06-09T00:00:00+08:00")
        .into_iter()
        .map(|f| (f.0, f.3))
        .collect();
    for (code, entries) in [
        ("delivery_without_approval", vec![d]),
        ("second_reply", vec![r, again]),
        ("usage_after_termination", vec![t, u]),
    ] {
        assert!(
            codes
                .iter()
                .any(|(c, e)| c == code && e.ends_with(&entries[entries.len() - 1..])),
            "{code} {entries:?} in {codes:?}"
        );
    }
}

#[test]
fn a_correction_late_and_one_missing() {
    let mut w = World::new("2026-09-14T09:00:00+08:00");
    w.apply("2026-09-14T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    w.by_provider(
        "2026-09-15T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    w.by_provider("2026-09-16T10:00:00+08:00", Kind::Delivery, delivery());
    let q1 = w.by_requester(
        "2026-09-21T10:00:00+08:00",
        Kind::CorrectionRequest,
        json!({"case": "C", "request": "q1", "problems": ["缴费金额有误"]}),
    );
    let q2 = w.by_requester(
        "2026-09-22T10:00:00+08:00",
        Kind::CorrectionRequest,
        json!({"case": "C", "request": "q2", "problems": ["月份缺失"]}),
    );
    // From 21 September, 10 working days over 25 September (中秋) and
    // National Day, with the make-up 10 October: 22, 23, 24, 28, 29, 30
    // September, 8, 9, 10, 12 October.
    let r1 = w.by_provider(
        "2026-10-13T10:00:00+08:00",
        Kind::CorrectionResult,
        json!({"case": "C", "request": "q1", "outcome": "corrected", "description": "已更正"}),
    );
    let found = w.findings("C", "2026-10-20T00:00:00+08:00");
    assert!(
        found.contains(&finding(
            "correction_late",
            Some("2026-10-12"),
            Some("2026-10-13"),
            &[q1, r1],
            false
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&finding(
            "correction_missing",
            Some("2026-10-13"),
            None,
            &[q2],
            true
        )),
        "{found:?}"
    );
}

#[test]
fn no_disposal_after_the_time_limit_of_use() {
    let mut w = World::new("2026-03-02T09:00:00+08:00");
    let a = w.apply("2026-03-02T10:00:00+08:00", "C", "rst/c", "2026-04-30");
    w.by_provider(
        "2026-03-03T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    w.by_provider("2026-03-04T10:00:00+08:00", Kind::Delivery, delivery());
    let u = w.by_requester("2026-05-06T10:00:00+08:00", Kind::UsageRecord, usage());
    // Use ended at 24:00 on 30 April: the disposal is due, and a usage
    // record after it is used beyond the time limit.
    assert_eq!(
        w.findings("C", "2026-05-07T00:00:00+08:00"),
        vec![
            finding("disposal_missing", Some("2026-04-30"), None, &[a], true),
            finding("usage_after_use_until", None, None, &[a, u], false),
        ]
    );
}

#[test]
fn catalog_rules_rejection_of_unconditional_and_conditions_not_listed() {
    let mut w = World::new("2026-03-02T09:00:00+08:00");
    w.apply("2026-03-02T10:00:00+08:00", "C", "rst/u", "2027-12-31");
    let r = w.by_provider(
        "2026-03-02T15:00:00+08:00",
        Kind::Rejection,
        json!({"case": "C", "reasons": ["不愿共享"]}),
    );
    let found = w.findings("C", "2026-03-03T00:00:00+08:00");
    assert!(
        found
            .iter()
            .any(|f| f.0 == "rejection_of_unconditional" && f.3.contains(&r)),
        "{found:?}"
    );
    let mut body = application("C2", "rst/c", "gd.rst");
    body["use_until"] = json!("2027-12-31");
    let req = w.requester.clone();
    w.step("2026-03-03T10:00:00+08:00", &req, Kind::Application, body);
    let a = w.by_provider(
        "2026-03-04T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C2", "conditions": ["须每月报送使用情况"]}),
    );
    let found = w.findings("C2", "2026-03-05T00:00:00+08:00");
    assert!(
        found
            .iter()
            .any(|f| f.0 == "conditions_not_in_catalog" && f.3.contains(&a)),
        "{found:?}"
    );
}

#[test]
fn a_second_reply_is_told_at_once_and_found() {
    let mut w = World::new("2026-03-02T09:00:00+08:00");
    w.apply("2026-03-02T10:00:00+08:00", "C", "rst/c", "2027-12-31");
    let first = w.by_provider(
        "2026-03-03T10:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    w.notary.set_clock(ms("2026-03-04T10:00:00+08:00"));
    w.now = ms("2026-03-04T10:00:00+08:00");
    let second = sign_at(
        &w.provider,
        Kind::Rejection,
        json!({"case": "C", "reasons": ["重新审查"]}),
        w.now,
    );
    let r = department::submit(&w.notary.url, &second).unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.findings, vec![format!("second_reply; cites={first}")]);
    let index = r.body["index"].as_u64().unwrap();
    let found = w.findings("C", "2026-03-05T00:00:00+08:00");
    assert!(
        found
            .iter()
            .any(|f| f.0 == "second_reply" && f.3 == vec![first, index]),
        "{found:?}"
    );
}

#[test]
fn queries_by_department_as_json_and_csv_and_figures() {
    let mut w = World::new("2026-02-02T09:00:00+08:00");
    // Two cases: one replied late over the Spring Festival, one on time.
    w.apply("2026-02-13T10:00:00+08:00", "C", "rst/u", "2027-12-31");
    let mut body = application("C2", "rst/u", "gd.rst");
    body["use_until"] = json!("2027-12-31");
    let req = w.requester.clone();
    w.step("2026-02-13T11:00:00+08:00", &req, Kind::Application, body);
    w.by_provider(
        "2026-02-14T09:00:00+08:00",
        Kind::Approval,
        json!({"case": "C2"}),
    );
    w.by_provider(
        "2026-02-24T09:00:00+08:00",
        Kind::Approval,
        json!({"case": "C"}),
    );
    w.notary.set_clock(ms("2026-02-25T09:00:00+08:00"));
    w.now = ms("2026-02-25T09:00:00+08:00");

    let (status, body) = w.read(
        &w.supervisor,
        "/v1/findings?department=gd.rst&code=reply_late",
    );
    assert_eq!(status, 200, "{body}");
    let found = summarise(&body["findings"]);
    assert_eq!(found.len(), 1, "{body}");
    assert_eq!(found[0].1.as_deref(), Some("2026-02-14"));
    // Filters: nothing open, nothing in March, nothing of Art. 22.
    for q in ["open=true", "from=2026-03-01", "article=Art.%2022"] {
        let (status, body) = w.read(
            &w.supervisor,
            &format!("/v1/findings?department=gd.rst&{q}"),
        );
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(summarise(&body["findings"]), vec![], "{q}");
    }
    // CSV, for a spreadsheet.
    let (status, csv) = w.notary.read_at(
        &w.supervisor,
        "/v1/findings?department=gd.rst&format=csv",
        w.now,
    );
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("code,article,case,about,departments,due,provisional,actual,open,entries")
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("reply_late,Art. 21,C,case:C,gd.rst,2026-02-14,false,2026-02-24,false,"),
        "{row}"
    );
    assert_eq!(lines.next(), None);
    // Figures: two replies, one late; the median reply time in working days
    // (1 for C2, 2 for C: the 14th and the 24th are working days).
    let (status, figures) = w.read(&w.supervisor, "/v1/figures?department=gd.rst");
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["cases_as_provider"], 2);
    assert_eq!(figures["replies"], 2);
    assert_eq!(figures["replies_late"], 1);
    assert_eq!(figures["median_reply_working_days"], 1.5);

    // dept case: the same, for people, in CST.
    let key = w._setup.dir.path().join("supervisor");
    department::keyfile::write_key_pair(&key, &note_signer(&w.supervisor)).unwrap();
    let out = std::process::Command::new(binary("dept"))
        .args([
            "case",
            "--notary",
            &w.notary.url,
            "--at",
            &w.now.to_string(),
            "--key",
        ])
        .arg(key.with_extension("key"))
        .arg("C")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("2026-02-13 10:00:00.000 CST  application"),
        "{text}"
    );
    assert!(
        text.contains(
            "reply_late (Art. 21) against gd.rst: due 2026-02-14, done 2026-02-24; entries"
        ),
        "{text}"
    );

    // Who reads: the parties and the supervisor read the case; another
    // department, and anyone asking about a case that does not exist, get
    // the same 403; without a signature, 401.
    for reader in [&w.provider, &w.requester, &w.auditor] {
        assert_eq!(w.read(reader, "/v1/cases/C").0, 200);
    }
    let (status, refused) = w.read(&w.other, "/v1/cases/C");
    assert_eq!(
        (status, refused["error"].as_str()),
        (403, Some("not_permitted_to_read"))
    );
    let (status, unknown) = w.read(&w.other, "/v1/cases/NO-SUCH-CASE");
    assert_eq!((status, &unknown), (403, &refused));
    assert_eq!(w.notary.get("/v1/cases/C").0, 401);
    // Another department sees no finding of cases it may not read.
    let (status, body) = w.read(&w.other, "/v1/findings?department=gd.rst");
    assert_eq!((status, summarise(&body["findings"])), (200, vec![]));
}

#[test]
fn a_dispute_left_unhandled_and_a_catalog_change_answered_late() {
    let mut w = World::new("2026-09-20T09:00:00+08:00");
    let r = w.requester.clone();
    let filed = w.step(
        "2026-09-28T10:00:00+08:00",
        &r,
        Kind::Dispute,
        json!({"dispute": "D-1", "with": "gd.rst", "supervisor": "gd.zsj", "subject": "拒绝理由不成立"}),
    );
    let s = w.supervisor.clone();
    let notice = w.step(
        "2026-09-29T10:00:00+08:00",
        &s,
        Kind::CatalogChangeNotice,
        json!({"change": "CH-1", "provider": "gd.rst", "items": ["rst/c"], "basis": "《社会保险法》修订"}),
    );
    // 10 working days from 29 September over National Day: 19 October.
    let mut answer = catalog_entry("rst/c");
    answer["change"] = json!("CH-1");
    let updated = w.by_provider("2026-10-20T10:00:00+08:00", Kind::CatalogEntry, answer);
    w.notary.set_clock(ms("2026-11-02T09:00:00+08:00"));
    w.now = ms("2026-11-02T09:00:00+08:00");

    // The supervisor's findings: the dispute it left unhandled (20 working
    // days: 30 October) and the publication it owes (2 working days after
    // the update: 22 October).
    let (status, body) = w.read(&w.auditor, "/v1/findings?department=gd.zsj");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        summarise(&body["findings"]),
        vec![
            finding(
                "dispute_unhandled",
                Some("2026-10-30"),
                None,
                &[filed],
                true
            ),
            finding(
                "catalog_publication_missing",
                Some("2026-10-22"),
                None,
                &[updated],
                true
            ),
        ]
    );
    assert_eq!(
        body["findings"][0]["about"],
        json!({"kind": "dispute", "id": "D-1"})
    );
    // The provider's: the update was late.
    let (_, body) = w.read(
        &w.auditor,
        "/v1/findings?department=gd.rst&code=catalog_update_late",
    );
    assert_eq!(
        summarise(&body["findings"]),
        vec![finding(
            "catalog_update_late",
            Some("2026-10-19"),
            Some("2026-10-20"),
            &[notice, updated],
            false
        )]
    );
    // Another department reads none of the dispute.
    let (_, body) = w.read(
        &w.other,
        "/v1/findings?department=gd.zsj&code=dispute_unhandled",
    );
    assert_eq!(summarise(&body["findings"]), vec![]);
}
