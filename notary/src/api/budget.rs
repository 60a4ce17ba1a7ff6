//! What request bodies may cost in memory at once (specs/api.md §Limits).
//!
//! Without a bound, every open connection could hold a maximal body. Bodies
//! are charged against a budget of bytes for the memory they hold: the
//! buffer a body is read into grows as bytes arrive (doubling, up to the
//! endpoint's limit, never sized from the announced length) and is charged
//! before it grows. A body whose buffer cannot grow within the budget is
//! refused with `503 overloaded` at once. The charge is kept until the
//! request has been handled: its answer produced, or for a bulk submission
//! its items queued (the answer then streams at the client's pace).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::app::AppState;
use super::error::ApiError;

/// Bytes charged against a budget (a semaphore of bytes shared by every
/// connection), given back when dropped.
struct Charge {
    budget: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
}

impl Charge {
    fn new(budget: &Arc<Semaphore>) -> Charge {
        Charge {
            budget: budget.clone(),
            held: None,
        }
    }

    /// Charges `bytes` if they fit now.
    fn try_add(&mut self, bytes: usize) -> bool {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        let Ok(more) = self.budget.clone().try_acquire_many_owned(n) else {
            return false;
        };
        match &mut self.held {
            Some(held) => held.merge(more),
            None => self.held = Some(more),
        }
        true
    }
}

/// Charges request bodies for the memory they hold (see the module
/// documentation).
/// A body announced larger than `limit` is refused with 413 before any of
/// it is read; one without a length is refused when it passes the limit.
/// The body is read here, whole, and handed on as one buffer.
pub(super) async fn uploads(
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
    // Charged for its capacity, which is what it costs: it grows as bytes
    // arrive (doubling, up to the limit), never from the announced length.
    let mut buffer: Vec<u8> = Vec::new();
    let mut charge = Charge::new(&state.uploads);
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
        let needed = buffer.len() + chunk.len();
        if needed > limit {
            return too_large();
        }
        if needed > buffer.capacity() {
            let grown = needed.max(2 * buffer.capacity()).min(limit);
            if !charge.try_add(grown - buffer.capacity()) {
                state.metrics.refused("overloaded");
                return ApiError::unavailable(
                    "overloaded",
                    "too many request bodies are being received; retry shortly",
                )
                .into_response();
            }
            buffer.reserve_exact(grown - buffer.len());
        }
        buffer.extend_from_slice(&chunk);
    }
    let req = Request::from_parts(parts, Body::from(buffer));
    let response = next.run(req).await;
    // Handled: the body is parsed and its submissions answered or queued.
    // (A bulk answer then streams at the client's pace; holding the charge
    // through it would let a few slow readers refuse every upload.)
    drop(charge);
    response
}
