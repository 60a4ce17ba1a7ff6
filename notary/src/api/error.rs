//! Refusals as the API reports them: a status and `{"error", "message"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger::attestation::AttestationError;
use ledger::lifecycle::{Refusal, RefusalClass};
use ledger::store::StoreError;
use serde_json::json;

/// A refusal as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u32>,
    /// A refusal of a submission from a signer the registry confirmed
    /// ([`Refusal::signer_confirmed`]), which the request log shows at info
    /// with the department; everything else (bad signatures, unknown keys,
    /// unparsable requests, unknown paths: what anyone can provoke) only at
    /// debug.
    pub notable: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            notable: false,
        }
    }

    /// Marks a refusal of a submission on its merits (see [`ApiError::notable`]).
    pub fn notable(mut self) -> ApiError {
        self.notable = true;
        self
    }

    pub(crate) fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }
}

/// The code of a refusal, kept on its response for the request log.
#[derive(Debug, Clone, Copy)]
pub struct RefusalCode(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response();
        if self.notable {
            resp.extensions_mut().insert(RefusalCode(self.code));
        }
        // RFC 9110 §11.6.1: a 401 names the scheme that authenticates.
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Signature"),
            );
        }
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

pub(crate) fn attestation_error(e: &AttestationError, lang: ledger::lang::Lang) -> ApiError {
    let (status, code) = match e {
        AttestationError::TooLarge(_) | AttestationError::SubmissionTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
        }
        AttestationError::Json(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
        AttestationError::Schema(_) => (StatusCode::BAD_REQUEST, "schema_violation"),
        AttestationError::UnsupportedVersion(_) => (StatusCode::BAD_REQUEST, "unsupported_version"),
        AttestationError::UnknownKind(_) => (StatusCode::BAD_REQUEST, "unknown_kind"),
        AttestationError::Body { .. } => (StatusCode::BAD_REQUEST, "invalid_body"),
        AttestationError::BadSignerKey(_) => (StatusCode::BAD_REQUEST, "bad_signer_key"),
        AttestationError::MalformedSignature => (StatusCode::BAD_REQUEST, "malformed_signature"),
        AttestationError::BadSignature(_) => (StatusCode::BAD_REQUEST, "bad_signature"),
    };
    ApiError::new(status, code, e.message(lang))
}

/// The status of a refusal: its class, decided with its code in one table
/// ([`Refusal::describe`]).
pub fn refusal_status(r: &Refusal) -> StatusCode {
    match r.class() {
        RefusalClass::Forbidden => StatusCode::FORBIDDEN,
        RefusalClass::Conflict => StatusCode::CONFLICT,
        RefusalClass::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_of_refusal_has_its_status() {
        // Which refusal is of which class is tested against specs/api.md in
        // ledger/tests/lifecycle_rules.rs; this is the class's status.
        assert_eq!(refusal_status(&Refusal::UnknownKey), StatusCode::FORBIDDEN);
        assert_eq!(
            refusal_status(&Refusal::KeyAlreadyRevoked),
            StatusCode::CONFLICT
        );
        assert_eq!(
            refusal_status(&Refusal::WeakKey),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
