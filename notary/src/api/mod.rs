//! The HTTP API (specs/api.md).
//!
//! Every refusal is a 4xx (or 503) with `{"error": "<code>", "message": "…"}`
//! and changes nothing. Writes go through the ingest pipeline ([`submit`]);
//! reads go straight to the store, which RocksDB lets many threads read at
//! once ([`read`], [`tiles`]).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

mod app;
mod budget;
mod cases;
mod error;
mod nonces;
mod read;
mod reader;
mod submit;
mod tile_cache;
mod tiles;

pub use app::{AppState, Shared, MAX_BODY_BYTES};
pub use error::{refusal_status, ApiError, RefusalCode};
pub use nonces::Nonces;
pub use submit::{MAX_BULK_BODY_BYTES, MAX_BULK_ITEMS};
pub use tile_cache::TileCache;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/attestations",
            post(submit::submit).layer(middleware::from_fn_with_state(
                state.clone(),
                |state, req, next| budget::uploads(MAX_BODY_BYTES, state, req, next),
            )),
        )
        .route(
            "/v1/attestations/batch",
            post(submit::submit_bulk)
                .layer(DefaultBodyLimit::max(MAX_BULK_BODY_BYTES))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    |state, req, next| budget::uploads(MAX_BULK_BODY_BYTES, state, req, next),
                )),
        )
        .route("/checkpoint", get(read::checkpoint))
        .route("/checkpoint/witnessed", get(read::witnessed_checkpoint))
        .route("/v1/entries/{index}", get(read::entry))
        .route("/v1/receipts/{index}", get(read::receipt))
        .route(
            "/v1/receipts/{index}/witnessed",
            get(read::witnessed_receipt),
        )
        .route("/v1/cases/{case}", get(cases::case))
        .route("/v1/findings", get(cases::findings_of))
        .route("/v1/figures", get(cases::figures))
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
/// counter unique across restarts), a tracing span carrying it, and a log
/// line when it ends: info for a submission refused from a signer the
/// registry confirmed (what an operator is asked about),
/// debug for success, other 4xx and 503 (thousands per second are normal),
/// warn for other 5xx.
async fn trace_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", state.next_request_id.fetch_add(1, Relaxed)));
    // `department` is filled in once a submission names its signer.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        department = tracing::field::Empty,
    );
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
        let code = resp.extensions().get::<RefusalCode>().map(|c| c.0);
        if status >= 500 && status != 503 {
            tracing::warn!(status, code, micros, "request failed");
        } else if let (400..=499, Some(code)) = (status, code) {
            // Refusals are what an operator is asked about: one line each.
            tracing::info!(status, code, micros, "refused");
        } else {
            tracing::debug!(status, micros, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
        .into_response()
}
