//! What requests may cost in memory at once (specs/api.md §Limits): the
//! bodies being uploaded, and the answers waiting to be sent.
//!
//! Without bounds, every open connection could hold a maximal body, and every
//! client that does not read could hold a large answer (a 16 MB entry bundle,
//! or the ~100 MB answer of a bulk resubmission, from a request of 100 KB).
//! Each is charged against a budget of bytes, for as long as it is held:
//!
//! - a body is charged for the bytes that have arrived, as they arrive, and
//!   keeps its charge until its answer has been produced; a body whose next
//!   bytes do not fit is refused with `503 overloaded` at once;
//! - an answer of [`CHARGED_FROM`] bytes or more is charged before it is
//!   sent (a bulk answer piece by piece, as it is built) and keeps its charge
//!   until hyper has taken its last chunk for the socket; a request whose
//!   answer does not fit waits for room, within its request timeout (then
//!   `408`: resubmitting is safe).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::AppState;

/// Answers smaller than this are not charged: small answers (proofs,
/// checkpoints, single errors) cost little even on every connection.
pub const CHARGED_FROM: usize = 64 * 1024;
/// Answers are handed to hyper in chunks of this size, so that what hyper
/// buffers for the socket beyond the charged body stays small.
const CHUNK: usize = 64 * 1024;

/// A budget of bytes, shared by every connection.
pub struct Budget {
    bytes: Arc<Semaphore>,
    capacity: usize,
}

impl Budget {
    pub fn new(capacity: usize) -> Budget {
        Budget {
            bytes: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }
}

/// Bytes charged against a budget, given back when dropped.
pub struct Charge {
    bytes: Arc<Semaphore>,
    capacity: usize,
    held: Option<OwnedSemaphorePermit>,
}

impl Charge {
    pub fn new(budget: &Budget) -> Charge {
        Charge {
            bytes: budget.bytes.clone(),
            capacity: budget.capacity,
            held: None,
        }
    }

    fn hold(&mut self, more: OwnedSemaphorePermit) {
        match &mut self.held {
            Some(held) => held.merge(more),
            None => self.held = Some(more),
        }
    }

    /// Charges `bytes` if they fit now.
    pub fn try_add(&mut self, bytes: usize) -> bool {
        let n = bytes.min(self.capacity) as u32;
        match self.bytes.clone().try_acquire_many_owned(n) {
            Ok(more) => {
                self.hold(more);
                true
            }
            Err(_) => false,
        }
    }

    /// Charges `bytes`, waiting until they fit. (A single charge larger than
    /// the whole budget is charged the whole budget.)
    pub async fn add(&mut self, bytes: usize) {
        let n = bytes.min(self.capacity) as u32;
        if let Ok(more) = self.bytes.clone().acquire_many_owned(n).await {
            self.hold(more);
        }
    }
}

/// An answer that carries its charge: handed out in chunks, and the charge
/// given back when hyper has taken the last one (or the connection is gone).
struct ChargedAnswer {
    /// What is left to send, in order.
    pieces: VecDeque<Bytes>,
    len: u64,
    charge: Option<Charge>,
}

impl http_body::Body for ChargedAnswer {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(mut piece) = this.pieces.pop_front() else {
            this.charge = None;
            return Poll::Ready(None);
        };
        if piece.len() > CHUNK {
            let rest = piece.split_off(CHUNK);
            this.pieces.push_front(rest);
        }
        this.len -= piece.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// Marks a response whose body already carries its charge.
#[derive(Clone, Copy)]
struct Charged;

/// An answer built piece by piece, each piece charged (for the memory it
/// holds) before it is kept; the pieces are sent as they are, never copied
/// into one buffer, and the charge goes with the response until it is sent.
pub struct ChargedPieces {
    pieces: VecDeque<Bytes>,
    len: u64,
    charge: Charge,
}

impl ChargedPieces {
    pub fn new(budget: &Budget) -> ChargedPieces {
        ChargedPieces {
            pieces: VecDeque::new(),
            len: 0,
            charge: Charge::new(budget),
        }
    }

    /// Appends `piece`, waiting for room in the budget.
    pub async fn push(&mut self, piece: String) {
        self.charge.add(piece.capacity()).await;
        self.len += piece.len() as u64;
        self.pieces.push_back(Bytes::from(piece));
    }

    /// The response, holding the charge until it is sent.
    pub fn into_response(self, status: StatusCode, content_type: &'static str) -> Response {
        let body = Body::new(ChargedAnswer {
            pieces: self.pieces,
            len: self.len,
            charge: Some(self.charge),
        });
        let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        response.extensions_mut().insert(Charged);
        response
    }
}

/// Charges request bodies as they arrive (see the module documentation).
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
    drop(charge);
    response
}

/// Charges answers of [`CHARGED_FROM`] bytes or more before they are sent,
/// waiting for room (see the module documentation).
pub(super) async fn answers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.extensions().get::<Charged>().is_some() {
        return response;
    }
    let size = response.body().size_hint().exact().unwrap_or(u64::MAX);
    if size < CHARGED_FROM as u64 {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the answer could not be produced",
        )
        .into_response();
    };
    let mut charge = Charge::new(&state.answers);
    charge.add(bytes.len()).await;
    let body = Body::new(ChargedAnswer {
        len: bytes.len() as u64,
        pieces: VecDeque::from([bytes]),
        charge: Some(charge),
    });
    Response::from_parts(parts, body)
}
