//! The C2SP tlog-tiles read API, with an in-memory cache of full tiles.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ledger::tiles::{entry_bundle, TileId, TileKind};

use super::app::{private, AppState};
use super::error::ApiError;
use super::reader::{authenticate, not_permitted};

/// C2SP tlog-tiles: `/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]`.
/// Tile contents never change, so every tile that exists is served with an
/// immutable cache header; tiles beyond the newest checkpoint are 404.
///
/// The path is read as sent, percent-encodings and all: each tile has one
/// URL, and `%2F` or `%30` in place of `/` or `0` is not it.
///
/// Hash tiles are public; entry bundles mix every case's contents, so only
/// an auditor reads them (specs/reads.md).
pub(super) async fn tile(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = uri.path().strip_prefix("/tile/").unwrap_or_default();
    let id = TileId::parse(path)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "bad_tile_path", e.to_string()))?;
    let bundle = id.kind == TileKind::Entries;
    if bundle && !authenticate(&state, &method, &uri, &headers)?.may_read_bundles() {
        return Err(not_permitted());
    }
    let size = state.latest().size;
    if !id.exists_in(size) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_tile",
            format!("tile {path} is not in the tree of size {size}"),
        ));
    }
    // Entry bundles were read with a signature: for that reader only.
    let answer = |body| {
        if bundle {
            private(tile_response(body))
        } else {
            tile_response(body)
        }
    };
    if let Some(body) = state.tiles.get(&id) {
        return Ok(answer(body));
    }
    let first = id.first().expect("exists_in checked the range");
    let body = match id.kind {
        TileKind::Hashes { .. } => {
            let level = u8::try_from(id.tree_level()).expect("exists_in checked the level");
            let hashes = state.store.node_run(level, first, id.width)?;
            hashes.iter().flat_map(|h| h.0).collect::<Vec<u8>>()
        }
        TileKind::Entries => {
            let entries = state.store.entries(first, first + id.width)?;
            entry_bundle(entries.iter().map(Vec::as_slice))
        }
    };
    let body = Bytes::from(body);
    if id.is_full() {
        state.tiles.put(id, body.clone());
    }
    Ok(answer(body))
}

fn tile_response(body: Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
