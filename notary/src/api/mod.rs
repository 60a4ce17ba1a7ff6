//! The HTTP API (specs/api.md).
//!
//! Every refusal is a 4xx (or 503) with `{"error": "<code>", "message": "…"}`
//! and changes nothing. Writes go through the ingest pipeline ([`submit`]);
//! reads go straight to the store, which RocksDB lets many threads read at
//! once ([`read`], [`tiles`]).

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware;
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
mod request_log;
mod submit;
mod tile_cache;
mod tiles;

pub use app::{AppState, Shared, MAX_BODY_BYTES};
pub use error::{refusal_status, ApiError, RefusalCode};
pub use nonces::Nonces;
pub use request_log::RequestLog;
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_log::trace_request,
        ))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
        .into_response()
}
