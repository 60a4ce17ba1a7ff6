//! A transparency-log witness (C2SP tlog-witness v1.0.0, tlog-cosignature
//! cosignature/v1): it cosigns a checkpoint of a log it follows only if the
//! checkpoint is consistent with the last one it cosigned, and keeps what it
//! refused as evidence. Several notaries witnessing each other (the national
//! and provincial platforms, 条例 Art. 8–10) make a fork of any one of them
//! visible without a consensus protocol (specs/witness.md).
//!
//! | module | what it does | spec |
//! |---|---|---|
//! | [`request`] | the `add-checkpoint` request body | tlog-witness |
//! | [`cosigner`] | the witness key and its cosignature lines | tlog-cosignature |
//! | [`logs`] | the logs followed, as tlog-policy `log` lines | tlog-policy |
//! | [`state`] | the last cosigned checkpoint of each log, durable, and the evidence kept | witness.md |
//! | [`witness`] | the decision on a request, in the spec's order | tlog-witness |
//! | [`server`] | the HTTP API | witness.md |

pub mod cosigner;
pub mod logs;
pub mod request;
pub mod server;
pub mod state;
pub mod witness;
