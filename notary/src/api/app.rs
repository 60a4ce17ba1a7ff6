//! What every handler shares, and the answers they all write.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger::store::Store;

use super::tile_cache::TileCache;
use crate::ingest::IngestHandle;
use crate::metrics::Metrics;
use crate::sequencer::Latest;

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
    /// Bytes of request bodies held at once ([`super::budget`]).
    pub uploads: Arc<tokio::sync::Semaphore>,
    pub tiles: Arc<TileCache>,
    /// The log's origin and root keys, for reading the committed registry.
    pub roots: ledger::registry::TrustRoots,
    /// Where the notary reads the time (reads are checked against it).
    pub time: crate::clock::TimeSource,
    /// When the notary started, in seconds: older read signatures are stale.
    pub started_s: u64,
    /// The authority read signatures must name: `--public-authority`, else
    /// the address the notary listens on.
    pub public_authority: String,
    pub nonces: super::nonces::Nonces,
    /// The working-day calendar the findings are computed with.
    pub calendar: ledger::calendar::Calendar,
    /// The findings' settings (specs/findings.md §Settings).
    pub settings: ledger::findings::Settings,
    /// The newest checkpoint the witnesses' quorum cosigned.
    pub witnessed: Arc<crate::witnessing::Witnessed>,
}

impl Shared {
    pub(crate) fn latest(&self) -> Latest {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A JSON answer already serialized (receipts keep the field order of
/// specs/receipt.md).
pub fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Contents read with a signature are for that reader only: no shared
/// cache may keep them (RFC 9111 §5.2.2, specs/reads.md).
pub fn private(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// A stored entry and its statement. The store holds only entries the
/// notary parsed before appending them: one that does not parse is the
/// store's fault, logged, and answered `503` like a failed read.
pub fn stored_entry(
    index: u64,
    bytes: &[u8],
) -> Result<(ledger::entry::Entry, ledger::attestation::Statement), super::error::ApiError> {
    let entry = ledger::entry::Entry::parse(bytes);
    entry
        .and_then(|e| e.parse_statement().map(|s| (e, s)))
        .map_err(|e| {
            tracing::error!(index, error = %e, "a stored entry does not parse");
            super::error::ApiError::unavailable("store_unavailable", "the store could not be read")
        })
}
