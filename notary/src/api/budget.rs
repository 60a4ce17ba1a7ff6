//! What request bodies may cost in memory at once (specs/api.md §Limits).
//!
//! Without a bound, every open connection could hold a maximal body. Bodies
//! are charged against a budget of bytes for the memory they hold: the
//! buffer a body is read into grows as bytes arrive (doubling, up to the
//! endpoint's limit, never sized from the announced length) and is charged
//! before it grows. A body whose buffer cannot grow within the budget is
//! refused with `503 overloaded` at once. The charge is kept until the
//! answer has been sent (or the connection is gone): what the request
//! produces from its body (the submissions, their outcomes) lives that long.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::AppState;

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

/// A body that keeps a charge until it has been sent (or dropped).
struct Charged {
    body: Body,
    charge: Option<Charge>,
}

impl http_body::Body for Charged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            this.charge = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
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
    let (parts, body) = next.run(req).await.into_parts();
    let body = Body::new(Charged {
        body,
        charge: Some(charge),
    });
    Response::from_parts(parts, body)
}
