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
use ledger::attestation::{Id, Statement};
use ledger::entry::Entry;
use ledger::findings::{findings, Finding, LoggedStatement};
use ledger::reads::Reader;
use ledger::registry::CaseRecord;
use ledger::time::{cst, days_from_civil, parse_ymd, ymd};
use serde::Deserialize;
use serde_json::{json, Value};

use super::app::AppState;
use super::error::ApiError;
use super::reader::{not_permitted, ReadBy};

/// Most cases one findings or figures query looks at.
const MAX_CASES: usize = 10_000;

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

/// The case's record, entries (with the item's catalog entry the case was
/// opened under, which the findings judge the reply by) and findings.
struct CaseView {
    record: CaseRecord,
    entries: Vec<CaseEntry>,
    /// The catalog entry the application relied on (its last evidence).
    catalog: Option<CaseEntry>,
}

impl CaseView {
    fn load(state: &AppState, case: &Id) -> Result<Option<CaseView>, ApiError> {
        let view = state.store.view(&state.roots);
        let Some(record) = ledger::registry::RegistryView::get::<CaseRecord>(&view, case)? else {
            return Ok(None);
        };
        let size = state.latest().size;
        let mut entries = Vec::new();
        for index in state.store.case_entries(case)? {
            if index < size {
                entries.push(read_entry(state, index)?);
            }
        }
        let catalog = match state.store.evidence(record.index)?.last() {
            Some(&i) => Some(read_entry(state, i)?),
            None => None,
        };
        Ok(Some(CaseView {
            record,
            entries,
            catalog,
        }))
    }

    fn findings(&self, state: &AppState, as_of: u64) -> Vec<Finding> {
        let logged = self
            .catalog
            .iter()
            .chain(&self.entries)
            .map(|e| LoggedStatement {
                index: e.index,
                time: e.time,
                statement: &e.statement,
            });
        findings(logged, &state.calendar, &state.settings, as_of)
    }
}

fn read_entry(state: &AppState, index: u64) -> Result<CaseEntry, ApiError> {
    let bytes = state.store.entry(index)?.ok_or_else(|| {
        tracing::error!(index, "an indexed entry is missing");
        ApiError::unavailable("store_unavailable", "the store could not be read")
    })?;
    let entry = Entry::parse(&bytes).map_err(|e| {
        tracing::error!(index, error = %e, "a stored entry does not parse");
        ApiError::unavailable("store_unavailable", "the store could not be read")
    })?;
    let statement = entry.parse_statement().map_err(|e| {
        tracing::error!(index, error = %e, "a stored statement does not parse");
        ApiError::unavailable("store_unavailable", "the store could not be read")
    })?;
    Ok(CaseEntry {
        index,
        time: entry.time,
        statement,
        raw: entry.statement,
    })
}

/// A finding as the API writes it: the ledger's JSON, with the day it is
/// about (the actual day, else the due day) for filtering by time.
fn finding_json(f: &Finding) -> Value {
    f.to_json()
}

fn finding_day(f: &Finding) -> Option<i64> {
    f.actual.or(f.due.map(|d| d.day))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseQuery {
    as_of: Option<String>,
}

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
    let view = state.store.view(&state.roots);
    // An unknown case answers as a case the reader may not read.
    if !reader.may_read_case(&view, &case, None)? {
        return Err(not_permitted());
    }
    let Some(found) = CaseView::load(&state, &case)? else {
        return Err(not_permitted());
    };
    let latest = state.latest();
    let mut entries = Vec::new();
    for e in &found.entries {
        // A consented third party reads from its consent on.
        if !reader.may_read_entry(&view, &e.statement.body, e.index)? {
            continue;
        }
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
    let case_findings: Vec<Value> = found
        .findings(&state, as_of)
        .iter()
        .map(finding_json)
        .collect();
    let body = json!({
        "case": case.as_str(),
        "provider": found.record.provider.as_str(),
        "requester": found.record.requester.as_str(),
        "item": found.record.item.as_str(),
        "as_of": cst(as_of),
        "checkpoint": latest.note,
        "entries": entries,
        "findings": case_findings,
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
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

/// The cases of `department` the reader may read, loaded.
fn readable_cases(
    state: &AppState,
    reader: &Reader,
    department: &Id,
) -> Result<Vec<(Id, CaseView)>, ApiError> {
    let view = state.store.view(&state.roots);
    let mut out = Vec::new();
    for (case, _) in state.store.department_cases(department)? {
        if out.len() == MAX_CASES {
            break;
        }
        if reader.may_read_case(&view, &case, None)? {
            if let Some(v) = CaseView::load(state, &case)? {
                out.push((case, v));
            }
        }
    }
    Ok(out)
}

/// `GET /v1/findings?department=D[&code][&article][&open][&from][&to][&as_of][&format=csv]`:
/// the findings against `D` in its cases that the reader may read.
pub(super) async fn findings_of(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    q: Result<Query<FindingsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let department = id(&q.department, "department")?;
    let as_of = as_of(&state, q.as_of.as_deref())?;
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
    for (_, case) in readable_cases(&state, &reader, &department)? {
        for f in case.findings(&state, as_of) {
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
    if csv {
        let mut out =
            String::from("code,article,case,departments,due,provisional,actual,open,entries\n");
        for f in &selected {
            let join = |v: Vec<String>| v.join(";");
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                f.code,
                csv_field(f.article),
                f.case.as_ref().map_or("", Id::as_str),
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
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
    }
    let body = json!({
        "department": department.as_str(),
        "as_of": cst(as_of),
        "findings": selected.iter().map(finding_json).collect::<Vec<_>>(),
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
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
    let department = id(&q.department, "department")?;
    let as_of = as_of(&state, q.as_of.as_deref())?;
    let (mut as_provider, mut as_requester, mut replies, mut late) = (0u64, 0u64, 0u64, 0u64);
    let mut open_findings = 0u64;
    let mut reply_days = Vec::new();
    for (_, case) in readable_cases(&state, &reader, &department)? {
        let found = case.findings(&state, as_of);
        open_findings += found
            .iter()
            .filter(|f| f.open && f.departments.contains(&department))
            .count() as u64;
        if case.record.requester == department {
            as_requester += 1;
        }
        if case.record.provider != department {
            continue;
        }
        as_provider += 1;
        let application = case.entries.iter().find(|e| e.index == case.record.index);
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
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
