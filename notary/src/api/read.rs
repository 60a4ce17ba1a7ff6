//! The checkpoint, entries, receipts and proofs.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger::append::full_receipt;
use ledger::proof::{consistency_proof, ProofError};
use ledger::tlog_proof::TlogProof;
use serde::Deserialize;

use ledger::reads::Reader;

use super::app::{json_response, private, stored_entry, text, AppState};
use super::error::ApiError;
use super::reader::{not_permitted, ReadBy};

pub(super) async fn checkpoint(State(state): State<AppState>) -> Response {
    let mut resp = text(state.latest().note);
    // C2SP tlog-tiles: the checkpoint is mutable, so it must not be cached for long.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The newest checkpoint whose witnesses' cosignatures meet the quorum of
/// `--witness-policy`, with their lines (specs/witness.md); 404 before one.
pub(super) async fn witnessed_checkpoint(
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let Some((_, note)) = state.witnessed.latest() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_witnessed",
            "no checkpoint of this log has been cosigned by the witnesses' quorum yet",
        ));
    };
    let mut resp = text(note);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// An index as the path gives it: decimal digits, no sign and no leading
/// zero, so that each entry has one URL (`/v1/entries/+1` and `/v1/entries/01`
/// are not entry 1).
fn path_index(p: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    p.ok()
        .and_then(|Path(i)| ledger::decimal::parse(&i))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_index",
                "the index must be a non-negative integer, in decimal digits with no sign or leading zero",
            )
        })
}

fn no_entry(index: u64, size: u64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_entry",
        format!("entry {index} is not in the log of size {size}"),
    )
}

/// The bytes of entry `index` of the published tree, if `reader` may read
/// it (specs/reads.md): `404` beyond the tree (its size is public), `403`
/// for an entry the reader may not read.
fn readable_entry(state: &AppState, reader: &Reader, index: u64) -> Result<Vec<u8>, ApiError> {
    let size = state.latest().size;
    let bytes = match state.store.entry(index)? {
        Some(bytes) if index < size => bytes,
        _ => return Err(no_entry(index, size)),
    };
    check_readable(state, reader, index, &bytes)?;
    Ok(bytes)
}

/// `403` unless `reader` may read entry `index`, whose bytes are `bytes`.
fn check_readable(
    state: &AppState,
    reader: &Reader,
    index: u64,
    bytes: &[u8],
) -> Result<(), ApiError> {
    let (_, statement) = stored_entry(index, bytes)?;
    if reader.may_read_entry(&state.store.view(&state.roots), &statement.body, index)? {
        Ok(())
    } else {
        Err(not_permitted())
    }
}

pub(super) async fn entry(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = path_index(p)?;
    let bytes = readable_entry(&state, &reader, index)?;
    Ok(private(
        ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
    ))
}

/// A receipt shows its entry and its evidence (the signer's registration
/// and, for a case step, the case's application): the reader must be
/// allowed to read each of them. A consented third party, who reads a case
/// from the consent on only, therefore reads its entries but not their
/// receipts.
pub(super) async fn receipt(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = path_index(p)?;
    readable_receipt(&state, &reader, index)?;
    let size = state.latest().size;
    let r = full_receipt(&state.store, index)?.ok_or_else(|| no_entry(index, size))?;
    Ok(private(json_response(StatusCode::OK, r.to_json())))
}

/// A receipt carries its entry and its evidence: the reader may read all.
fn readable_receipt(state: &AppState, reader: &Reader, index: u64) -> Result<(), ApiError> {
    readable_entry(state, reader, index)?;
    for cited in state.store.evidence(index)? {
        let bytes = state.store.entry(cited)?.unwrap_or_default();
        check_readable(state, reader, cited, &bytes)?;
    }
    Ok(())
}

/// `GET /v1/receipts/{index}/witnessed`: the receipt against the newest
/// witnessed checkpoint, its evidence proven against the same one, read as
/// `/v1/receipts/{index}` is (specs/witness.md §Witnessed receipts).
pub(super) async fn witnessed_receipt(
    State(state): State<AppState>,
    ReadBy(reader): ReadBy,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = path_index(p)?;
    readable_receipt(&state, &reader, index)?;
    let not_yet = |why: String| ApiError::new(StatusCode::NOT_FOUND, "not_witnessed", why);
    let Some((size, note)) = state.witnessed.latest() else {
        return Err(not_yet(
            "no checkpoint of this log has been cosigned by the witnesses' quorum yet".into(),
        ));
    };
    let r = ledger::append::witnessed_receipt(&state.store, index, (size, &note))?
        .ok_or_else(|| {
            not_yet(format!(
                "entry {index} is not yet in the witnessed checkpoint (of size {size}); try again shortly"
            ))
        })?;
    Ok(private(json_response(StatusCode::OK, r.to_json())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InclusionQuery {
    /// The entry, by index ...
    index: Option<u64>,
    /// ... or by leaf hash (64 hex digits, or base64), found in the leaf-hash index.
    hash: Option<String>,
    size: Option<u64>,
}

/// The index an inclusion request names, directly or by leaf hash.
fn entry_index(state: &AppState, q: &InclusionQuery) -> Result<u64, ApiError> {
    let bad = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", m);
    match (q.index, &q.hash) {
        (Some(i), None) => Ok(i),
        (None, Some(h)) => {
            let bytes = if h.len() == 64 { hex_decode(h) } else { None };
            let hash = match bytes {
                Some(b) => ledger::hashing::Hash::from_slice(&b).ok(),
                None => ledger::hashing::Hash::from_base64(h).ok(),
            }
            .ok_or_else(|| bad("hash must be a SHA-256 leaf hash in hex or base64"))?;
            state.store.leaf_index(&hash)?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_such_entry",
                    format!("no entry has leaf hash {hash}"),
                )
            })
        }
        _ => Err(bad("give exactly one of index and hash")),
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))
}

pub(super) async fn inclusion(
    State(state): State<AppState>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let index = entry_index(&state, &q)?;
    let latest = state.latest();
    let (size, note) = match q.size {
        None => (latest.size, latest.note),
        Some(s) if s <= latest.size => match state.store.checkpoint(s)? {
            Some(note) => (s, note),
            None => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_checkpoint_of_size",
                    format!(
                        "no signed checkpoint has size {s}; use the size of a checkpoint you hold"
                    ),
                ))
            }
        },
        Some(s) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_checkpoint_of_size",
                format!("the log has only {} entries, not {s}", latest.size),
            ))
        }
    };
    // Only the audit path is needed, not the entry: O(log n) hashes, most
    // of them from memory (Store keeps the upper levels).
    match ledger::proof::inclusion_proof(state.store.as_ref(), index, size)? {
        Ok(path) => Ok(text(
            TlogProof {
                index,
                path,
                checkpoint: note,
            }
            .encode(),
        )),
        Err(_) => Err(no_entry(index, size)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

pub(super) async fn consistency(
    State(state): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let size = state.latest().size;
    let to = q.to.unwrap_or(size);
    if to > size {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "beyond_tree",
            format!("the log has only {size} entries, not {to}"),
        ));
    }
    match consistency_proof(state.store.as_ref(), q.from, to)? {
        Ok(proof) => Ok(text(proof.iter().map(|h| format!("{h}\n")).collect())),
        Err(e @ ProofError::FromEmptyTree) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "consistency_from_empty_tree",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_sizes",
            e.to_string(),
        )),
    }
}
