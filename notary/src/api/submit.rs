//! `POST /v1/attestations` and `POST /v1/attestations/batch`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use ledger::append::{Outcome, Submission};
use ledger::attestation::{parse_bulk, AttestationError, BulkError, Id, SignedAttestation};
use ledger::lang::Lang;
use ledger::lifecycle::ImmediateFinding;
use serde_json::json;
use tokio::sync::oneshot;

use super::app::{json_response, AppState, MAX_BODY_BYTES};
use super::error::{attestation_error, refusal_status, ApiError};
use crate::ingest::SubmitError;
use crate::job::{Rejection, Reply};

pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = submit_checked(&state, lang(&headers), body).await;
    if let Err(e) = &result {
        state.metrics.refused(e.code);
    }
    result
}

async fn submit_checked(
    state: &AppState,
    lang: Lang,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body, MAX_BODY_BYTES)?;
    let (reply, signer) = accept(state, lang, SignedAttestation::from_json(&body))?;
    let result = answer(reply.await, lang);
    // The log names the department only once the registry confirmed its
    // key (an appended entry, or a refusal judged after that): anyone can
    // make a key and sign in any department's name.
    let confirmed = match &result {
        Ok(_) => true,
        Err(e) => e.notable,
    };
    if confirmed {
        tracing::Span::current().record("department", tracing::field::display(signer.as_str()));
    }
    let (status, receipt, findings) = result?;
    let mut resp = json_response(status, receipt);
    for f in &findings {
        // `second_reply; cites=12`: what the entry makes a finding of, at once.
        let value = format!("{}; cites={}", f.code(), f.cites());
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            resp.headers_mut().append(FINDING_HEADER, v);
        }
    }
    Ok(resp)
}

/// The header of a 201 that tells a finding the entry makes on its own
/// (specs/api.md).
pub const FINDING_HEADER: &str = "share-audit-finding";

/// The language of refusal messages: the request's `Accept-Language`
/// (specs/api.md); codes are the same in every language.
fn lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body exceeds {limit} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", e.body_text())
        }
    })
}

/// Checks a submission's format and queues it; the signature is checked by
/// the verification stage, in batches. Gives the department it claims to
/// be signed by.
fn accept(
    state: &AppState,
    lang: Lang,
    attestation: Result<SignedAttestation, AttestationError>,
) -> Result<(oneshot::Receiver<Reply>, Id), ApiError> {
    let attestation = attestation.map_err(|e| attestation_error(&e, lang))?;
    let submission = Submission::parse(attestation).map_err(|e| attestation_error(&e, lang))?;
    let signer = submission.statement.signer.department.clone();
    let reply = state.ingest.submit(submission).map_err(|e| match e {
        SubmitError::QueueFull => ApiError::unavailable("overloaded", e.to_string()),
        SubmitError::Closed => ApiError::unavailable("shutting_down", e.to_string()),
    })?;
    Ok((reply, signer))
}

/// A queued submission's fate, as the API reports it: its receipt (201
/// new, 200 already in the log) or why it got none.
fn answer(
    reply: Result<Reply, oneshot::error::RecvError>,
    lang: Lang,
) -> Result<(StatusCode, String, Vec<ImmediateFinding>), ApiError> {
    let outcome = reply
        .map_err(|_| ApiError::unavailable("shutting_down", "the sequencer stopped"))?
        .map_err(|e| match e {
            // Anyone can send a bad signature: no news (debug only).
            Rejection::BadSignature(a) => attestation_error(&a, lang),
            // The cause (a RocksDB error naming files of the data directory)
            // is in the notary's log; the client learns what it can do.
            Rejection::Unavailable(_) => ApiError::unavailable(
                "store_unavailable",
                "the notary cannot write to its store right now; nothing was appended; resubmit",
            ),
        })?;
    match outcome {
        Outcome::Appended(r, findings) => Ok((StatusCode::CREATED, r.to_json(), findings)),
        Outcome::Duplicate(r, findings) => Ok((StatusCode::OK, r.to_json(), findings)),
        Outcome::Refused(r) => {
            let e = ApiError::new(refusal_status(&r), r.code(), r.message(lang));
            // News for the operator only from a signer the registry knows:
            // a refusal anyone could provoke with a key of their own is not.
            Err(if r.signer_confirmed() { e.notable() } else { e })
        }
    }
}

/// Most submissions in one bulk request.
pub const MAX_BULK_ITEMS: usize = 256;
/// Largest bulk request body.
pub const MAX_BULK_BODY_BYTES: usize = 4 << 20;

/// `POST /v1/attestations/batch`: a JSON array of submissions, each
/// checked, sequenced and answered on its own, in order, as
/// `{"results":[{"status":201,"receipt":{…}}, {"status":403,"error":…,"message":…}, …]}`.
pub(super) async fn submit_bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = submit_bulk_checked(&state, lang(&headers), body).await;
    if let Err(e) = &result {
        state.metrics.refused(e.code);
    }
    result
}

async fn submit_bulk_checked(
    state: &AppState,
    lang: Lang,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body, MAX_BULK_BODY_BYTES)?;
    // Read item by item: no tree of the whole body, and a body with too
    // many items is refused at the first one over.
    let items = parse_bulk(&body, MAX_BULK_ITEMS, MAX_BODY_BYTES).map_err(|e| match e {
        BulkError::NotJson(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
        }
        BulkError::NotABatch(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_batch", e.to_string())
        }
    })?;
    // Queue everything first, so the items share verification batches and
    // one sequencer batch; then answer them in order, each as the client
    // reads: a bulk of resubmissions asks for little and is answered with
    // much, so the answer is never built whole.
    let queued = items
        .into_iter()
        .map(|item| accept(state, lang, item).map(|(reply, _)| reply))
        .collect();
    let body = BulkAnswer {
        state: state.clone(),
        span: tracing::Span::current(),
        lang,
        queued,
        stage: Stage::Opening,
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::new(body),
    )
        .into_response())
}

/// The answer to a bulk submission, `{"results":[…]}`, produced one item at
/// a time as hyper asks for more: memory for it is one item, whatever the
/// size of the whole answer, and a client that does not read stops it.
struct BulkAnswer {
    state: AppState,
    /// The request's span: items are answered after the handler returned.
    span: tracing::Span,
    lang: Lang,
    queued: VecDeque<Result<oneshot::Receiver<Reply>, ApiError>>,
    stage: Stage,
}

enum Stage {
    Opening,
    Items { answered: usize },
    Done,
}

impl http_body::Body for BulkAnswer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let answered = match this.stage {
            Stage::Done => return Poll::Ready(None),
            Stage::Opening => {
                this.stage = Stage::Items { answered: 0 };
                return frame(r#"{"results":["#.to_owned());
            }
            Stage::Items { answered } => answered,
        };
        let result = match this.queued.pop_front() {
            None => {
                this.stage = Stage::Done;
                return frame("]}".to_owned());
            }
            Some(Err(e)) => Err(e),
            Some(Ok(mut reply)) => match Pin::new(&mut reply).poll(cx) {
                Poll::Pending => {
                    this.queued.push_front(Ok(reply));
                    return Poll::Pending;
                }
                Poll::Ready(reply) => answer(reply, this.lang),
            },
        };
        let item = match result {
            Ok((status, receipt, findings)) if findings.is_empty() => {
                format!(r#"{{"status":{},"receipt":{receipt}}}"#, status.as_u16())
            }
            Ok((status, receipt, findings)) => {
                let findings: Vec<_> = findings
                    .iter()
                    .map(|f| json!({ "code": f.code(), "cites": f.cites() }))
                    .collect();
                format!(
                    r#"{{"status":{},"receipt":{receipt},"findings":{}}}"#,
                    status.as_u16(),
                    serde_json::Value::from(findings)
                )
            }
            Err(e) => {
                this.state.metrics.refused(e.code);
                if e.notable {
                    let (status, code) = (e.status.as_u16(), e.code);
                    this.span
                        .in_scope(|| tracing::info!(item = answered, status, code, "refused"));
                }
                json!({ "status": e.status.as_u16(), "error": e.code, "message": e.message })
                    .to_string()
            }
        };
        this.stage = Stage::Items {
            answered: answered + 1,
        };
        frame(if answered == 0 {
            item
        } else {
            format!(",{item}")
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }
}

fn frame(text: String) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
    Poll::Ready(Some(Ok(Frame::data(Bytes::from(text)))))
}
