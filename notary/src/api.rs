//! The HTTP API (specs/api.md).
//!
//! Every refusal is a 4xx (or 503) with `{"error": "<code>", "message": "…"}`
//! and changes nothing. Writes go through the sequencer; reads go straight
//! to the store, which RocksDB lets many threads read at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger::attestation::{AttestationError, SignedAttestation};
use ledger::lifecycle::Refusal;
use ledger::log::{full_receipt, Outcome, Submission, SubmissionError};
use ledger::proof::{consistency_proof, ProofError};
use ledger::store::{Store, StoreError};
use ledger::tiles::{entry_bundle, TileId, TileKind};
use ledger::tlog_proof::TlogProof;
use serde::Deserialize;
use serde_json::json;

use crate::ingest::{IngestHandle, Rejection, SubmitError};
use crate::metrics::Metrics;
use crate::sequencer::Latest;

/// Largest request body accepted: a maximal statement in base64, plus JSON.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// What every handler shares. Axum clones the state for each request, so
/// it is one `Arc` around [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<Store>,
    pub ingest: IngestHandle,
    pub latest: Arc<RwLock<Latest>>,
    pub metrics: Arc<Metrics>,
    pub next_request_id: Arc<AtomicU64>,
    /// Longest a request may take, body upload included.
    pub request_timeout: std::time::Duration,
    pub tiles: Arc<TileCache>,
}

impl Shared {
    fn latest(&self) -> Latest {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/attestations",
            post(submit).layer(middleware::from_fn(|req, next| {
                refuse_oversized(MAX_BODY_BYTES, req, next)
            })),
        )
        .route(
            "/v1/attestations/batch",
            post(submit_bulk)
                .layer(DefaultBodyLimit::max(MAX_BULK_BODY_BYTES))
                .layer(middleware::from_fn(|req, next| {
                    refuse_oversized(MAX_BULK_BODY_BYTES, req, next)
                })),
        )
        .route("/checkpoint", get(checkpoint))
        .route("/v1/entries/{index}", get(entry))
        .route("/v1/receipts/{index}", get(receipt))
        .route("/v1/proof/inclusion", get(inclusion))
        .route("/v1/proof/consistency", get(consistency))
        .route("/tile/{*path}", get(tile))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), trace_request))
        .with_state(state)
}

/// A refusal as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            // Expected while the store is reopened after a failed write.
            StoreError::Unavailable => tracing::debug!(error = %e, "store read refused"),
            _ => tracing::error!(error = %e, "store read failed"),
        }
        ApiError::unavailable("store_unavailable", "the store could not be read")
    }
}

fn attestation_error(e: &AttestationError) -> ApiError {
    let code = match e {
        AttestationError::Json(_) => "invalid_json",
        AttestationError::Schema(_) => "schema_violation",
        AttestationError::UnsupportedVersion(_) => "unsupported_version",
        AttestationError::UnknownKind(_) => "unknown_kind",
        AttestationError::Body { .. } => "invalid_body",
        AttestationError::BadSignerKey(_) => "bad_signer_key",
        AttestationError::MalformedSignature => "malformed_signature",
        AttestationError::BadSignature(_) => "bad_signature",
    };
    ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string())
}

pub fn refusal_status(r: &Refusal) -> StatusCode {
    match r {
        Refusal::KeyAlreadyRegistered(_) | Refusal::KeyAlreadyRevoked | Refusal::CaseExists(_) => {
            StatusCode::CONFLICT
        }
        Refusal::UnknownItem(_) | Refusal::UnknownCase(_) | Refusal::WeakKey => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::FORBIDDEN,
    }
}

/// Gives every request an id (the caller's `X-Request-Id` if sane, else a
/// counter), a tracing span carrying it, and a log line when it ends:
/// debug for success, 4xx and 503 (thousands per second are normal), warn
/// for other 5xx.
async fn trace_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", state.next_request_id.fetch_add(1, Relaxed)));
    let span = tracing::debug_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    // Bounds slow clients: a body trickled in, or a reply not awaited in time.
    let mut resp = match tokio::time::timeout(
        state.request_timeout,
        next.run(req).instrument(span.clone()),
    )
    .await
    {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} ms; resubmitting is safe",
                state.request_timeout.as_millis()
            ),
        )
        .into_response(),
    };
    let status = resp.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    span.in_scope(|| {
        // 503s are expected under overload or while the store recovers, and
        // are logged once by the sequencer, not once per request.
        if status >= 500 && status != 503 {
            tracing::warn!(status, micros, "request failed");
        } else {
            tracing::debug!(status, micros, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Refuses a body announced larger than `limit` before reading any of it,
/// so the client gets its 413 instead of a connection reset mid-upload.
/// (Bodies without a length are still cut off at the limit as they arrive.)
async fn refuse_oversized(limit: usize, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body exceeds {limit} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
        .into_response()
}

async fn submit(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = submit_checked(&state, body).await;
    if let Err(e) = &result {
        state.metrics.refused(e.code);
    }
    result
}

async fn submit_checked(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body, MAX_BODY_BYTES)?;
    let reply = accept(state, SignedAttestation::from_json(&body))?;
    let (status, receipt) = outcome(reply).await?;
    Ok(json_response(status, receipt))
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
/// the verification stage, in batches.
fn accept(
    state: &AppState,
    attestation: Result<SignedAttestation, AttestationError>,
) -> Result<tokio::sync::oneshot::Receiver<crate::ingest::Reply>, ApiError> {
    let attestation = attestation.map_err(|e| attestation_error(&e))?;
    let submission = Submission::parse(attestation).map_err(|e| match e {
        SubmissionError::TooLarge(_) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        SubmissionError::Attestation(a) => attestation_error(&a),
    })?;
    state.ingest.submit(submission).map_err(|e| match e {
        SubmitError::QueueFull => ApiError::unavailable("overloaded", e.to_string()),
        SubmitError::Closed => ApiError::unavailable("shutting_down", e.to_string()),
    })
}

/// Waits for a queued submission's fate: its receipt (201 new, 200 already
/// in the log) or why it got none.
async fn outcome(
    reply: tokio::sync::oneshot::Receiver<crate::ingest::Reply>,
) -> Result<(StatusCode, String), ApiError> {
    let outcome = reply
        .await
        .map_err(|_| ApiError::unavailable("shutting_down", "the sequencer stopped"))?
        .map_err(|e| match e {
            Rejection::BadSignature(a) => attestation_error(&a),
            Rejection::Unavailable(_) => {
                ApiError::unavailable("store_unavailable", format!("{e}; nothing was appended"))
            }
        })?;
    match outcome {
        Outcome::Appended(r) => Ok((StatusCode::CREATED, r.to_json())),
        Outcome::Duplicate(r) => Ok((StatusCode::OK, r.to_json())),
        Outcome::Refused(r) => Err(ApiError::new(refusal_status(&r), r.code(), r.to_string())),
    }
}

/// Most submissions in one bulk request.
pub const MAX_BULK_ITEMS: usize = 256;
/// Largest bulk request body.
pub const MAX_BULK_BODY_BYTES: usize = 4 << 20;

/// `POST /v1/attestations/batch`: a JSON array of submissions, each
/// checked, sequenced and answered on its own, in order, as
/// `{"results":[{"status":201,"receipt":{…}}, {"status":403,"error":…,"message":…}, …]}`.
async fn submit_bulk(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let result = submit_bulk_checked(&state, body).await;
    if let Err(e) = &result {
        state.metrics.refused(e.code);
    }
    result
}

async fn submit_bulk_checked(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body, MAX_BULK_BODY_BYTES)?;
    let bad = |msg: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_batch", msg);
    let items = match ledger::strict_json::parse(&body) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => return Err(bad("the body must be a JSON array of submissions".into())),
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                e.to_string(),
            ))
        }
    };
    if items.is_empty() || items.len() > MAX_BULK_ITEMS {
        return Err(bad(format!(
            "a batch holds 1 to {MAX_BULK_ITEMS} submissions, not {}",
            items.len()
        )));
    }
    // Queue everything first, so the items share verification batches and
    // one sequencer batch; then collect the answers in order.
    let queued: Vec<_> = items
        .into_iter()
        .map(|v| accept(state, SignedAttestation::from_value(v)))
        .collect();
    let mut out = String::from(r#"{"results":["#);
    for (i, q) in queued.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let answer = match q {
            Ok(reply) => outcome(reply).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok((status, receipt)) => {
                out.push_str(&format!(
                    r#"{{"status":{},"receipt":{receipt}}}"#,
                    status.as_u16()
                ));
            }
            Err(e) => {
                state.metrics.refused(e.code);
                let item =
                    json!({ "status": e.status.as_u16(), "error": e.code, "message": e.message });
                out.push_str(&item.to_string());
            }
        }
    }
    out.push_str("]}");
    Ok(json_response(StatusCode::OK, out))
}

/// A receipt, serialized in the field order of specs/receipt.md.
fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn checkpoint(State(state): State<AppState>) -> Response {
    let mut resp = text(state.latest().note);
    // C2SP tlog-tiles: the checkpoint is mutable, so it must not be cached for long.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn path_index(p: Result<Path<u64>, PathRejection>) -> Result<u64, ApiError> {
    p.map(|Path(i)| i).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_index",
            "the index must be a non-negative integer",
        )
    })
}

fn no_entry(index: u64, size: u64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_entry",
        format!("entry {index} is not in the log of size {size}"),
    )
}

async fn entry(
    State(state): State<AppState>,
    p: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = path_index(p)?;
    let size = state.latest().size;
    match state.store.entry(index)? {
        Some(bytes) if index < size => {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
        }
        _ => Err(no_entry(index, size)),
    }
}

async fn receipt(
    State(state): State<AppState>,
    p: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = path_index(p)?;
    let size = state.latest().size;
    if index >= size {
        return Err(no_entry(index, size));
    }
    let r = full_receipt(&state.store, index)?.ok_or_else(|| no_entry(index, size))?;
    Ok(json_response(StatusCode::OK, r.to_json()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    /// The entry, by index ...
    index: Option<u64>,
    /// ... or by leaf hash (64 hex digits, or base64), found in the leaf-hash index.
    hash: Option<String>,
    size: Option<u64>,
}

/// The index an inclusion request names, directly or by leaf hash.
fn entry_index(state: &AppState, q: &InclusionQuery) -> Result<u64, ApiError> {
    let bad = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", m);
    match (q.index, &q.hash) {
        (Some(i), None) => Ok(i),
        (None, Some(h)) => {
            let bytes = if h.len() == 64 { hex_decode(h) } else { None };
            let hash = match bytes {
                Some(b) => ledger::hashing::Hash::from_slice(&b).ok(),
                None => ledger::hashing::Hash::from_base64(h).ok(),
            }
            .ok_or_else(|| bad("hash must be a SHA-256 leaf hash in hex or base64"))?;
            state.store.leaf_index(&hash)?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_such_entry",
                    format!("no entry has leaf hash {hash}"),
                )
            })
        }
        _ => Err(bad("give exactly one of index and hash")),
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))
}

async fn inclusion(
    State(state): State<AppState>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let index = entry_index(&state, &q)?;
    let latest = state.latest();
    let (size, note) = match q.size {
        None => (latest.size, latest.note),
        Some(s) if s <= latest.size => match state.store.checkpoint(s)? {
            Some(note) => (s, note),
            None => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_checkpoint_of_size",
                    format!(
                        "no signed checkpoint has size {s}; use the size of a checkpoint you hold"
                    ),
                ))
            }
        },
        Some(s) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_checkpoint_of_size",
                format!("the log has only {} entries, not {s}", latest.size),
            ))
        }
    };
    // Only the audit path is needed, not the entry: O(log n) hashes, most
    // of them from memory (Store keeps the upper levels).
    match ledger::proof::inclusion_proof(state.store.as_ref(), index, size)? {
        Ok(path) => Ok(text(
            TlogProof {
                index,
                path,
                checkpoint: note,
            }
            .encode(),
        )),
        Err(_) => Err(no_entry(index, size)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

async fn consistency(
    State(state): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let size = state.latest().size;
    let to = q.to.unwrap_or(size);
    if to > size {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "beyond_tree",
            format!("the log has only {size} entries, not {to}"),
        ));
    }
    match consistency_proof(state.store.as_ref(), q.from, to)? {
        Ok(proof) => Ok(text(proof.iter().map(|h| format!("{h}\n")).collect())),
        Err(e @ ProofError::FromEmptyTree) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "consistency_from_empty_tree",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_sizes",
            e.to_string(),
        )),
    }
}

/// C2SP tlog-tiles: `/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]`.
/// Tile contents never change, so every tile that exists is served with an
/// immutable cache header; tiles beyond the newest checkpoint are 404.
async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let id = TileId::parse(&path)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "bad_tile_path", e.to_string()))?;
    let size = state.latest().size;
    if !id.exists_in(size) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_tile",
            format!("tile {path} is not in the tree of size {size}"),
        ));
    }
    if let Some(body) = state.tiles.get(&id) {
        return Ok(tile_response(body));
    }
    let first = id.first().expect("exists_in checked the range");
    let body = match id.kind {
        TileKind::Hashes { .. } => {
            let hashes = state.store.node_run(id.tree_level(), first, id.width)?;
            hashes.iter().flat_map(|h| h.0).collect::<Vec<u8>>()
        }
        TileKind::Entries => {
            let entries = state.store.entries(first, first + id.width)?;
            entry_bundle(entries.iter().map(Vec::as_slice))
        }
    };
    let body = Bytes::from(body);
    if id.is_full() {
        state.tiles.put(id, body.clone());
    }
    Ok(tile_response(body))
}

fn tile_response(body: Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// Full tiles and entry bundles never change: the most recently served are
/// kept in memory, up to a byte budget (then the cache starts again empty).
pub struct TileCache {
    tiles: Mutex<(HashMap<TileId, Bytes>, usize)>,
    budget: usize,
}

impl TileCache {
    pub fn new(budget: usize) -> TileCache {
        TileCache {
            tiles: Mutex::new((HashMap::new(), 0)),
            budget,
        }
    }

    fn get(&self, id: &TileId) -> Option<Bytes> {
        self.tiles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .get(id)
            .cloned()
    }

    fn put(&self, id: TileId, body: Bytes) {
        let mut guard = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
        let (tiles, bytes) = &mut *guard;
        if *bytes + body.len() > self.budget {
            tiles.clear();
            *bytes = 0;
        }
        *bytes += body.len();
        tiles.insert(id, body);
    }
}
