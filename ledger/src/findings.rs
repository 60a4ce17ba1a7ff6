//! The case clock and its findings (specs/findings.md): what a supervisor
//! wants flagged, computed from the log's entries, a calendar and an "as
//! of" instant alone, so that the notary and an offline verifier compute
//! the same findings from the same entries.
//!
//! Findings are not refusals: the ledger records what really happened, and
//! the findings say where that departs from the regulation (late, missing
//! or out-of-order steps), citing the entries that prove it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::attestation::{Body, Id, ShareAttribute, Statement};
use crate::calendar::{Calendar, DueDay};
use crate::time::{cst_day, cst_day_start, days_from_civil, parse_ymd, ymd};

/// The choices the regulation leaves open (specs/findings.md §Settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Whether a supervisor-approved reply extension also extends the one
    /// working day of unconditional items (Art. 21 does not say).
    pub extension_for_unconditional: bool,
    /// Calendar days an active case may go without a usage record (Art. 29).
    pub usage_record_interval_days: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            extension_for_unconditional: true,
            usage_record_interval_days: 90,
        }
    }
}

/// One finding: what departs from the regulation, where, and the entries
/// that prove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable code (specs/findings.md §Codes).
    pub code: &'static str,
    pub article: &'static str,
    pub case: Option<Id>,
    /// The departments it is a finding against.
    pub departments: Vec<Id>,
    /// The due day, for deadlines.
    pub due: Option<DueDay>,
    /// The day (CST) the step was notarised, for late steps.
    pub actual: Option<i64>,
    /// Indices of the entries that prove it.
    pub entries: Vec<u64>,
    /// Still open as of the instant asked about (a step that is missing);
    /// closed findings are about steps that happened.
    pub open: bool,
}

impl Finding {
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "article": self.article,
            "case": self.case.as_ref().map(Id::as_str),
            "departments": self.departments.iter().map(Id::as_str).collect::<Vec<_>>(),
            "due": self.due.map(|d| d.date()),
            "provisional": self.due.map(|d| d.provisional),
            "actual": self.actual.map(ymd),
            "entries": self.entries,
            "open": self.open,
        })
    }
}

/// An entry as the findings read it: its index, notarised time and statement.
#[derive(Debug, Clone, Copy)]
pub struct LoggedStatement<'a> {
    pub index: u64,
    pub time: u64,
    pub statement: &'a Statement,
}

/// A step of a case: its entry index and notarised time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    index: u64,
    time: u64,
}

#[derive(Debug, Clone)]
struct CatalogItem {
    share_attribute: ShareAttribute,
    conditions: Vec<String>,
}

/// The clock of one case.
#[derive(Debug, Clone)]
struct CaseClock {
    requester: Id,
    provider: Id,
    unconditional: bool,
    catalog_conditions: Vec<String>,
    /// The last day of permitted use (使用时限).
    use_until: Option<i64>,
    /// When the reply period started: the application, or the last
    /// supplement after a materials-incomplete notice.
    period_start: Step,
    /// Working days added to the period by extensions.
    extension: u32,
    /// A materials-incomplete notice stopped the clock until a supplement.
    awaiting_supplement: bool,
    materials_notice: Option<Step>,
    reply: Option<Step>,
    approval: Option<Step>,
    rejection: Option<Step>,
    suspension: Option<Step>,
    termination: Option<Step>,
    first_delivery: Option<Step>,
    last_usage: Option<Step>,
    disposal: Option<Step>,
    /// Correction requests by request id, and their result.
    corrections: BTreeMap<Id, (Step, Option<Step>)>,
}

/// Computes the findings of the log's `entries` (in index order) as of the
/// instant `as_of` (ms), with `calendar` and `settings`.
pub fn findings<'a>(
    entries: impl IntoIterator<Item = LoggedStatement<'a>>,
    calendar: &Calendar,
    settings: &Settings,
    as_of: u64,
) -> Vec<Finding> {
    let mut replay = Replay {
        calendar,
        settings,
        catalog: BTreeMap::new(),
        cases: BTreeMap::new(),
        found: Vec::new(),
    };
    for e in entries {
        replay.apply(e);
    }
    replay.open_findings(as_of);
    replay
        .found
        .sort_by_key(|f| (f.entries.last().copied(), f.code));
    replay.found
}

struct Replay<'c> {
    calendar: &'c Calendar,
    settings: &'c Settings,
    catalog: BTreeMap<Id, CatalogItem>,
    cases: BTreeMap<Id, CaseClock>,
    found: Vec<Finding>,
}

/// The end of a due day: 24:00 CST.
fn end_of(due: DueDay) -> u64 {
    due.end_ms().unwrap_or(u64::MAX)
}

impl Replay<'_> {
    fn deadline(&self, name: &str) -> u32 {
        self.calendar.deadline(name).unwrap_or(1)
    }

    /// The due day of the reply period of `case`.
    fn reply_due(&self, case: &CaseClock) -> DueDay {
        let base = if case.unconditional {
            self.deadline("reply_unconditional")
        } else {
            self.deadline("reply_conditional")
        };
        self.calendar
            .due_day(case.period_start.time, base + case.extension)
    }

    fn add(
        &mut self,
        code: &'static str,
        article: &'static str,
        case: &Id,
        against: &Id,
        entries: Vec<u64>,
    ) -> &mut Finding {
        self.found.push(Finding {
            code,
            article,
            case: Some(case.clone()),
            departments: vec![against.clone()],
            due: None,
            actual: None,
            entries,
            open: false,
        });
        self.found.last_mut().expect("just pushed")
    }

    /// A step that had to happen by `due`, and happened at `step`.
    #[allow(clippy::too_many_arguments)]
    fn check_on_time(
        &mut self,
        code: &'static str,
        article: &'static str,
        case: &Id,
        against: &Id,
        start: Step,
        due: DueDay,
        step: Step,
    ) {
        if step.time >= end_of(due) {
            let f = self.add(code, article, case, against, vec![start.index, step.index]);
            f.due = Some(due);
            f.actual = Some(cst_day(step.time));
        }
    }

    fn apply(&mut self, e: LoggedStatement) {
        let step = Step {
            index: e.index,
            time: e.time,
        };
        let signer = &e.statement.signer.department;
        if let Body::CatalogEntry(c) = &e.statement.body {
            self.catalog.insert(
                c.item.clone(),
                CatalogItem {
                    share_attribute: c.share_attribute,
                    conditions: c
                        .conditions
                        .iter()
                        .flat_map(|l| l.texts().map(str::to_owned))
                        .collect(),
                },
            );
            return;
        }
        if let Body::Application(a) = &e.statement.body {
            let item = self.catalog.get(&a.item);
            let use_until =
                parse_ymd(a.use_until.as_str()).map(|(y, m, d)| days_from_civil(y, m, d));
            self.cases.entry(a.case.clone()).or_insert(CaseClock {
                requester: signer.clone(),
                provider: a.provider.clone(),
                unconditional: item
                    .is_some_and(|i| i.share_attribute == ShareAttribute::Unconditional),
                catalog_conditions: item.map(|i| i.conditions.clone()).unwrap_or_default(),
                use_until,
                period_start: step,
                extension: 0,
                awaiting_supplement: false,
                materials_notice: None,
                reply: None,
                approval: None,
                rejection: None,
                suspension: None,
                termination: None,
                first_delivery: None,
                last_usage: None,
                disposal: None,
                corrections: BTreeMap::new(),
            });
            return;
        }
        let Some(case_id) = crate::lifecycle::case_of(&e.statement.body).cloned() else {
            return;
        };
        let Some(mut case) = self.cases.get(&case_id).cloned() else {
            return; // the notary refuses steps of unknown cases
        };
        let provider = case.provider.clone();
        let requester = case.requester.clone();
        match &e.statement.body {
            Body::MaterialsIncomplete(_) => {
                if let Some(first) = case.reply {
                    self.add(
                        "second_reply",
                        "Art. 21",
                        &case_id,
                        &provider,
                        vec![first.index, step.index],
                    );
                } else if let Some(first) = case.materials_notice {
                    // One notice listing everything missing (Art. 21).
                    self.add(
                        "second_materials_notice",
                        "Art. 21",
                        &case_id,
                        &provider,
                        vec![first.index, step.index],
                    );
                } else if !case.awaiting_supplement {
                    let due = self.reply_due(&case);
                    self.check_on_time(
                        "reply_late",
                        "Art. 21",
                        &case_id,
                        &provider,
                        case.period_start,
                        due,
                        step,
                    );
                }
                case.materials_notice.get_or_insert(step);
                case.awaiting_supplement = true;
            }
            // A supplement after a notice starts a new reply period.
            Body::MaterialsSupplement(_) if case.awaiting_supplement => {
                case.awaiting_supplement = false;
                case.period_start = step;
                case.extension = 0;
            }
            // An extension counts for a reply still due.
            Body::ReplyExtension(x) if case.reply.is_none() && !case.awaiting_supplement => {
                let due = self.reply_due(&case);
                if step.time >= end_of(due) {
                    let f = self.add(
                        "extension_after_deadline",
                        "Art. 21",
                        &case_id,
                        signer,
                        vec![case.period_start.index, step.index],
                    );
                    f.due = Some(due);
                    f.actual = Some(cst_day(step.time));
                }
                if !case.unconditional || self.settings.extension_for_unconditional {
                    case.extension += u32::try_from(x.working_days).unwrap_or(10).min(10);
                }
            }
            Body::Approval(_) | Body::Rejection(_) => {
                if let Some(first) = case.reply {
                    self.add(
                        "second_reply",
                        "Art. 21",
                        &case_id,
                        &provider,
                        vec![first.index, step.index],
                    );
                } else {
                    if !case.awaiting_supplement {
                        let due = self.reply_due(&case);
                        self.check_on_time(
                            "reply_late",
                            "Art. 21",
                            &case_id,
                            &provider,
                            case.period_start,
                            due,
                            step,
                        );
                    }
                    case.reply = Some(step);
                    match &e.statement.body {
                        Body::Approval(a) => {
                            case.approval = Some(step);
                            let invented =
                                a.conditions.iter().flat_map(|l| l.texts()).any(|c| {
                                    !case.catalog_conditions.iter().any(|listed| listed == c)
                                });
                            if invented {
                                self.add(
                                    "conditions_not_in_catalog",
                                    "Art. 15",
                                    &case_id,
                                    &provider,
                                    vec![case.period_start.index, step.index],
                                );
                            }
                        }
                        _ => {
                            case.rejection = Some(step);
                            if case.unconditional {
                                self.add(
                                    "rejection_of_unconditional",
                                    "Art. 15",
                                    &case_id,
                                    &provider,
                                    vec![step.index],
                                );
                            }
                        }
                    }
                }
            }
            Body::Delivery(_) => {
                let (code, before) = match (
                    case.approval,
                    case.rejection,
                    case.suspension,
                    case.termination,
                ) {
                    (_, _, _, Some(t)) => (Some("delivery_after_termination"), Some(t)),
                    (_, _, Some(s), _) => (Some("delivery_after_suspension"), Some(s)),
                    (_, Some(r), _, _) => (Some("delivery_after_rejection"), Some(r)),
                    (None, None, _, _) => (Some("delivery_without_approval"), None),
                    _ => (None, None),
                };
                if let Some(code) = code {
                    let mut entries: Vec<u64> = before.map(|b| b.index).into_iter().collect();
                    entries.push(step.index);
                    let article = if code == "delivery_without_approval" {
                        "Art. 22"
                    } else {
                        "Art. 27"
                    };
                    self.add(code, article, &case_id, &provider, entries);
                }
                if case.first_delivery.is_none() {
                    if let Some(approval) = case.approval {
                        let due = self
                            .calendar
                            .due_day(approval.time, self.deadline("delivery"));
                        self.check_on_time(
                            "delivery_late",
                            "Art. 22",
                            &case_id,
                            &provider,
                            approval,
                            due,
                            step,
                        );
                    }
                    case.first_delivery = Some(step);
                }
            }
            Body::CorrectionRequest(r) => {
                case.corrections
                    .entry(r.request.clone())
                    .or_insert((step, None));
            }
            Body::CorrectionResult(r) => {
                if let Some((request, result)) = case.corrections.get(&r.request).copied() {
                    if result.is_none() {
                        let due = self
                            .calendar
                            .due_day(request.time, self.deadline("correction_result"));
                        self.check_on_time(
                            "correction_late",
                            "Art. 26",
                            &case_id,
                            &provider,
                            request,
                            due,
                            step,
                        );
                        case.corrections
                            .insert(r.request.clone(), (request, Some(step)));
                    }
                }
            }
            Body::UsageRecord(_) => {
                if let Some(t) = case.termination {
                    self.add(
                        "usage_after_termination",
                        "Art. 27",
                        &case_id,
                        &requester,
                        vec![t.index, step.index],
                    );
                }
                if let Some(day) = case.use_until {
                    if cst_day_start(day + 1).is_some_and(|end| step.time >= end) {
                        self.add(
                            "usage_after_use_until",
                            "Art. 20",
                            &case_id,
                            &requester,
                            vec![case.period_start.index, step.index],
                        );
                    }
                }
                case.last_usage = Some(step);
            }
            Body::Disposal(_) => {
                case.disposal.get_or_insert(step);
            }
            Body::Suspension(_) => {
                case.suspension.get_or_insert(step);
            }
            Body::Termination(_) => {
                case.termination.get_or_insert(step);
            }
            _ => {}
        }
        self.cases.insert(case_id, case);
    }

    /// Steps still missing at `as_of`.
    fn open_findings(&mut self, as_of: u64) {
        let cases: Vec<(Id, CaseClock)> = self
            .cases
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (id, case) in cases {
            let stopped = case.termination.is_some() || case.suspension.is_some();
            if case.reply.is_none() && !case.awaiting_supplement && !stopped {
                let due = self.reply_due(&case);
                if as_of >= end_of(due) {
                    let f = self.add(
                        "reply_missing",
                        "Art. 21",
                        &id,
                        &case.provider,
                        vec![case.period_start.index],
                    );
                    f.due = Some(due);
                    f.open = true;
                }
            }
            if let (Some(approval), None, false) = (case.approval, case.first_delivery, stopped) {
                let due = self
                    .calendar
                    .due_day(approval.time, self.deadline("delivery"));
                if as_of >= end_of(due) {
                    let f = self.add(
                        "delivery_missing",
                        "Art. 22",
                        &id,
                        &case.provider,
                        vec![approval.index],
                    );
                    f.due = Some(due);
                    f.open = true;
                }
            }
            for (request, result) in case.corrections.values() {
                if result.is_none() {
                    let due = self
                        .calendar
                        .due_day(request.time, self.deadline("correction_result"));
                    if as_of >= end_of(due) {
                        let f = self.add(
                            "correction_missing",
                            "Art. 26",
                            &id,
                            &case.provider,
                            vec![request.index],
                        );
                        f.due = Some(due);
                        f.open = true;
                    }
                }
            }
            if let (Some(approval), None, Some(day)) =
                (case.approval, case.disposal, case.use_until)
            {
                if cst_day_start(day + 1).is_some_and(|end| as_of >= end) {
                    let f = self.add(
                        "disposal_missing",
                        "Art. 27",
                        &id,
                        &case.requester,
                        vec![approval.index],
                    );
                    f.due = Some(DueDay {
                        day,
                        provisional: false,
                    });
                    f.open = true;
                }
            }
            if let (Some(delivery), None, false) = (case.first_delivery, case.disposal, stopped) {
                let last = case.last_usage.unwrap_or(delivery);
                let interval = u64::from(self.settings.usage_record_interval_days) * 86_400_000;
                if as_of >= last.time.saturating_add(interval) {
                    let f = self.add(
                        "usage_record_missing",
                        "Art. 29",
                        &id,
                        &case.requester,
                        vec![last.index],
                    );
                    f.due = Some(DueDay {
                        day: cst_day(last.time.saturating_add(interval)),
                        provisional: false,
                    });
                    f.open = true;
                }
            }
        }
    }
}
