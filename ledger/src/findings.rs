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
use crate::lifecycle::SubjectKind;
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

/// What a finding is about: a sharing case, or one of the other matters
/// with a clock (a catalog change, a dispute, a return-flow request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub kind: SubjectKind,
    pub id: Id,
}

impl About {
    pub fn case(id: &Id) -> About {
        About {
            kind: SubjectKind::Case,
            id: id.clone(),
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
    pub about: About,
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
    /// The case it is about, if it is about a case.
    pub fn case(&self) -> Option<&Id> {
        (self.about.kind == SubjectKind::Case).then_some(&self.about.id)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "article": self.article,
            "case": self.case().map(Id::as_str),
            "about": {"kind": self.about.kind.name(), "id": self.about.id.as_str()},
            "departments": self.departments.iter().map(Id::as_str).collect::<Vec<_>>(),
            "due": self.due.map(|d| d.date()),
            "provisional": self.due.map(|d| d.provisional),
            "actual": self.actual.map(ymd),
            "entries": self.entries,
            "open": self.open,
        })
    }
}

/// Whether an entry of this kind is a reply to an application (Art. 21):
/// an approval, a rejection or a materials-incomplete notice.
pub fn is_reply(body: &Body) -> bool {
    matches!(
        body,
        Body::Approval(_) | Body::Rejection(_) | Body::MaterialsIncomplete(_)
    )
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

/// Most working days extensions add to a reply period, in all (Art. 21).
pub const MAX_EXTENSION: u32 = 10;

/// A catalog entry: what an application to its item is judged by.
#[derive(Debug, Clone)]
struct CatalogItem {
    index: u64,
    share_attribute: ShareAttribute,
    conditions: Vec<String>,
}

/// The clock of one case.
#[derive(Debug, Clone)]
struct CaseClock {
    requester: Id,
    provider: Id,
    application: Step,
    /// The item's catalog entry when the case opened, if the entries hold
    /// it (a set of receipts may not): without it, nothing that depends
    /// on the catalog (the reply deadline, conditions) is judged.
    catalog: Option<CatalogItem>,
    /// The last day of permitted use (使用时限).
    use_until: Option<i64>,
    /// When the reply period started: the application, or the supplement
    /// after the materials-incomplete notice.
    period_start: Step,
    /// Working days added to the period by extensions, at most
    /// [`MAX_EXTENSION`].
    extension: u32,
    /// The materials-incomplete notice stopped the clock until a supplement.
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

impl CaseClock {
    /// The first suspension or termination: it stops the case's clocks.
    fn stop(&self) -> Option<Step> {
        match (self.suspension, self.termination) {
            (Some(a), Some(b)) => Some(if a.index < b.index { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Where the usage clock runs from: the last usage record, else the
    /// first delivery.
    fn usage_anchor(&self) -> Option<Step> {
        self.last_usage.or(self.first_delivery)
    }
}

/// Computes the findings of the log's `entries` (in index order) as of the
/// instant `as_of` (ms), with `calendar` and `settings`. Entries notarised
/// at or after `as_of` are not looked at: the findings are those that
/// could be known at that instant.
pub fn findings<'a>(
    entries: impl IntoIterator<Item = LoggedStatement<'a>>,
    calendar: &Calendar,
    settings: &Settings,
    as_of: u64,
) -> Vec<Finding> {
    FindingsStream {
        replay: Replay::of(entries, calendar, settings, as_of),
        as_of,
    }
    .finish()
}

/// The same findings as [`findings`], over entries given one at a time:
/// a whole log is replayed without holding its statements (the full audit,
/// specs/package.md). Only each case's and matter's clock is kept.
pub struct FindingsStream<'c> {
    replay: Replay<'c>,
    as_of: u64,
}

impl<'c> FindingsStream<'c> {
    pub fn new(calendar: &'c Calendar, settings: &'c Settings, as_of: u64) -> FindingsStream<'c> {
        FindingsStream {
            replay: Replay::of([], calendar, settings, as_of),
            as_of,
        }
    }

    /// The next entry of the log, in index order.
    pub fn push(&mut self, entry: LoggedStatement) {
        if entry.time < self.as_of {
            self.replay.apply(entry);
        }
    }

    /// The findings made so far and not yet taken, in the order found:
    /// taking them as the log goes keeps memory from growing with them.
    pub fn take(&mut self) -> std::vec::Drain<'_, Finding> {
        self.replay.found.drain(..)
    }

    /// The findings left once every entry is in: the steps still missing
    /// as of the instant given, and any not yet taken, in the order found.
    pub fn close(mut self) -> Vec<Finding> {
        self.replay.open_findings(self.as_of);
        self.replay.found
    }

    /// The findings, as [`findings`] sorts them.
    pub fn finish(mut self) -> Vec<Finding> {
        self.replay.open_findings(self.as_of);
        self.replay
            .found
            .sort_by_key(|f| (f.entries.last().copied(), f.code));
        self.replay.found
    }
}

/// A step of a case still due as of the instant asked about, and by when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// `reply`, `delivery`, `correction_result`, `usage_record` or `disposal`.
    pub step: &'static str,
    pub article: &'static str,
    pub case: Id,
    /// The department the step is due from.
    pub due_from: Id,
    pub due: DueDay,
    /// The entry its period runs from.
    pub since: u64,
}

impl Deadline {
    pub fn to_json(&self) -> Value {
        json!({
            "step": self.step,
            "article": self.article,
            "case": self.case.as_str(),
            "due_from": self.due_from.as_str(),
            "due": self.due.date(),
            "provisional": self.due.provisional,
            "since": self.since,
        })
    }
}

/// The steps of each case still due as of `as_of`, by the same clocks as
/// [`findings`]: a supervisor sees what is coming, not only what is late.
/// A step whose due day has passed is listed too (its finding says it is
/// late).
pub fn deadlines<'a>(
    entries: impl IntoIterator<Item = LoggedStatement<'a>>,
    calendar: &Calendar,
    settings: &Settings,
    as_of: u64,
) -> Vec<Deadline> {
    let replay = Replay::of(entries, calendar, settings, as_of);
    let mut out = Vec::new();
    for (id, case) in &replay.cases {
        // A stop ends the reply, delivery and usage clocks, not the
        // corrections asked for nor the disposal (§The clock of a case).
        let stopped = case.stop().is_some();
        let mut due = |step, article, due_from: &Id, due, since: Step| {
            out.push(Deadline {
                step,
                article,
                case: id.clone(),
                due_from: due_from.clone(),
                due,
                since: since.index,
            })
        };
        if let (None, false, Some(d), false) = (
            case.reply,
            case.awaiting_supplement,
            replay.reply_due(case),
            stopped,
        ) {
            due("reply", "Art. 21", &case.provider, d, case.period_start);
        }
        if let (Some(approval), None, false) = (case.approval, case.first_delivery, stopped) {
            let d = replay.due_after(approval, "delivery");
            due("delivery", "Art. 22", &case.provider, d, approval);
        }
        for (request, result) in case.corrections.values() {
            if result.is_none() {
                let d = replay.due_after(*request, "correction_result");
                due("correction_result", "Art. 26", &case.provider, d, *request);
            }
        }
        if let (Some(anchor), None) = (case.usage_anchor(), case.disposal) {
            let day = replay.usage_due(anchor);
            match case.use_until {
                Some(until) if until < day || stopped => {
                    let d = DueDay {
                        day: until,
                        provisional: false,
                    };
                    due("disposal", "Art. 27", &case.requester, d, anchor);
                }
                _ if stopped => {}
                _ => {
                    let d = DueDay {
                        day,
                        provisional: false,
                    };
                    due("usage_record", "Art. 29", &case.requester, d, anchor);
                }
            }
        }
    }
    out.sort_by_key(|d| (d.due.day, d.since));
    out
}

impl<'c> Replay<'c> {
    /// The log's `entries` replayed up to `as_of`.
    fn of<'a>(
        entries: impl IntoIterator<Item = LoggedStatement<'a>>,
        calendar: &'c Calendar,
        settings: &'c Settings,
        as_of: u64,
    ) -> Replay<'c> {
        let mut replay = Replay {
            calendar,
            settings,
            catalog: BTreeMap::new(),
            cases: BTreeMap::new(),
            changes: BTreeMap::new(),
            disputes: BTreeMap::new(),
            requests: BTreeMap::new(),
            found: Vec::new(),
        };
        for e in entries {
            if e.time < as_of {
                replay.apply(e);
            }
        }
        replay
    }
}

struct Replay<'c> {
    calendar: &'c Calendar,
    settings: &'c Settings,
    catalog: BTreeMap<Id, CatalogItem>,
    cases: BTreeMap<Id, CaseClock>,
    changes: BTreeMap<Id, ChangeClock>,
    disputes: BTreeMap<Id, DisputeClock>,
    requests: BTreeMap<Id, RequestClock>,
    found: Vec<Finding>,
}

/// Most working days extensions add to a catalog update, in all (Art. 17).
pub const MAX_CATALOG_EXTENSION: u32 = 5;

/// The clock of a catalog change (Art. 17): the provider updates its
/// catalog, then the supervisor publishes.
#[derive(Debug, Clone)]
struct ChangeClock {
    notice: Step,
    provider: Id,
    supervisor: Id,
    extension: u32,
    update: Option<Step>,
    publication: Option<Step>,
}

/// The clock of a dispute (Art. 28): the supervisor it is with handles it
/// (settles it, or passes it up, which starts the next one's clock).
#[derive(Debug, Clone)]
struct DisputeClock {
    handler: Id,
    since: Step,
    resolved: bool,
}

/// The clock of a return-flow request (Art. 24).
#[derive(Debug, Clone)]
struct RequestClock {
    to: Id,
    requested: Step,
    answered: bool,
}

/// The end of a due day: 24:00 CST.
fn end_of(due: DueDay) -> u64 {
    due.end_ms().unwrap_or(u64::MAX)
}

/// The end of a day: 24:00 CST.
fn end_of_day(day: i64) -> u64 {
    cst_day_start(day + 1).unwrap_or(u64::MAX)
}

impl Replay<'_> {
    fn deadline(&self, name: &str) -> u32 {
        self.calendar.deadline(name).unwrap_or(1)
    }

    /// The due day of the deadline `name` counted from the step `start`.
    fn due_after(&self, start: Step, name: &str) -> DueDay {
        self.calendar.due_day(start.time, self.deadline(name))
    }

    /// The due day of the reply period of `case`, if its catalog entry is
    /// known.
    fn reply_due(&self, case: &CaseClock) -> Option<DueDay> {
        let item = case.catalog.as_ref()?;
        let base = if item.share_attribute == ShareAttribute::Unconditional {
            self.deadline("reply_unconditional")
        } else {
            self.deadline("reply_conditional")
        };
        Some(
            self.calendar
                .due_day(case.period_start.time, base + case.extension),
        )
    }

    /// The day a usage record is due after `anchor`.
    fn usage_due(&self, anchor: Step) -> i64 {
        cst_day(anchor.time) + i64::from(self.settings.usage_record_interval_days.max(1))
    }

    fn add(
        &mut self,
        code: &'static str,
        article: &'static str,
        case: &Id,
        against: &Id,
        entries: Vec<u64>,
    ) -> &mut Finding {
        self.add_about(code, article, About::case(case), against, entries)
    }

    fn add_about(
        &mut self,
        code: &'static str,
        article: &'static str,
        about: About,
        against: &Id,
        entries: Vec<u64>,
    ) -> &mut Finding {
        self.found.push(Finding {
            code,
            article,
            about,
            departments: vec![against.clone()],
            due: None,
            actual: None,
            entries,
            open: false,
        });
        self.found.last_mut().expect("just pushed")
    }

    /// The reply (or materials notice) at `step`, against the reply period.
    fn check_reply_on_time(&mut self, id: &Id, case: &CaseClock, step: Step) {
        if let Some(due) = self.reply_due(case) {
            self.check_on_time(
                "reply_late",
                "Art. 21",
                About::case(id),
                &case.provider,
                case.period_start,
                due,
                step,
            );
        }
    }

    /// A reply after the case's approval or rejection at `first`.
    fn second_reply(&mut self, id: &Id, case: &CaseClock, first: Step, step: Step) {
        self.add(
            "second_reply",
            "Art. 21",
            id,
            &case.provider,
            vec![first.index, step.index],
        );
    }

    /// A step that had to happen by `due`, and happened at `step`.
    #[allow(clippy::too_many_arguments)]
    fn check_on_time(
        &mut self,
        code: &'static str,
        article: &'static str,
        about: About,
        against: &Id,
        start: Step,
        due: DueDay,
        step: Step,
    ) {
        if step.time >= end_of(due) {
            let f = self.add_about(code, article, about, against, vec![start.index, step.index]);
            f.due = Some(due);
            f.actual = Some(cst_day(step.time));
        }
    }

    /// A step due by `due` that has not happened: open if the case goes on,
    /// closed (citing the stop) if it was suspended or terminated after the
    /// due day had passed, nothing if it was stopped in time.
    #[allow(clippy::too_many_arguments)]
    fn missing(
        &mut self,
        code: &'static str,
        article: &'static str,
        about: About,
        against: &Id,
        start: Step,
        due: DueDay,
        stop: Option<Step>,
        as_of: u64,
    ) {
        if as_of < end_of(due) {
            return;
        }
        match stop {
            Some(stop) if stop.time < end_of(due) => {}
            Some(stop) => {
                let f =
                    self.add_about(code, article, about, against, vec![start.index, stop.index]);
                f.due = Some(due);
            }
            None => {
                let f = self.add_about(code, article, about, against, vec![start.index]);
                f.due = Some(due);
                f.open = true;
            }
        }
    }

    fn apply(&mut self, e: LoggedStatement) {
        let step = Step {
            index: e.index,
            time: e.time,
        };
        let signer = &e.statement.signer.department;
        if self.matter_step(e.statement, signer, step) {
            return;
        }
        if let Body::CatalogEntry(c) = &e.statement.body {
            let item = CatalogItem {
                index: e.index,
                share_attribute: c.share_attribute,
                conditions: c
                    .conditions
                    .iter()
                    .flat_map(|l| l.texts().map(str::to_owned))
                    .collect(),
            };
            self.catalog.insert(c.item.clone(), item);
            return;
        }
        if let Body::Application(a) = &e.statement.body {
            let use_until =
                parse_ymd(a.use_until.as_str()).map(|(y, m, d)| days_from_civil(y, m, d));
            let clock = CaseClock {
                requester: signer.clone(),
                provider: a.provider.clone(),
                application: step,
                catalog: self.catalog.get(&a.item).cloned(),
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
            };
            self.cases.entry(a.case.clone()).or_insert(clock);
            return;
        }
        let Some(case_id) = crate::lifecycle::case_of(&e.statement.body).cloned() else {
            return;
        };
        // Taken out and put back: no copy of the clock per entry.
        let Some(mut case) = self.cases.remove(&case_id) else {
            return; // the notary refuses steps of unknown cases
        };
        self.step(&case_id, &mut case, e.statement, signer, step);
        self.cases.insert(case_id, case);
    }

    fn step(
        &mut self,
        id: &Id,
        case: &mut CaseClock,
        statement: &Statement,
        signer: &Id,
        step: Step,
    ) {
        let provider = case.provider.clone();
        let requester = case.requester.clone();
        match &statement.body {
            Body::MaterialsIncomplete(_) => {
                if let Some(first) = case.reply {
                    self.second_reply(id, case, first, step);
                } else if let Some(first) = case.materials_notice {
                    // One notice listing everything missing (Art. 21); a
                    // second one does not stop the clock again.
                    self.add(
                        "second_materials_notice",
                        "Art. 21",
                        id,
                        &provider,
                        vec![first.index, step.index],
                    );
                } else {
                    self.check_reply_on_time(id, case, step);
                    case.materials_notice = Some(step);
                    case.awaiting_supplement = true;
                }
            }
            // The supplement starts a new reply period, with no extension.
            Body::MaterialsSupplement(_) if case.awaiting_supplement => {
                case.awaiting_supplement = false;
                case.period_start = step;
                case.extension = 0;
            }
            // An extension counts only if it was approved while the reply
            // was still due: a late one is a finding, and excuses nothing.
            Body::ReplyExtension(x) if case.reply.is_none() && !case.awaiting_supplement => {
                let due = self.reply_due(case);
                if let Some(due) = due.filter(|d| step.time >= end_of(*d)) {
                    let f = self.add(
                        "extension_after_deadline",
                        "Art. 21",
                        id,
                        signer,
                        vec![case.period_start.index, step.index],
                    );
                    f.due = Some(due);
                    f.actual = Some(cst_day(step.time));
                } else {
                    let unconditional = case
                        .catalog
                        .as_ref()
                        .is_some_and(|c| c.share_attribute == ShareAttribute::Unconditional);
                    if !unconditional || self.settings.extension_for_unconditional {
                        let days = u32::try_from(x.working_days).unwrap_or(MAX_EXTENSION);
                        case.extension =
                            (case.extension + days.min(MAX_EXTENSION)).min(MAX_EXTENSION);
                    }
                }
            }
            Body::Approval(_) | Body::Rejection(_) => {
                if let Some(first) = case.reply {
                    self.second_reply(id, case, first, step);
                    return;
                }
                if !case.awaiting_supplement {
                    self.check_reply_on_time(id, case, step);
                }
                case.reply = Some(step);
                let catalog = case.catalog.clone();
                match &statement.body {
                    Body::Approval(a) => {
                        case.approval = Some(step);
                        if let Some(item) = catalog {
                            let invented = a
                                .conditions
                                .iter()
                                .flat_map(|l| l.texts())
                                .any(|c| !item.conditions.iter().any(|listed| listed == c));
                            if invented {
                                self.add(
                                    "conditions_not_in_catalog",
                                    "Art. 15",
                                    id,
                                    &provider,
                                    vec![item.index, case.application.index, step.index],
                                );
                            }
                        }
                    }
                    _ => {
                        case.rejection = Some(step);
                        if let Some(item) =
                            catalog.filter(|c| c.share_attribute == ShareAttribute::Unconditional)
                        {
                            self.add(
                                "rejection_of_unconditional",
                                "Art. 15",
                                id,
                                &provider,
                                vec![item.index, step.index],
                            );
                        }
                    }
                }
            }
            Body::Delivery(_) => {
                let order = match (
                    case.approval,
                    case.rejection,
                    case.suspension,
                    case.termination,
                ) {
                    (_, _, _, Some(t)) => Some(("delivery_after_termination", "Art. 27", Some(t))),
                    (_, _, Some(s), _) => Some(("delivery_after_suspension", "Art. 27", Some(s))),
                    (_, Some(r), _, _) => Some(("delivery_after_rejection", "Art. 27", Some(r))),
                    (None, None, _, _) => Some(("delivery_without_approval", "Art. 22", None)),
                    _ => None,
                };
                if let Some((code, article, before)) = order {
                    let mut entries: Vec<u64> = before.map(|b| b.index).into_iter().collect();
                    entries.push(step.index);
                    self.add(code, article, id, &provider, entries);
                }
                if case.first_delivery.is_none() {
                    if let Some(approval) = case.approval {
                        let due = self.due_after(approval, "delivery");
                        self.check_on_time(
                            "delivery_late",
                            "Art. 22",
                            About::case(id),
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
                if let Some((request, None)) = case.corrections.get(&r.request).copied() {
                    let due = self.due_after(request, "correction_result");
                    self.check_on_time(
                        "correction_late",
                        "Art. 26",
                        About::case(id),
                        &provider,
                        request,
                        due,
                        step,
                    );
                    case.corrections
                        .insert(r.request.clone(), (request, Some(step)));
                }
            }
            Body::UsageRecord(_) => {
                if let Some(t) = case.termination {
                    self.add(
                        "usage_after_termination",
                        "Art. 27",
                        id,
                        &requester,
                        vec![t.index, step.index],
                    );
                }
                let after_use = case
                    .use_until
                    .is_some_and(|day| step.time >= end_of_day(day));
                if after_use {
                    self.add(
                        "usage_after_use_until",
                        "Art. 20",
                        id,
                        &requester,
                        vec![case.application.index, step.index],
                    );
                }
                self.check_usage_interval(id, case, &requester, step);
                case.last_usage = Some(step);
            }
            Body::Disposal(_) => {
                self.check_usage_interval(id, case, &requester, step);
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
    }

    /// A usage record (or the disposal) that came after the interval since
    /// the last one, while the data was in use: `usage_record_late`.
    fn check_usage_interval(&mut self, id: &Id, case: &CaseClock, requester: &Id, step: Step) {
        let Some(anchor) = case.usage_anchor() else {
            return;
        };
        if case.disposal.is_some() || case.stop().is_some() {
            return;
        }
        let due = self.usage_due(anchor);
        // Past the time limit of use, the disposal is what is due.
        let in_use = case.use_until.is_none_or(|day| due <= day);
        if in_use && step.time >= end_of_day(due) {
            let f = self.add(
                "usage_record_late",
                "Art. 29",
                id,
                requester,
                vec![anchor.index, step.index],
            );
            f.due = Some(DueDay {
                day: due,
                provisional: false,
            });
            f.actual = Some(cst_day(step.time));
        }
    }

    fn change_due(&self, change: &ChangeClock) -> DueDay {
        self.calendar.due_day(
            change.notice.time,
            self.deadline("catalog_update") + change.extension,
        )
    }

    /// The steps of catalog changes, disputes and return flows; true if
    /// the entry was one (a catalog entry answering a change goes on to
    /// the catalog too).
    fn matter_step(&mut self, statement: &Statement, signer: &Id, step: Step) -> bool {
        match &statement.body {
            Body::CatalogChangeNotice(n) => {
                self.changes.entry(n.change.clone()).or_insert(ChangeClock {
                    notice: step,
                    provider: n.provider.clone(),
                    supervisor: signer.clone(),
                    extension: 0,
                    update: None,
                    publication: None,
                });
            }
            Body::CatalogUpdateExtension(x) => {
                let Some(mut change) = self.changes.remove(&x.change) else {
                    return true;
                };
                if change.update.is_none() {
                    let due = self.change_due(&change);
                    let about = About {
                        kind: SubjectKind::CatalogChange,
                        id: x.change.clone(),
                    };
                    if step.time >= end_of(due) {
                        let f = self.add_about(
                            "catalog_extension_after_deadline",
                            "Art. 17",
                            about,
                            signer,
                            vec![change.notice.index, step.index],
                        );
                        f.due = Some(due);
                        f.actual = Some(cst_day(step.time));
                    } else {
                        let days = u32::try_from(x.working_days).unwrap_or(MAX_CATALOG_EXTENSION);
                        change.extension = (change.extension + days).min(MAX_CATALOG_EXTENSION);
                    }
                }
                self.changes.insert(x.change.clone(), change);
            }
            Body::CatalogEntry(c) => {
                let Some(id) = &c.change else {
                    return false;
                };
                if let Some(change) = self.changes.get(id).cloned() {
                    if change.update.is_none() {
                        let due = self.change_due(&change);
                        let about = About {
                            kind: SubjectKind::CatalogChange,
                            id: id.clone(),
                        };
                        self.check_on_time(
                            "catalog_update_late",
                            "Art. 17",
                            about,
                            &change.provider,
                            change.notice,
                            due,
                            step,
                        );
                        if let Some(c) = self.changes.get_mut(id) {
                            c.update = Some(step);
                        }
                    }
                }
                return false;
            }
            Body::CatalogPublication(p) => {
                if let Some(change) = self.changes.get(&p.change).cloned() {
                    if let (Some(update), None) = (change.update, change.publication) {
                        let due = self.due_after(update, "catalog_publication");
                        let about = About {
                            kind: SubjectKind::CatalogChange,
                            id: p.change.clone(),
                        };
                        self.check_on_time(
                            "catalog_publication_late",
                            "Art. 17",
                            about,
                            &change.supervisor,
                            update,
                            due,
                            step,
                        );
                    }
                    // A publication before the update publishes nothing of it.
                    if let Some(c) = self
                        .changes
                        .get_mut(&p.change)
                        .filter(|c| c.update.is_some())
                    {
                        c.publication.get_or_insert(step);
                    }
                }
            }
            Body::Dispute(d) => {
                self.disputes
                    .entry(d.dispute.clone())
                    .or_insert(DisputeClock {
                        handler: d.supervisor.clone(),
                        since: step,
                        resolved: false,
                    });
            }
            Body::DisputeEscalation(x) => self.dispute_handled(&x.dispute, step, Some(&x.to)),
            Body::DisputeResolution(r) => self.dispute_handled(&r.dispute, step, None),
            Body::ReturnFlowRequest(r) => {
                self.requests
                    .entry(r.request.clone())
                    .or_insert(RequestClock {
                        to: r.to.clone(),
                        requested: step,
                        answered: false,
                    });
            }
            Body::ReturnFlow(f) => {
                if let Some(request) = self.requests.get(&f.request).cloned() {
                    if !request.answered {
                        let due = self.due_after(request.requested, "return_flow");
                        let about = About {
                            kind: SubjectKind::ReturnFlowRequest,
                            id: f.request.clone(),
                        };
                        self.check_on_time(
                            "return_flow_late",
                            "Art. 24",
                            about,
                            &request.to,
                            request.requested,
                            due,
                            step,
                        );
                    }
                    if let Some(r) = self.requests.get_mut(&f.request) {
                        r.answered = true;
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// A dispute handled at `step`: settled, or passed up to `to`, whose
    /// own clock starts then.
    fn dispute_handled(&mut self, id: &Id, step: Step, to: Option<&Id>) {
        let Some(dispute) = self.disputes.get(id).cloned() else {
            return;
        };
        if dispute.resolved {
            return;
        }
        let due = self.due_after(dispute.since, "dispute_handling");
        let about = About {
            kind: SubjectKind::Dispute,
            id: id.clone(),
        };
        self.check_on_time(
            "dispute_handled_late",
            "Art. 28",
            about,
            &dispute.handler,
            dispute.since,
            due,
            step,
        );
        let d = self.disputes.get_mut(id).expect("present above");
        match to {
            Some(to) => {
                d.handler = to.clone();
                d.since = step;
            }
            None => d.resolved = true,
        }
    }

    /// Catalog updates, publications, disputes and return flows still
    /// missing at `as_of`.
    fn open_matters(&mut self, as_of: u64) {
        for (id, change) in std::mem::take(&mut self.changes) {
            let about = About {
                kind: SubjectKind::CatalogChange,
                id: id.clone(),
            };
            match (change.update, change.publication) {
                (None, _) => {
                    let due = self.change_due(&change);
                    self.missing(
                        "catalog_update_missing",
                        "Art. 17",
                        about,
                        &change.provider,
                        change.notice,
                        due,
                        None,
                        as_of,
                    );
                }
                (Some(update), None) => {
                    let due = self.due_after(update, "catalog_publication");
                    self.missing(
                        "catalog_publication_missing",
                        "Art. 17",
                        about,
                        &change.supervisor,
                        update,
                        due,
                        None,
                        as_of,
                    );
                }
                _ => {}
            }
        }
        for (id, dispute) in std::mem::take(&mut self.disputes) {
            if !dispute.resolved {
                let due = self.due_after(dispute.since, "dispute_handling");
                let about = About {
                    kind: SubjectKind::Dispute,
                    id,
                };
                self.missing(
                    "dispute_unhandled",
                    "Art. 28",
                    about,
                    &dispute.handler,
                    dispute.since,
                    due,
                    None,
                    as_of,
                );
            }
        }
        for (id, request) in std::mem::take(&mut self.requests) {
            if !request.answered {
                let due = self.due_after(request.requested, "return_flow");
                let about = About {
                    kind: SubjectKind::ReturnFlowRequest,
                    id,
                };
                self.missing(
                    "return_flow_missing",
                    "Art. 24",
                    about,
                    &request.to,
                    request.requested,
                    due,
                    None,
                    as_of,
                );
            }
        }
    }

    /// Steps still missing at `as_of`.
    fn open_findings(&mut self, as_of: u64) {
        self.open_matters(as_of);
        let cases = std::mem::take(&mut self.cases);
        for (id, case) in &cases {
            let stop = case.stop();
            if let (None, false, Some(due)) =
                (case.reply, case.awaiting_supplement, self.reply_due(case))
            {
                self.missing(
                    "reply_missing",
                    "Art. 21",
                    About::case(id),
                    &case.provider,
                    case.period_start,
                    due,
                    stop,
                    as_of,
                );
            }
            if let (Some(approval), None) = (case.approval, case.first_delivery) {
                let due = self.due_after(approval, "delivery");
                self.missing(
                    "delivery_missing",
                    "Art. 22",
                    About::case(id),
                    &case.provider,
                    approval,
                    due,
                    stop,
                    as_of,
                );
            }
            for (request, result) in case.corrections.values() {
                if result.is_none() {
                    let due = self.due_after(*request, "correction_result");
                    self.missing(
                        "correction_missing",
                        "Art. 26",
                        About::case(id),
                        &case.provider,
                        *request,
                        due,
                        None,
                        as_of,
                    );
                }
            }
            if let (Some(_), None, Some(day)) = (case.first_delivery, case.disposal, case.use_until)
            {
                if as_of >= end_of_day(day) {
                    let f = self.add(
                        "disposal_missing",
                        "Art. 27",
                        id,
                        &case.requester,
                        vec![case.application.index],
                    );
                    f.due = Some(DueDay {
                        day,
                        provisional: false,
                    });
                    f.open = true;
                }
            }
            if let (Some(anchor), None) = (case.usage_anchor(), case.disposal) {
                let due = self.usage_due(anchor);
                let in_use = case.use_until.is_none_or(|day| due <= day);
                if in_use {
                    let due = DueDay {
                        day: due,
                        provisional: false,
                    };
                    self.missing(
                        "usage_record_missing",
                        "Art. 29",
                        About::case(id),
                        &case.requester,
                        anchor,
                        due,
                        stop,
                        as_of,
                    );
                }
            }
        }
        self.cases = cases;
    }
}
