//! The findings of specs/findings.md on timelines of cases spanning 2026's
//! Spring Festival, Labour Day and National Day: exact codes, due days,
//! actual days and entry indices.

use ledger::attestation::Statement;
use ledger::calendar::Calendar;
use ledger::findings::{findings, Finding, LoggedStatement, Settings};
use ledger::time::parse_rfc3339;

const KEY: &str = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=";

/// A log being written: statements with their notarised times.
#[derive(Default)]
struct Timeline {
    entries: Vec<(u64, Statement)>,
}

impl Timeline {
    /// Appends `kind` signed by `dept` at `at` (RFC 3339); its index.
    fn add(&mut self, at: &str, dept: &str, kind: &str, body: &str) -> u64 {
        let time = parse_rfc3339(at).unwrap();
        let json = format!(
            r#"{{"version":1,"kind":"{kind}","log":"x.gov.cn/log","signer":{{"department":"{dept}","key":"{KEY}"}},"signed_at":{time},"body":{body}}}"#
        );
        let statement = Statement::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
        self.entries.push((time, statement));
        self.entries.len() as u64 - 1
    }

    fn catalog(&mut self, at: &str, item: &str, conditional: bool) -> u64 {
        let share = if conditional {
            r#""share_attribute":"conditional","conditions":["仅用于信用评价"]"#
        } else {
            r#""share_attribute":"unconditional""#
        };
        self.add(
            at,
            "gd.rst",
            "catalog_entry",
            &format!(r#"{{"item":"{item}","name":"n","data_items":["a"],"format":"JSON","update_frequency":"每日",{share},"sharing_method":"service_interface","classification":"二级"}}"#),
        )
    }

    fn apply(&mut self, at: &str, case: &str, item: &str, use_until: &str) -> u64 {
        self.add(
            at,
            "gd.gaj",
            "application",
            &format!(r#"{{"case":"{case}","item":"{item}","provider":"gd.rst","data_items":["a"],"legal_basis":"第二十条","use_scenario":"s","scope_of_use":"s","sharing_method":"service_interface","use_until":"{use_until}","approved_by":"张三","declaration":true}}"#),
        )
    }

    fn step(&mut self, at: &str, dept: &str, kind: &str, case: &str, rest: &str) -> u64 {
        self.add(at, dept, kind, &format!(r#"{{"case":"{case}"{rest}}}"#))
    }

    fn findings(&self, as_of: &str) -> Vec<Finding> {
        self.findings_with(as_of, &Settings::default())
    }

    fn findings_with(&self, as_of: &str, settings: &Settings) -> Vec<Finding> {
        let logged = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (time, statement))| LoggedStatement {
                index: i as u64,
                time: *time,
                statement,
            });
        findings(
            logged,
            &Calendar::built_in(),
            settings,
            parse_rfc3339(as_of).unwrap(),
        )
    }
}

/// `(code, due, actual, entries, open)` of a finding.
type Summary = (&'static str, Option<String>, Option<String>, Vec<u64>, bool);

/// The [`Summary`] of each finding.
fn summary(found: &[Finding]) -> Vec<Summary> {
    found
        .iter()
        .map(|f| {
            (
                f.code,
                f.due.map(|d| d.date()),
                f.actual.map(ledger::time::ymd),
                f.entries.clone(),
                f.open,
            )
        })
        .collect()
}

fn day(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn a_case_done_by_the_book_has_no_findings() {
    let mut t = Timeline::default();
    t.catalog("2026-03-02T09:00:00+08:00", "rst/x", true);
    t.apply("2026-03-02T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    t.step(
        "2026-03-05T10:00:00+08:00",
        "gd.rst",
        "approval",
        "c1",
        r#","conditions":["仅用于信用评价"]"#,
    );
    t.step(
        "2026-03-10T10:00:00+08:00",
        "gd.rst",
        "delivery",
        "c1",
        &format!(
            r#","method":"batch_exchange","data_digest":"sha256:{}""#,
            "0".repeat(64)
        ),
    );
    t.step("2026-04-01T10:00:00+08:00", "gd.gaj", "usage_record", "c1", r#","use_scenario":"s","use_process":"p","outcome":"o","storage_status":"s","destruction_status":"d""#);
    assert_eq!(summary(&t.findings("2026-04-15T00:00:00+08:00")), vec![]);
    // Ninety days on without a usage record, the requester is behind.
    let later = t.findings("2026-07-01T00:00:00+08:00");
    assert_eq!(
        summary(&later),
        vec![(
            "usage_record_missing",
            day("2026-06-30"),
            None,
            vec![4],
            true
        )]
    );
    assert_eq!(later[0].departments[0].as_str(), "gd.gaj");
    assert_eq!(later[0].article, "Art. 29");
}

#[test]
fn a_reply_late_over_the_spring_festival() {
    let mut t = Timeline::default();
    t.catalog("2026-02-01T09:00:00+08:00", "rst/u", false);
    // Friday: one working day for unconditional data is Saturday the 14th,
    // a make-up working day; the provider answered after the holiday.
    t.apply("2026-02-13T10:00:00+08:00", "c1", "rst/u", "2027-12-31");
    t.step("2026-02-24T09:00:00+08:00", "gd.rst", "approval", "c1", "");
    let found = t.findings("2026-02-25T00:00:00+08:00");
    assert_eq!(
        summary(&found),
        vec![(
            "reply_late",
            day("2026-02-14"),
            day("2026-02-24"),
            vec![1, 2],
            false
        )]
    );
    assert_eq!(found[0].departments[0].as_str(), "gd.rst");
    // Answered at 23:59 on the due day: on time.
    let mut t = Timeline::default();
    t.catalog("2026-02-01T09:00:00+08:00", "rst/u", false);
    t.apply("2026-02-13T10:00:00+08:00", "c1", "rst/u", "2027-12-31");
    t.step("2026-02-14T23:59:59+08:00", "gd.rst", "approval", "c1", "");
    assert_eq!(summary(&t.findings("2026-03-01T00:00:00+08:00")), vec![]);
}

#[test]
fn extensions_over_national_day_and_one_approved_too_late() {
    let mut t = Timeline::default();
    t.catalog("2026-09-01T09:00:00+08:00", "rst/x", true);
    // Ten working days from 28 September end on 16 October.
    t.apply("2026-09-28T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    t.step(
        "2026-10-12T10:00:00+08:00",
        "gd.zsj",
        "reply_extension",
        "c1",
        r#","working_days":5,"reason":"r""#,
    );
    t.step("2026-10-22T10:00:00+08:00", "gd.rst", "approval", "c1", "");
    // A second case: the extension comes after the deadline had passed.
    t.apply("2026-09-28T11:00:00+08:00", "c2", "rst/x", "2027-12-31");
    t.step(
        "2026-10-19T10:00:00+08:00",
        "gd.zsj",
        "reply_extension",
        "c2",
        r#","working_days":5,"reason":"r""#,
    );
    let found = t.findings("2026-10-20T00:00:00+08:00");
    assert_eq!(
        summary(&found),
        vec![
            ("reply_missing", day("2026-10-16"), None, vec![4], true),
            (
                "extension_after_deadline",
                day("2026-10-16"),
                day("2026-10-19"),
                vec![4, 5],
                false
            )
        ]
    );
    assert_eq!(found[0].departments[0].as_str(), "gd.rst");
    assert_eq!(found[1].departments[0].as_str(), "gd.zsj");
    // The late extension excuses nothing: c2's reply was due on 16 October.
    // (Findings are ordered by the last entry they cite, then by code.)
    let found = t.findings("2026-10-24T00:00:00+08:00");
    assert_eq!(
        summary(&found)[0],
        ("reply_missing", day("2026-10-16"), None, vec![4], true)
    );
    assert_eq!(summary(&found)[1].0, "extension_after_deadline");
}

#[test]
fn a_missing_reply_over_labour_day_and_the_one_day_extension_setting() {
    let mut t = Timeline::default();
    t.catalog("2026-04-01T09:00:00+08:00", "rst/x", true);
    t.apply("2026-05-06T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    // 7, 8, 9 (make-up Saturday), 11–15, 18, 19 May.
    assert_eq!(summary(&t.findings("2026-05-19T23:59:59+08:00")), vec![]);
    assert_eq!(
        summary(&t.findings("2026-05-20T00:00:00+08:00")),
        vec![("reply_missing", day("2026-05-19"), None, vec![1], true)]
    );
    // An unconditional item: whether an extension counts is a setting.
    let mut t = Timeline::default();
    t.catalog("2026-04-01T09:00:00+08:00", "rst/u", false);
    t.apply("2026-04-30T10:00:00+08:00", "c1", "rst/u", "2027-12-31");
    t.step(
        "2026-04-30T11:00:00+08:00",
        "gd.zsj",
        "reply_extension",
        "c1",
        r#","working_days":2,"reason":"r""#,
    );
    t.step("2026-05-07T10:00:00+08:00", "gd.rst", "approval", "c1", "");
    assert_eq!(summary(&t.findings("2026-06-01T00:00:00+08:00")), vec![]);
    let strict = Settings {
        extension_for_unconditional: false,
        ..Settings::default()
    };
    assert_eq!(
        summary(&t.findings_with("2026-06-01T00:00:00+08:00", &strict)),
        vec![(
            "reply_late",
            day("2026-05-06"),
            day("2026-05-07"),
            vec![1, 3],
            false
        )]
    );
}

#[test]
fn materials_notices_stop_the_clock_until_the_supplement() {
    let mut t = Timeline::default();
    t.catalog("2026-03-01T09:00:00+08:00", "rst/x", true);
    t.apply("2026-03-02T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    t.step(
        "2026-03-03T10:00:00+08:00",
        "gd.rst",
        "materials_incomplete",
        "c1",
        r#","missing":["a"]"#,
    );
    t.step(
        "2026-03-04T10:00:00+08:00",
        "gd.rst",
        "materials_incomplete",
        "c1",
        r#","missing":["b"]"#,
    );
    // Waiting for the supplement: no reply is due.
    assert_eq!(
        summary(&t.findings("2026-06-01T00:00:00+08:00")),
        vec![("second_materials_notice", None, None, vec![2, 3], false)]
    );
    t.step(
        "2026-03-10T10:00:00+08:00",
        "gd.gaj",
        "materials_supplement",
        "c1",
        r#","supplied":["a","b"]"#,
    );
    t.step("2026-03-30T10:00:00+08:00", "gd.rst", "approval", "c1", "");
    t.step(
        "2026-03-31T10:00:00+08:00",
        "gd.rst",
        "rejection",
        "c1",
        r#","reasons":["r"]"#,
    );
    assert_eq!(
        summary(&t.findings("2026-04-01T00:00:00+08:00")),
        vec![
            ("second_materials_notice", None, None, vec![2, 3], false),
            (
                "reply_late",
                day("2026-03-24"),
                day("2026-03-30"),
                vec![4, 5],
                false
            ),
            ("second_reply", None, None, vec![5, 6], false),
        ]
    );
}

#[test]
fn deliveries_late_missing_and_out_of_order() {
    let digest = format!(
        r#","method":"batch_exchange","data_digest":"sha256:{}""#,
        "0".repeat(64)
    );
    let mut t = Timeline::default();
    t.catalog("2026-05-01T09:00:00+08:00", "rst/x", true);
    t.apply("2026-05-28T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    t.step("2026-06-01T10:00:00+08:00", "gd.rst", "approval", "c1", "");
    // Twenty working days from 1 June, the Dragon Boat Festival (19 June) off: 30 June.
    t.step(
        "2026-07-01T10:00:00+08:00",
        "gd.rst",
        "delivery",
        "c1",
        &digest,
    );
    t.apply("2026-05-28T11:00:00+08:00", "c2", "rst/x", "2027-12-31");
    t.step(
        "2026-05-29T10:00:00+08:00",
        "gd.rst",
        "delivery",
        "c2",
        &digest,
    );
    t.step(
        "2026-06-01T10:00:00+08:00",
        "gd.rst",
        "rejection",
        "c2",
        r#","reasons":["r"]"#,
    );
    t.step(
        "2026-06-02T10:00:00+08:00",
        "gd.rst",
        "delivery",
        "c2",
        &digest,
    );
    t.apply("2026-05-28T12:00:00+08:00", "c3", "rst/x", "2027-12-31");
    t.step(
        "2026-06-01T12:00:00+08:00",
        "gd.rst",
        "approval",
        "c3",
        r#","conditions":["不在目录中的条件"]"#,
    );
    assert_eq!(
        summary(&t.findings("2026-07-02T00:00:00+08:00")),
        vec![
            (
                "delivery_late",
                day("2026-06-30"),
                day("2026-07-01"),
                vec![2, 3],
                false
            ),
            ("delivery_without_approval", None, None, vec![5], false),
            ("delivery_after_rejection", None, None, vec![6, 7], false),
            (
                "conditions_not_in_catalog",
                None,
                None,
                vec![0, 8, 9],
                false
            ),
            ("delivery_missing", day("2026-06-30"), None, vec![9], true),
        ]
    );
}

#[test]
fn corrections_usage_and_disposal() {
    let digest = format!(
        r#","method":"batch_exchange","data_digest":"sha256:{}""#,
        "0".repeat(64)
    );
    let usage = r#","use_scenario":"s","use_process":"p","outcome":"o","storage_status":"s","destruction_status":"d""#;
    let mut t = Timeline::default();
    t.catalog("2026-01-05T09:00:00+08:00", "rst/u", false);
    t.apply("2026-01-05T10:00:00+08:00", "c1", "rst/u", "2026-06-30");
    t.step("2026-01-05T11:00:00+08:00", "gd.rst", "approval", "c1", "");
    t.step(
        "2026-01-06T10:00:00+08:00",
        "gd.rst",
        "delivery",
        "c1",
        &digest,
    );
    // Ten working days from Friday 13 February end on 5 March: the Spring
    // Festival is off, its make-up Saturdays (14 and 28 February) count.
    t.step(
        "2026-02-13T10:00:00+08:00",
        "gd.gaj",
        "correction_request",
        "c1",
        r#","request":"q1","problems":["p"]"#,
    );
    t.step(
        "2026-03-06T10:00:00+08:00",
        "gd.rst",
        "correction_result",
        "c1",
        r#","request":"q1","outcome":"corrected","description":"d""#,
    );
    t.step(
        "2026-03-05T10:00:00+08:00",
        "gd.gaj",
        "correction_request",
        "c1",
        r#","request":"q2","problems":["p"]"#,
    );
    t.step(
        "2026-04-01T10:00:00+08:00",
        "gd.gaj",
        "usage_record",
        "c1",
        usage,
    );
    t.step(
        "2026-07-01T10:00:00+08:00",
        "gd.gaj",
        "usage_record",
        "c1",
        usage,
    );
    t.apply("2026-01-05T12:00:00+08:00", "c2", "rst/u", "2027-12-31");
    t.step(
        "2026-01-05T13:00:00+08:00",
        "gd.rst",
        "rejection",
        "c2",
        r#","reasons":["r"]"#,
    );
    t.step(
        "2026-01-06T13:00:00+08:00",
        "gd.zsj",
        "termination",
        "c2",
        r#","reason":"r""#,
    );
    t.step(
        "2026-01-07T13:00:00+08:00",
        "gd.gaj",
        "usage_record",
        "c2",
        usage,
    );
    let found = t.findings("2026-07-02T00:00:00+08:00");
    assert_eq!(
        summary(&found),
        vec![
            ("disposal_missing", day("2026-06-30"), None, vec![1], true),
            (
                "correction_late",
                day("2026-03-05"),
                day("2026-03-06"),
                vec![4, 5],
                false
            ),
            ("correction_missing", day("2026-03-19"), None, vec![6], true),
            ("usage_after_use_until", None, None, vec![1, 8], false),
            (
                "usage_record_late",
                day("2026-06-30"),
                day("2026-07-01"),
                vec![7, 8],
                false
            ),
            ("rejection_of_unconditional", None, None, vec![0, 10], false),
            ("usage_after_termination", None, None, vec![11, 12], false),
        ]
    );
    let json = found[2].to_json();
    assert_eq!(json["article"], "Art. 26");
    assert_eq!(json["departments"][0], "gd.rst");
    assert_eq!(json["provisional"], false);
}

#[test]
fn a_stop_after_the_due_day_closes_but_does_not_erase() {
    let mut t = Timeline::default();
    t.catalog("2026-03-01T09:00:00+08:00", "rst/u", false);
    t.apply("2026-03-02T10:00:00+08:00", "c1", "rst/u", "2027-12-31");
    t.apply("2026-03-02T11:00:00+08:00", "c2", "rst/u", "2027-12-31");
    // c1 terminated in time (before its reply was due), c2 a month late.
    t.step(
        "2026-03-02T12:00:00+08:00",
        "gd.zsj",
        "termination",
        "c1",
        r#","reason":"r""#,
    );
    t.step(
        "2026-04-02T12:00:00+08:00",
        "gd.zsj",
        "termination",
        "c2",
        r#","reason":"r""#,
    );
    assert_eq!(
        summary(&t.findings("2026-05-01T00:00:00+08:00")),
        vec![("reply_missing", day("2026-03-03"), None, vec![2, 4], false)]
    );
    // As of an instant before the termination: open, and the later entry unseen.
    assert_eq!(
        summary(&t.findings("2026-04-01T00:00:00+08:00")),
        vec![("reply_missing", day("2026-03-03"), None, vec![2], true)]
    );
}

#[test]
fn extensions_add_ten_working_days_at_most() {
    let mut t = Timeline::default();
    t.catalog("2026-03-01T09:00:00+08:00", "rst/x", true);
    t.apply("2026-03-02T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    for at in ["2026-03-03T10:00:00+08:00", "2026-03-04T10:00:00+08:00"] {
        t.step(
            at,
            "gd.zsj",
            "reply_extension",
            "c1",
            r#","working_days":10,"reason":"r""#,
        );
    }
    // 10 + 10 working days from 2 March: 30 March, not 13 April.
    assert_eq!(
        summary(&t.findings("2026-04-01T00:00:00+08:00")),
        vec![("reply_missing", day("2026-03-30"), None, vec![1], true)]
    );
}

#[test]
fn without_the_catalog_entry_nothing_depends_on_it() {
    // Receipts of the case alone: the item's catalog entry is not among them.
    let mut t = Timeline::default();
    t.apply("2026-03-02T10:00:00+08:00", "c1", "rst/x", "2027-12-31");
    t.step(
        "2026-06-02T10:00:00+08:00",
        "gd.rst",
        "approval",
        "c1",
        r#","conditions":["x"]"#,
    );
    assert_eq!(summary(&t.findings("2026-06-03T00:00:00+08:00")), vec![]);
}

/// A catalog entry of `item` answering the catalog change `change`.
fn update(t: &mut Timeline, at: &str, item: &str, change: &str) -> u64 {
    t.add(
        at,
        "gd.rst",
        "catalog_entry",
        &format!(r#"{{"item":"{item}","name":"n","data_items":["a"],"format":"JSON","update_frequency":"每日","share_attribute":"unconditional","sharing_method":"service_interface","classification":"二级","change":"{change}"}}"#),
    )
}

#[test]
fn a_catalog_change_over_the_spring_festival_updated_late_and_not_published() {
    let mut t = Timeline::default();
    let notice = t.add(
        "2026-02-10T10:00:00+08:00",
        "gd.zsj",
        "catalog_change_notice",
        r#"{"change":"ch1","provider":"gd.rst","items":["rst/x"],"basis":"《社会保险法》修订"}"#,
    );
    // 10 working days over the holiday (14 and 28 February are make-up
    // Saturdays): 2 March; 3 more working days by extension: 5 March.
    t.add(
        "2026-02-26T10:00:00+08:00",
        "gd.zsj",
        "catalog_update_extension",
        r#"{"change":"ch1","working_days":3,"reason":"涉及多个目录项"}"#,
    );
    let updated = update(&mut t, "2026-03-06T10:00:00+08:00", "rst/x", "ch1");
    // Published within 2 working days of the update: by 10 March.
    assert_eq!(
        summary(&t.findings("2026-03-12T00:00:00+08:00")),
        vec![
            (
                "catalog_publication_missing",
                day("2026-03-10"),
                None,
                vec![updated],
                true
            ),
            (
                "catalog_update_late",
                day("2026-03-05"),
                day("2026-03-06"),
                vec![notice, updated],
                false
            ),
        ]
    );
    let f = &t.findings("2026-03-12T00:00:00+08:00")[0];
    assert_eq!(
        (f.about.kind.name(), f.about.id.as_str(), f.case()),
        ("catalog_change", "ch1", None)
    );
    assert_eq!(
        f.departments[0].as_str(),
        "gd.zsj",
        "the notice's supervisor publishes"
    );
}

#[test]
fn a_catalog_extension_after_the_deadline_extends_nothing() {
    let mut t = Timeline::default();
    let notice = t.add(
        "2026-04-28T10:00:00+08:00",
        "gd.zsj",
        "catalog_change_notice",
        r#"{"change":"ch2","provider":"gd.rst","items":[],"basis":"职责调整"}"#,
    );
    let late = t.add(
        "2026-05-15T10:00:00+08:00",
        "gd.zsj",
        "catalog_update_extension",
        r#"{"change":"ch2","working_days":5,"reason":"r"}"#,
    );
    assert_eq!(
        summary(&t.findings("2026-05-16T00:00:00+08:00")),
        vec![
            (
                "catalog_update_missing",
                day("2026-05-14"),
                None,
                vec![notice],
                true
            ),
            (
                "catalog_extension_after_deadline",
                day("2026-05-14"),
                day("2026-05-15"),
                vec![notice, late],
                false
            ),
        ]
    );
}

#[test]
fn a_dispute_over_national_day_handled_late_then_unhandled_higher_up() {
    let mut t = Timeline::default();
    let filed = t.add(
        "2026-09-28T10:00:00+08:00",
        "gd.gaj",
        "dispute",
        r#"{"dispute":"d1","with":"gd.rst","supervisor":"gd.zsj","subject":"拒绝共享的理由不成立"}"#,
    );
    // 20 working days over National Day (10 October a make-up Saturday): 30 October.
    let up = t.add(
        "2026-11-02T10:00:00+08:00",
        "gd.zsj",
        "dispute_escalation",
        r#"{"dispute":"d1","to":"cn.gjsjj","reason":"涉及跨层级数据"}"#,
    );
    let found = t.findings("2026-12-02T00:00:00+08:00");
    assert_eq!(
        summary(&found),
        vec![
            (
                "dispute_handled_late",
                day("2026-10-30"),
                day("2026-11-02"),
                vec![filed, up],
                false
            ),
            ("dispute_unhandled", day("2026-11-30"), None, vec![up], true),
        ]
    );
    assert_eq!(found[0].departments[0].as_str(), "gd.zsj");
    assert_eq!(
        found[1].departments[0].as_str(),
        "cn.gjsjj",
        "the supervisor it is with now"
    );
    // Settled in time by the higher supervisor: only the first finding stays.
    t.add(
        "2026-11-27T10:00:00+08:00",
        "cn.gjsjj",
        "dispute_resolution",
        r#"{"dispute":"d1","outcome":"应予共享"}"#,
    );
    assert_eq!(summary(&t.findings("2026-12-02T00:00:00+08:00")).len(), 1);
}

#[test]
fn return_flows_in_time_and_missing_over_the_dragon_boat_festival() {
    let mut t = Timeline::default();
    t.add(
        "2026-05-06T10:00:00+08:00",
        "gz.zsj",
        "return_flow_request",
        r#"{"request":"rf1","to":"gd.rst","data_items":["本市参保数据"],"region":"广州市"}"#,
    );
    t.add(
        "2026-06-01T10:00:00+08:00",
        "gd.rst",
        "return_flow",
        &format!(
            r#"{{"request":"rf1","data_digest":"sha256:{}"}}"#,
            "0".repeat(64)
        ),
    );
    let asked = t.add(
        "2026-06-15T10:00:00+08:00",
        "gz.zsj",
        "return_flow_request",
        r#"{"request":"rf2","to":"gd.rst","data_items":["本市缴费数据"],"region":"广州市"}"#,
    );
    // 20 working days, 19 June (端午) off: 14 July.
    assert_eq!(summary(&t.findings("2026-07-14T23:00:00+08:00")), vec![]);
    assert_eq!(
        summary(&t.findings("2026-07-15T00:00:00+08:00")),
        vec![(
            "return_flow_missing",
            day("2026-07-14"),
            None,
            vec![asked],
            true
        )]
    );
}

/// `(step, due day, since, due from)` of each deadline as of `as_of`.
fn due(t: &Timeline, as_of: &str) -> Vec<(&'static str, String, u64, String)> {
    let logged = t
        .entries
        .iter()
        .enumerate()
        .map(|(i, (time, statement))| LoggedStatement {
            index: i as u64,
            time: *time,
            statement,
        });
    ledger::findings::deadlines(
        logged,
        &Calendar::built_in(),
        &Settings::default(),
        parse_rfc3339(as_of).unwrap(),
    )
    .iter()
    .map(|d| {
        (
            d.step,
            d.due.date(),
            d.since,
            d.due_from.as_str().to_owned(),
        )
    })
    .collect()
}

#[test]
fn deadlines_list_what_is_still_due() {
    let mut t = Timeline::default();
    t.catalog("2026-04-01T09:00:00+08:00", "rst/x", true);
    let a = t.apply("2026-04-01T10:00:00+08:00", "c1", "rst/x", "2026-12-31");
    let owed = |step, day: &str, since, from: &str| (step, day.to_owned(), since, from.to_owned());
    // 10 working days from 1 April, 6 April (清明) off: 16 April.
    assert_eq!(
        due(&t, "2026-04-02T00:00:00+08:00"),
        vec![owed("reply", "2026-04-16", a, "gd.rst")]
    );
    let r = t.step("2026-04-03T10:00:00+08:00", "gd.rst", "approval", "c1", "");
    // 20 working days from 3 April, over 6 April and Labour Day: 7 May.
    assert_eq!(
        due(&t, "2026-04-04T00:00:00+08:00"),
        vec![owed("delivery", "2026-05-07", r, "gd.rst")]
    );
    let d = t.step(
        "2026-04-10T10:00:00+08:00",
        "gd.rst",
        "delivery",
        "c1",
        &format!(
            r#","method":"service_interface","data_digest":"sha256:{}""#,
            "0".repeat(64)
        ),
    );
    // The first usage record by the 90th calendar day after the delivery.
    assert_eq!(
        due(&t, "2026-04-11T00:00:00+08:00"),
        vec![owed("usage_record", "2026-07-09", d, "gd.gaj")]
    );
    t.step(
        "2026-04-20T10:00:00+08:00",
        "gd.rst",
        "termination",
        "c1",
        r#","reason":"r""#,
    );
    // Terminated: no more usage records, but the disposal by the last day of use.
    assert_eq!(
        due(&t, "2026-04-21T00:00:00+08:00"),
        vec![owed("disposal", "2026-12-31", d, "gd.gaj")]
    );
}

#[test]
fn a_publication_before_the_update_publishes_nothing() {
    let mut t = Timeline::default();
    t.add(
        "2026-03-02T10:00:00+08:00",
        "gd.zsj",
        "catalog_change_notice",
        r#"{"change":"ch1","provider":"gd.rst","items":[],"basis":"b"}"#,
    );
    t.add(
        "2026-03-03T10:00:00+08:00",
        "gd.zsj",
        "catalog_publication",
        r#"{"change":"ch1","items":[]}"#,
    );
    let updated = update(&mut t, "2026-03-04T10:00:00+08:00", "rst/x", "ch1");
    // Due 2 working days after the update: 6 March; the early one does not count.
    assert_eq!(
        summary(&t.findings("2026-03-09T00:00:00+08:00")),
        vec![(
            "catalog_publication_missing",
            day("2026-03-06"),
            None,
            vec![updated],
            true
        )]
    );
}
