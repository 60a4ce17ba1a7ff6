//! Authenticated reads (specs/reads.md): who signed a read request. What
//! the reader may then read is the ledger's rule ([`ledger::reads`]).
//!
//! The checks, in order, each with its `401` code: the headers parse
//! (`unauthenticated`), the signature's times (`stale_request`), the key is a
//! department's, valid now (`unknown_reader_key`), the signature verifies
//! over this notary's authority (`bad_read_signature`), and its nonce is new
//! (`replayed_request`). A nonce is remembered only once its signature has
//! verified, so that nobody without a registered key can fill the store.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use ledger::lifecycle::{key_holder, DecideError};
use ledger::read_signature::{ReadSignature, ReadSignatureError, Target};
use ledger::reads::Reader;

use super::app::AppState;
use super::error::ApiError;
use super::nonces::NonceError;

/// The authenticated reader of a request; a handler that takes it answers
/// `401` to anyone else.
pub(super) struct ReadBy(pub Reader);

fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// `403 not_permitted_to_read`: the same answer whether what was asked for
/// exists or not.
pub(super) fn not_permitted() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_permitted_to_read",
        "the reader may not read this (specs/reads.md §Who reads what)",
    )
}

impl FromRequestParts<AppState> for ReadBy {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ReadBy, ApiError> {
        authenticate(state, &parts.method, &parts.uri, &parts.headers).map(ReadBy)
    }
}

/// The reader of a request, or the `401` (or `503`) that refuses it.
pub(super) fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Reader, ApiError> {
    let header_value = |name: &str| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok(),
            _ => None,
        }
    };
    let sig = match (header_value("signature-input"), header_value("signature")) {
        (Some(input), Some(signature)) => ReadSignature::parse(input, signature),
        _ => Err(ReadSignatureError::Missing),
    }
    .map_err(|e| unauthorized("unauthenticated", e.to_string()))?;

    let now_ms = state.time.wall_ms();
    let now = now_ms / 1000;
    sig.check_time(now, state.started_s)
        .map_err(|e| unauthorized("stale_request", e.to_string()))?;

    let (department, record) = match key_holder(&state.store.view(&state.roots), &sig.key, now_ms) {
        Ok(holder) => holder,
        // Which of these it is stays in the notary: the answer does not
        // help anyone probe the registry.
        Err(DecideError::Refused(_)) => {
            return Err(unauthorized(
                "unknown_reader_key",
                "the read is not signed by a key a department may use now (unknown, not yet valid, expired or revoked)",
            ))
        }
        Err(DecideError::View(e)) => return Err(e.into()),
    };

    let target = Target {
        method: method.as_str(),
        authority: &state.public_authority,
        path: uri.path(),
        query: uri.query(),
    };
    sig.verify(&target)
        .map_err(|e| unauthorized("bad_read_signature", e.to_string()))?;

    state.nonces.remember(&sig, now).map_err(|e| match e {
        NonceError::Replayed => unauthorized(
            "replayed_request",
            "this nonce was used before by this key; sign each read with a new nonce",
        ),
        NonceError::Full => ApiError::unavailable(
            "overloaded",
            "the notary is answering too many reads; retry shortly",
        ),
    })?;
    tracing::Span::current().record("department", department.as_str());
    Ok(Reader { department, record })
}
