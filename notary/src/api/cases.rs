//! Queries of the regulation's cases (specs/api.md §Queries): a case's
//! timeline with proofs, deadlines and findings; findings by department;
//! each department's figures. All are signed reads (specs/reads.md), and
//! each answers only about the cases the reader may read.
//!
//! Findings are computed on demand from the case's entries (the `cases`
//! index of the store finds them) by the ledger's pure function, with the
//! notary's calendar and settings: an offline verifier computes the same
//! from the same entries.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger::attestation::{Body, Id, Statement};
use ledger::findings::{deadlines, findings, Deadline, Finding, LoggedStatement};
use ledger::lifecycle::SubjectKind;
use ledger::reads::Reader;
use ledger::registry::CaseRecord;
use ledger::time::{cst, days_from_civil, parse_ymd, ymd};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

use super::app::{private, stored_entry, AppState};
use super::error::ApiError;
use super::reader::{not_permitted, ReadBy};

/// Most subjects (cases, catalog changes, disputes, return-flow requests)
/// of a department one findings or figures query looks at; beyond, the
/// answer says it was truncated.
const MAX_SUBJECTS: usize = 10_000;

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_query", message)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| bad_query(e.body_text()))
}

fn id(s: &str, what: &str) -> Result<Id, ApiError> {
    Id::try_from(s.to_owned()).map_err(|_| bad_query(format!("{what} {s:?} is not an identifier")))
}

/// The as-of instant: `as_of` (RFC 3339) or the notary's clock.
fn as_of(state: &AppState, given: Option<&str>) -> Result<u64, ApiError> {
    match given {
        None => Ok(state.time.wall_ms()),
        Some(t) => ledger::time::parse_rfc3339(t).map_err(|e| bad_query(format!("as_of: {e}"))),
    }
}

/// One entry of a case, parsed.
struct CaseEntry {
    index: u64,
    time: u64,
    statement: Statement,
    /// The statement's bytes, as signed.
    raw: Vec<u8>,
}

/// A subject's entries (for a case, with the item's catalog entry it was
/// opened under, which the findings judge the reply by).
struct SubjectView {
    entries: Vec<CaseEntry>,
    /// For a case: the catalog entry its application relied on.
    catalog: Option<CaseEntry>,
}

impl SubjectView {
    fn load(state: &AppState, kind: SubjectKind, id: &Id) -> Result<SubjectView, ApiError> {
        let size = state.latest().size;
        let mut entries = Vec::new();
        for index in state.store.subject_entries(kind, id)? {
            if index < size {
                entries.push(read_entry(state, index)?);
            }
        }
        // The application cites the item's catalog entry (lifecycle.md
        // §Evidence): the one among its evidence that is a catalog entry.
        let mut catalog = None;
        if let Some(application) = entries.first().filter(|_| kind == SubjectKind::Case) {
            for i in state.store.evidence(application.index)? {
                let e = read_entry(state, i)?;
                if matches!(e.statement.body, Body::CatalogEntry(_)) {
                    catalog = Some(e);
                }
            }
        }
        Ok(SubjectView { entries, catalog })
    }

    fn logged(&self) -> impl Iterator<Item = LoggedStatement<'_>> {
        self.catalog
            .iter()
            .chain(&self.entries)
            .map(|e| LoggedStatement {
                index: e.index,
                time: e.time,
                statement: &e.statement,
            })
    }

    fn findings(&self, state: &AppState, as_of: u64) -> Vec<Finding> {
        findings(self.logged(), &state.calendar, &state.settings, as_of)
    }

    fn deadlines(&self, state: &AppState, as_of: u64) -> Vec<Deadline> {
        deadlines(self.logged(), &state.calendar, &state.settings, as_of)
    }
}

fn read_entry(state: &AppState, index: u64) -> Result<CaseEntry, ApiError> {
    let bytes = state.store.entry(index)?.ok_or_else(|| {
        tracing::error!(index, "an indexed entry is missing");
        ApiError::unavailable("store_unavailable", "the store could not be read")
    })?;
    let (entry, statement) = stored_entry(index, &bytes)?;
    Ok(CaseEntry {
        index,
        time: entry.time,
        statement,
        raw: entry.statement,
    })
}

/// The day a finding is about (the actual day, else the due day), for
/// filtering by time.
fn finding_day(f: &Finding) -> Option<i64> {
    f.actual.or(f.due.map(|d| d.day))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseQuery {
    as_of: Option<String>,
    /// The first entry index of the page (default: the case's first).
    from: Option<u64>,
    /// Entries on the page (default and most: [`MAX_PAGE`]).
    limit: Option<usize>,
}

/// Most entries one page of a case's timeline holds.
const MAX_PAGE: usize = 500;

/// `GET /v1/cases/{case}`: every entry of the case the reader may read,
/// with its notarised time in CST and its inclusion proof in the newest
/// checkpoint, and the case's findings as of now (or `as_of`).
pub(super) async fn case(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<CaseQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(case) = p.map_err(|e| bad_query(e.body_text()))?;
    let case = id(&case, "case")?;
    let q = query(q)?;
    let as_of = as_of(&state, q.as_of.as_deref())?;
    let limit = q.limit.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad_query(format!("limit is 1 to {MAX_PAGE}, not {limit}")));
    }
    let page = (q.from.unwrap_or(0), limit);
    blocking(Weight::Case, move || {
        case_timeline(&state, &reader, &case, as_of, page)
    })
    .await
}

fn case_timeline(
    state: &AppState,
    reader: &Reader,
    case: &Id,
    as_of: u64,
    (from, limit): (u64, usize),
) -> Result<Response, ApiError> {
    let view = state.store.view(&state.roots);
    let record = ledger::registry::RegistryView::get::<CaseRecord>(&view, case)?;
    // An unknown case answers as a case the reader may not read.
    let Some(record) = record else {
        return Err(not_permitted());
    };
    let whole = reader.may_read_case(&view, case, None)?;
    let found = SubjectView::load(state, SubjectKind::Case, case)?;
    let latest = state.latest();
    let mut readable = Vec::new();
    for e in &found.entries {
        // A consented third party reads from its consent on.
        if whole || reader.may_read_entry(&view, &e.statement.body, e.index)? {
            readable.push(e);
        }
    }
    if readable.is_empty() {
        return Err(not_permitted());
    }
    let mut page = readable.iter().filter(|e| e.index >= from);
    let mut entries = Vec::new();
    for e in page.by_ref().take(limit) {
        let proof = ledger::proof::inclusion_proof(state.store.as_ref(), e.index, latest.size)?
            .map_err(|_| not_permitted())?;
        entries.push(json!({
            "index": e.index,
            "kind": e.statement.kind().name(),
            "signer": e.statement.signer.department.as_str(),
            "notarised": cst(e.time),
            "notarised_ms": e.time,
            "statement": serde_json::from_slice::<Value>(&e.raw).unwrap_or_default(),
            "inclusion": proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
        }));
    }
    let next = page.next().map(|e| e.index);
    // Findings are judged on the whole case: only for readers of all of it.
    let case_findings: Option<Vec<Value>> = whole.then(|| {
        found
            .findings(state, as_of)
            .iter()
            .map(Finding::to_json)
            .collect()
    });
    let case_deadlines: Option<Vec<Value>> = whole.then(|| {
        found
            .deadlines(state, as_of)
            .iter()
            .map(Deadline::to_json)
            .collect()
    });
    let body = json!({
        "case": case.as_str(),
        "provider": record.provider.as_str(),
        "requester": record.requester.as_str(),
        "item": record.item.as_str(),
        "as_of": cst(as_of),
        "checkpoint": latest.note,
        "entries": entries,
        "next": next,
        "deadlines": case_deadlines,
        "findings": case_findings,
    });
    Ok(private(json_body(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FindingsQuery {
    department: String,
    code: Option<String>,
    article: Option<String>,
    open: Option<bool>,
    /// First day (CST, `YYYY-MM-DD`) of the findings' day.
    from: Option<String>,
    /// Last day, inclusive.
    to: Option<String>,
    as_of: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Subjects loaded for a query, and whether there were more than
/// [`MAX_SUBJECTS`].
type Subjects = (Vec<(SubjectKind, Id, SubjectView)>, bool);

/// The subjects `department` is a party to that the reader may read
/// whole, loaded.
fn readable_subjects(
    state: &AppState,
    reader: &Reader,
    department: &Id,
) -> Result<Subjects, ApiError> {
    let view = state.store.view(&state.roots);
    let subjects = state.store.department_subjects(department)?;
    let truncated = subjects.len() > MAX_SUBJECTS;
    let mut out = Vec::new();
    for (kind, id, first) in subjects.into_iter().take(MAX_SUBJECTS) {
        let readable = match kind {
            SubjectKind::Case => reader.may_read_case(&view, &id, None)?,
            _ => {
                let opening = read_entry(state, first)?;
                reader.may_read_entry(&view, &opening.statement.body, first)?
            }
        };
        if readable {
            let loaded = SubjectView::load(state, kind, &id)?;
            out.push((kind, id, loaded));
        }
    }
    Ok((out, truncated))
}

/// `GET /v1/findings?department=D[&code][&article][&open][&from][&to][&as_of][&format=csv]`:
/// the findings against `D` in its cases that the reader may read.
pub(super) async fn findings_of(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    q: Result<Query<FindingsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    blocking(Weight::Department, move || {
        findings_report(&state, &reader, q)
    })
    .await
}

fn findings_report(
    state: &AppState,
    reader: &Reader,
    q: FindingsQuery,
) -> Result<Response, ApiError> {
    let department = id(&q.department, "department")?;
    let as_of = as_of(state, q.as_of.as_deref())?;
    let day = |s: &Option<String>, what: &str| {
        s.as_deref()
            .map(|d| {
                parse_ymd(d)
                    .map(|(y, m, d)| days_from_civil(y, m, d))
                    .ok_or_else(|| bad_query(format!("{what}: {d:?} is not a date YYYY-MM-DD")))
            })
            .transpose()
    };
    let (from, to) = (day(&q.from, "from")?, day(&q.to, "to")?);
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(bad_query(format!("format {other:?}: json or csv"))),
    };
    let mut selected = Vec::new();
    let (subjects, truncated) = readable_subjects(state, reader, &department)?;
    for (_, _, subject) in subjects {
        for f in subject.findings(state, as_of) {
            let d = finding_day(&f);
            let keep = f.departments.contains(&department)
                && q.code.as_deref().is_none_or(|c| c == f.code)
                && q.article.as_deref().is_none_or(|a| a == f.article)
                && q.open.is_none_or(|o| o == f.open)
                && from.is_none_or(|from| d.is_some_and(|d| d >= from))
                && to.is_none_or(|to| d.is_some_and(|d| d <= to));
            if keep {
                selected.push(f);
            }
        }
    }
    // One order for the whole answer, as findings.md lists them.
    selected.sort_by_key(|f| (f.entries.last().copied(), f.code));
    if csv {
        let mut out = String::from(
            "code,article,case,about,departments,due,provisional,actual,open,entries\n",
        );
        for f in &selected {
            let join = |v: Vec<String>| v.join(";");
            out.push_str(&format!(
                "{},{},{},{}:{},{},{},{},{},{},{}\n",
                f.code,
                csv_field(f.article),
                f.case().map_or("", Id::as_str),
                f.about.kind.name(),
                f.about.id.as_str(),
                join(
                    f.departments
                        .iter()
                        .map(|d| d.as_str().to_owned())
                        .collect()
                ),
                f.due.map(|d| d.date()).unwrap_or_default(),
                f.due.map(|d| d.provisional.to_string()).unwrap_or_default(),
                f.actual.map(ymd).unwrap_or_default(),
                f.open,
                join(f.entries.iter().map(u64::to_string).collect()),
            ));
        }
        let mut resp =
            private(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
        if truncated {
            resp.headers_mut().insert(
                "share-audit-truncated",
                header::HeaderValue::from_static("true"),
            );
        }
        return Ok(resp);
    }
    let body = json!({
        "department": department.as_str(),
        "as_of": cst(as_of),
        "truncated": truncated,
        "findings": selected.iter().map(Finding::to_json).collect::<Vec<_>>(),
    });
    Ok(private(json_body(body)))
}

/// A CSV field: quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FiguresQuery {
    department: String,
    as_of: Option<String>,
}

/// `GET /v1/figures?department=D`: D's cases (as provider and as
/// requester) that the reader may read, replies given and on time, the
/// median reply time in working days, and open findings against D.
pub(super) async fn figures(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    blocking(Weight::Department, move || {
        department_figures(&state, &reader, q)
    })
    .await
}

fn department_figures(
    state: &AppState,
    reader: &Reader,
    q: FiguresQuery,
) -> Result<Response, ApiError> {
    let department = id(&q.department, "department")?;
    let as_of = as_of(state, q.as_of.as_deref())?;
    let (mut as_provider, mut as_requester, mut replies, mut late) = (0u64, 0u64, 0u64, 0u64);
    let mut open_findings = 0u64;
    let mut reply_days = Vec::new();
    let (subjects, truncated) = readable_subjects(state, reader, &department)?;
    for (kind, _, case) in subjects {
        let found = case.findings(state, as_of);
        open_findings += found
            .iter()
            .filter(|f| f.open && f.departments.contains(&department))
            .count() as u64;
        let Some(Body::Application(application)) = case
            .entries
            .first()
            .map(|e| &e.statement.body)
            .filter(|_| kind == SubjectKind::Case)
        else {
            continue;
        };
        if application.provider != department {
            as_requester += 1;
            continue;
        }
        as_provider += 1;
        let application = case.entries.first();
        let reply = case
            .entries
            .iter()
            .filter(|e| e.time < as_of)
            .find(|e| ledger::findings::is_reply(&e.statement.body));
        if let (Some(a), Some(r)) = (application, reply) {
            replies += 1;
            reply_days.push(state.calendar.working_days_between(a.time, r.time));
            if found.iter().any(|f| f.code == "reply_late") {
                late += 1;
            }
        }
    }
    reply_days.sort_unstable();
    let median = match reply_days.len() {
        0 => None,
        n if n % 2 == 1 => Some(reply_days[n / 2] as f64),
        n => Some((reply_days[n / 2 - 1] + reply_days[n / 2]) as f64 / 2.0),
    };
    let body = json!({
        "department": department.as_str(),
        "as_of": cst(as_of),
        "cases_as_provider": as_provider,
        "cases_as_requester": as_requester,
        "replies": replies,
        "replies_on_time": replies - late,
        "replies_late": late,
        "median_reply_working_days": median,
        "open_findings": open_findings,
        "truncated": truncated,
    });
    Ok(private(json_body(body)))
}

/// The two kinds of query, each with its own turns: a case's timeline
/// reads one case; findings and figures replay every case of a department.
/// Heavy queries never hold up a case read.
#[derive(Clone, Copy)]
enum Weight {
    /// At most two at once.
    Case,
    /// At most one at once; one that waits more than [`HEAVY_WAIT`] for
    /// its turn is `503 overloaded`.
    Department,
}

/// Longest a findings or figures query waits for its turn.
const HEAVY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs a query's store reads and findings on a blocking thread, so that
/// a long one does not hold up the HTTP threads, within the turns of its
/// [`Weight`].
async fn blocking(
    weight: Weight,
    work: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    type Turns = std::sync::LazyLock<Arc<tokio::sync::Semaphore>>;
    static CASE: Turns = Turns::new(|| Arc::new(tokio::sync::Semaphore::new(2)));
    static DEPARTMENT: Turns = Turns::new(|| Arc::new(tokio::sync::Semaphore::new(1)));
    let busy = || ApiError::unavailable("overloaded", "too many queries at once; retry shortly");
    let permit = match weight {
        Weight::Case => CASE.clone().acquire_owned().await.map_err(|_| busy())?,
        Weight::Department => tokio::time::timeout(HEAVY_WAIT, DEPARTMENT.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?,
    };
    // The permit goes with the work: a request that times out, or whose
    // client leaves, frees its turn only when its query is done.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|_| busy())?
}

fn json_body(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}
