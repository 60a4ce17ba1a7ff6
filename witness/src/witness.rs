//! The decision on an `add-checkpoint` request, in the order C2SP
//! tlog-witness v1.0.0 writes it, with the check and the write of the new
//! state done under one lock (else two requests could roll a log back).

use std::collections::BTreeMap;
use std::sync::Mutex;

use ledger::checkpoint::Checkpoint;
use ledger::hashing::Hash;
use ledger::note::Note;
use ledger::proof::verify_consistency;

use crate::cosigner::Cosigner;
use crate::logs::Logs;
use crate::request::AddCheckpoint;
use crate::state::{Cosigned, StateDir, StateError};

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, message: impl Into<String>) -> Reply {
        let mut body = message.into().into_bytes();
        body.push(b'\n');
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

pub struct Witness {
    logs: Logs,
    cosigner: Cosigner,
    state: StateDir,
    latest: Mutex<BTreeMap<String, Cosigned>>,
}

impl Witness {
    pub fn open(
        logs: Logs,
        cosigner: Cosigner,
        dir: &std::path::Path,
    ) -> Result<Witness, StateError> {
        let (state, latest) = StateDir::open(dir)?;
        Ok(Witness {
            logs,
            cosigner,
            state,
            latest: Mutex::new(latest),
        })
    }

    pub fn cosigner(&self) -> &Cosigner {
        &self.cosigner
    }

    /// The last checkpoint cosigned for `origin`, with the cosignature.
    pub fn latest(&self, origin: &str) -> Option<String> {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.get(origin).map(|c| c.note.clone())
    }

    /// Answers a request made at `now` (seconds since the Unix epoch).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Reply {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return Reply::text(400, e.to_string()),
        };
        let (note, checkpoint) = match Note::parse(&request.checkpoint)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                Checkpoint::parse_body(&n.text)
                    .map(|c| (n, c))
                    .map_err(|e| e.to_string())
            }) {
            Ok(parsed) => parsed,
            Err(e) => return Reply::text(400, format!("the checkpoint: {e}")),
        };
        let Some(keys) = self.logs.by_origin.get(&checkpoint.origin) else {
            return Reply::text(
                404,
                format!("this witness does not follow {}", checkpoint.origin),
            );
        };
        if let Err(e) = note.verify(keys) {
            return Reply::text(
                403,
                format!("not signed by a key of {}: {e}", checkpoint.origin),
            );
        }
        if request.old > checkpoint.size {
            return Reply::text(400, "the old size is larger than the checkpoint's");
        }
        // From here to the write, one request at a time.
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let stored = latest.get(&checkpoint.origin);
        let stored_size = stored.map_or(0, |c| c.size);
        if request.old != stored_size {
            return Reply {
                status: 409,
                content_type: "text/x.tlog.size",
                body: format!("{stored_size}\n").into_bytes(),
            };
        }
        let refused = |status, message: String| {
            // Signed by the log and refused: evidence of what it signed.
            let kept = self.state.keep_evidence(&checkpoint.origin, status, body);
            if let Err(e) = kept {
                tracing::error!(error = %e, "could not keep evidence");
            }
            Reply::text(status, message)
        };
        // A stored empty tree is consistent with every tree, as no tree is.
        match stored.filter(|s| s.size > 0) {
            Some(s) if request.old == checkpoint.size => {
                if s.root != checkpoint.root {
                    return refused(
                        409,
                        format!(
                            "a checkpoint of size {} with another root was cosigned: the log signed two histories (kept as evidence)",
                            checkpoint.size
                        ),
                    );
                }
                if !request.proof.is_empty() {
                    return Reply::text(422, "a proof between equal sizes is empty");
                }
            }
            Some(s) => {
                if let Err(e) = verify_consistency(
                    s.size,
                    checkpoint.size,
                    &s.root,
                    &checkpoint.root,
                    &request.proof,
                ) {
                    // The proof is not the log's: a bad one proves nothing
                    // against the log, and is not kept.
                    return Reply::text(422, format!("the consistency proof does not verify: {e}"));
                }
            }
            None => {
                if !request.proof.is_empty() {
                    return Reply::text(422, "the proof from size 0 is empty");
                }
                if checkpoint.size == 0 && checkpoint.root != Hash::empty_tree() {
                    return Reply::text(422, "a checkpoint of size 0 has the empty tree's root");
                }
            }
        }
        let line = self.cosigner.cosign(&note.text, now);
        let mut stored_note = String::from_utf8_lossy(&request.checkpoint).into_owned();
        stored_note.push_str(&line);
        let cosigned = Cosigned {
            size: checkpoint.size,
            root: checkpoint.root,
            note: stored_note,
        };
        // Durable before the answer: a cosignature is never given for a
        // state the witness could forget.
        if let Err(e) = self.state.save(&checkpoint.origin, &cosigned) {
            tracing::error!(error = %e, "could not store the cosigned checkpoint");
            return Reply::text(
                503,
                "the witness could not store its state; nothing was cosigned",
            );
        }
        latest.insert(checkpoint.origin.clone(), cosigned);
        Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: line.into_bytes(),
        }
    }
}
