//! The witness's HTTP API (specs/witness.md):
//!
//! - `POST /add-checkpoint`: C2SP tlog-witness v1.0.0;
//! - `GET /checkpoint/<origin>`: the last checkpoint it cosigned for that
//!   log, with its cosignature (404 for a log it has not cosigned).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::witness::{Reply, Witness};

/// A request body is a checkpoint (at most 64 KiB, signed-note) and 63
/// proof lines: this is ample.
pub const MAX_BODY_BYTES: usize = 128 << 10;

pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/checkpoint/{*origin}", get(latest))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(witness)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    // The answer waits for an fsync: off the async threads.
    let reply = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now_unix()))
        .await
        .unwrap_or_else(|_| Reply {
            status: 500,
            content_type: "text/plain; charset=utf-8",
            body: b"internal error\n".to_vec(),
        });
    respond(reply)
}

async fn latest(State(witness): State<Arc<Witness>>, Path(origin): Path<String>) -> Response {
    match witness.latest(&origin) {
        Some(note) => respond(Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: note.into_bytes(),
        }),
        None => respond(Reply {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: format!("no checkpoint of {origin} cosigned\n").into_bytes(),
        }),
    }
}

fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}
