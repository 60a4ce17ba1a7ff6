//! The logs a witness follows: C2SP tlog-policy `log <vkey> [<url>]` lines,
//! `#` comments and blank lines ignored. A vkey's name is the log's
//! origin; one origin may have several keys (a rotated notary key).

use std::collections::BTreeMap;

use ledger::note::{NoteError, VerifierKey, TYPE_ED25519};

/// Each followed origin and the keys that may sign its checkpoints.
#[derive(Debug, Clone, Default)]
pub struct Logs {
    pub by_origin: BTreeMap<String, Vec<VerifierKey>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("no `log` line: the witness would follow no log")]
    Empty,
}

impl Logs {
    pub fn parse(text: &str) -> Result<Logs, LogsError> {
        let mut logs = Logs::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: String| LogsError::Line {
                line: n + 1,
                reason,
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let vkey = match words.as_slice() {
                ["log", vkey] | ["log", vkey, _] => vkey,
                [other, ..] if *other != "log" => {
                    return Err(bad(format!(
                        "{other:?}: a witness follows `log <vkey> [<url>]` lines"
                    )))
                }
                _ => return Err(bad("expected `log <vkey> [<url>]`".into())),
            };
            let key = VerifierKey::parse(vkey).map_err(|e: NoteError| bad(e.to_string()))?;
            if key.sig_type != TYPE_ED25519 {
                return Err(bad("a log key signs with Ed25519 (type 0x01)".into()));
            }
            logs.by_origin
                .entry(key.name.clone())
                .or_default()
                .push(key);
        }
        if logs.by_origin.is_empty() {
            return Err(LogsError::Empty);
        }
        Ok(logs)
    }
}
