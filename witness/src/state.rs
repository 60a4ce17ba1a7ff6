//! What a witness remembers: for each log, the last checkpoint it cosigned
//! (as it was sent, with the witness's own cosignature line), written
//! durably and atomically before the cosignature is answered; and the
//! requests it refused that prove a log signed two histories (evidence).
//!
//! ```text
//! DIR/state/<first 16 bytes of SHA-256(origin), hex>.checkpoint
//! DIR/evidence/<unix ms>-<status>-<same>.txt
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ledger::checkpoint::Checkpoint;
use ledger::hashing::{sha256, Hash};
use ledger::note::Note;

/// The last checkpoint cosigned for a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
    /// The checkpoint note with the witness's cosignature line.
    pub note: String,
}

/// The witness's folder of state and evidence.
pub struct StateDir {
    state: PathBuf,
    evidence: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a checkpoint this witness wrote: {reason}")]
    Corrupt { path: String, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn file_name(origin: &str) -> String {
    let digest = sha256(origin.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.checkpoint")
}

impl StateDir {
    /// Opens (creating) `dir/state` and `dir/evidence`, and reads every
    /// stored checkpoint, by origin.
    pub fn open(dir: &Path) -> Result<(StateDir, BTreeMap<String, Cosigned>), StateError> {
        let state = dir.join("state");
        let evidence = dir.join("evidence");
        for d in [&state, &evidence] {
            fs::create_dir_all(d).map_err(io(d))?;
        }
        let mut latest = BTreeMap::new();
        for entry in fs::read_dir(&state).map_err(io(&state))? {
            let path = entry.map_err(io(&state))?.path();
            if path.extension().is_none_or(|e| e != "checkpoint") {
                continue; // a temporary file of a write cut short
            }
            let corrupt = |reason: String| StateError::Corrupt {
                path: path.display().to_string(),
                reason,
            };
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            let note = Note::parse(text.as_bytes()).map_err(|e| corrupt(e.to_string()))?;
            let c = Checkpoint::parse_body(&note.text).map_err(|e| corrupt(e.to_string()))?;
            if path.file_name().and_then(|n| n.to_str()) != Some(file_name(&c.origin).as_str()) {
                return Err(corrupt("its origin is not the one its name says".into()));
            }
            latest.insert(
                c.origin,
                Cosigned {
                    size: c.size,
                    root: c.root,
                    note: text,
                },
            );
        }
        Ok((StateDir { state, evidence }, latest))
    }

    /// Replaces the log's stored checkpoint: written to a temporary file,
    /// synced, renamed over the old one, and the folder synced. After a
    /// crash at any point the old or the new one is there, whole.
    pub fn save(&self, origin: &str, cosigned: &Cosigned) -> Result<(), StateError> {
        let target = self.state.join(file_name(origin));
        let temporary = self.state.join(format!("{}.tmp", file_name(origin)));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&temporary)?;
            f.write_all(cosigned.note.as_bytes())?;
            f.sync_all()?;
            fs::rename(&temporary, &target)?;
            fs::File::open(&self.state)?.sync_all()
        };
        write().map_err(io(&target))
    }

    /// Keeps a refused request that only the log could have made (a
    /// second root at a size it cosigned): what the witness answered and
    /// the request, verbatim, named by its digest, so that a request sent
    /// again is kept once and none overwrites another.
    pub fn keep_evidence(
        &self,
        origin: &str,
        status: u16,
        body: &[u8],
    ) -> Result<PathBuf, StateError> {
        let digest: String = sha256(body)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let stem = file_name(origin);
        let path = self.evidence.join(format!(
            "{}-{status}-{digest}.txt",
            stem.trim_end_matches(".checkpoint")
        ));
        if path.exists() {
            return Ok(path);
        }
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            f.write_all(format!("refused with {status}, for log {origin}:\n").as_bytes())?;
            f.write_all(body)?;
            f.sync_all()
        };
        write().map_err(io(&path))?;
        Ok(path)
    }
}
