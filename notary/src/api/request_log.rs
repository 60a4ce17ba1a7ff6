//! Every request's id and the one line logged when it ends
//! ([`trace_request`]), with what handlers learn on the way ([`RequestLog`]).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::app::AppState;
use super::error::{ApiError, RefusalCode};

/// What the line logged at the end of a request names, beyond its method,
/// path and status: its id, and the department that made it, once a
/// handler has confirmed who that is. Handlers find it in the request's
/// extensions. (A tracing span per request carried the same, at about 8 µs
/// of CPU per request: an eighth of a single submission's HTTP handling.)
#[derive(Clone)]
pub struct RequestLog(Arc<RequestLogFields>);

pub struct RequestLogFields {
    id: String,
    department: OnceLock<String>,
}

impl RequestLog {
    fn new(id: String) -> RequestLog {
        RequestLog(Arc::new(RequestLogFields {
            id,
            department: OnceLock::new(),
        }))
    }

    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The department that made the request, once a handler named it.
    pub fn department_name(&self) -> Option<&str> {
        self.0.department.get().map(String::as_str)
    }

    /// Names the department that made the request (the first name given stays).
    pub fn department(&self, department: &str) {
        let _ = self.0.department.set(department.to_owned());
    }
}

/// Gives every request an id (the caller's `X-Request-Id` if sane, else a
/// counter unique across restarts) and a log line when it ends: info for a
/// submission refused from a signer the registry confirmed (what an
/// operator is asked about), debug for success, other 4xx and 503
/// (thousands per second are normal), warn for other 5xx.
pub(super) async fn trace_request(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", state.next_request_id.fetch_add(1, Relaxed)));
    let log = RequestLog::new(id);
    req.extensions_mut().insert(log.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    // Bounds slow clients: a body trickled in, or a reply not awaited in time.
    let mut resp = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
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
    let request_id = tracing::field::display(log.id());
    let department = log.department_name().map(tracing::field::display);
    let path = tracing::field::display(path);
    // 503s are expected under overload or while the store recovers, and
    // are logged once by the sequencer, not once per request.
    let code = resp.extensions().get::<RefusalCode>().map(|c| c.0);
    if status >= 500 && status != 503 {
        tracing::warn!(request_id, %method, path, department, status, code, micros, "request failed");
    } else if let (400..=499, Some(code)) = (status, code) {
        // Refusals are what an operator is asked about: one line each.
        tracing::info!(request_id, %method, path, department, status, code, micros, "refused");
    } else {
        tracing::debug!(request_id, %method, path, department, status, micros, "request");
    }
    if let Ok(v) = HeaderValue::from_str(log.id()) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
