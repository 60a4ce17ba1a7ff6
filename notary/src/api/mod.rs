//! The HTTP API (specs/api.md).
//!
//! Every refusal is a 4xx (or 503) with `{"error": "<code>", "message": "…"}`
//! and changes nothing. Writes go through the ingest pipeline ([`submit`]);
//! reads go straight to the store, which RocksDB lets many threads read at
//! once ([`read`], [`tiles`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt as _;
use ledger::store::Store;
use tokio::sync::OwnedSemaphorePermit;

use crate::ingest::IngestHandle;
use crate::metrics::Metrics;
use crate::sequencer::Latest;

mod error;
mod read;
mod submit;
mod tiles;

pub use error::{refusal_status, ApiError};
pub use submit::{MAX_BULK_BODY_BYTES, MAX_BULK_ITEMS};
pub use tiles::TileCache;

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
    /// Bytes of request bodies that may be held at once ([`body_budget`]).
    pub upload_budget: Arc<tokio::sync::Semaphore>,
    pub tiles: Arc<TileCache>,
}

impl Shared {
    pub(crate) fn latest(&self) -> Latest {
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
            post(submit::submit).layer(middleware::from_fn_with_state(
                state.clone(),
                |state, req, next| body_budget(MAX_BODY_BYTES, state, req, next),
            )),
        )
        .route(
            "/v1/attestations/batch",
            post(submit::submit_bulk)
                .layer(DefaultBodyLimit::max(MAX_BULK_BODY_BYTES))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    |state, req, next| body_budget(MAX_BULK_BODY_BYTES, state, req, next),
                )),
        )
        .route("/checkpoint", get(read::checkpoint))
        .route("/v1/entries/{index}", get(read::entry))
        .route("/v1/receipts/{index}", get(read::receipt))
        .route("/v1/proof/inclusion", get(read::inclusion))
        .route("/v1/proof/consistency", get(read::consistency))
        .route("/tile/{*path}", get(tiles::tile))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed on {}", req.method(), req.uri().path()),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), trace_request))
        .with_state(state)
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

/// Bounds what request bodies cost in memory:
///
/// - a body announced larger than `limit` is refused with 413 at once, so
///   the client gets its answer instead of a connection reset mid-upload;
///   one that turns out larger as it arrives is refused when it passes the
///   limit;
/// - all bodies being read or worked on share the upload budget
///   (`--upload-budget-mib`). A body is charged for the bytes that have
///   arrived, as they arrive, and keeps its charge until its answer is
///   sent; a chunk that does not fit gets `503 overloaded` with
///   `Retry-After`. A client that announces a large body and sends little of
///   it therefore costs (and holds) only what it sent.
///
/// The body is read here, whole, and handed on as one buffer.
async fn body_budget(
    limit: usize,
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body exceeds {limit} bytes"),
        )
        .into_response()
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit as u64) {
        return too_large();
    }
    let (parts, mut body) = req.into_parts();
    // Not sized from the announced length: memory follows what arrives.
    let mut buffer: Vec<u8> = Vec::new();
    let mut charge: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                return ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", e.to_string())
                    .into_response()
            }
        };
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if buffer.len() + chunk.len() > limit {
            return too_large();
        }
        let Ok(more) = state
            .upload_budget
            .clone()
            .try_acquire_many_owned(chunk.len() as u32)
        else {
            state.metrics.refused("overloaded");
            return ApiError::unavailable(
                "overloaded",
                "too many request bodies are being received; retry shortly",
            )
            .into_response();
        };
        match &mut charge {
            Some(held) => held.merge(more),
            None => charge = Some(more),
        }
        buffer.extend_from_slice(&chunk);
    }
    let req = Request::from_parts(parts, Body::from(buffer));
    let response = next.run(req).await;
    drop(charge);
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
        .into_response()
}

/// A receipt, serialized in the field order of specs/receipt.md.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
