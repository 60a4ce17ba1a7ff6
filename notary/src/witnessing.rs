//! Witnessing (specs/witness.md §The notary's side): each new checkpoint is
//! sent to every witness of `--witness-policy` with the consistency proof
//! from the size that witness last cosigned (C2SP tlog-witness), and is
//! published with their cosignatures once the policy's quorum is met.
//!
//! One thread per witness, so a witness that is down or slow delays no
//! other and never the ingest path: receipts stay synchronous (the
//! notary-signed checkpoint of their batch); a department upgrades one
//! later against the witnessed checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ledger::policy::{Policy, PolicyWitness};
use ledger::proof::consistency_proof;
use ledger::store::Store;

use crate::metrics::Metrics;
use crate::sequencer::Latest;

/// How long a witness may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How often each witness thread looks for a new checkpoint.
const POLL: Duration = Duration::from_millis(50);
/// A round that has not met the quorum in this long gives way to a new one
/// (on the newest checkpoint).
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The newest checkpoint whose cosignatures meet the quorum, as served at
/// `GET /checkpoint/witnessed`: the note with the cosignature lines.
#[derive(Debug, Default)]
pub struct Witnessed {
    published: RwLock<Option<(u64, String)>>,
    /// Cosignature lines gathered per checkpoint size: the note, and each
    /// witness's line.
    gathering: Mutex<BTreeMap<u64, Gathered>>,
    /// The checkpoint every witness is being asked to cosign now: one for
    /// all, so that their cosignatures meet on one checkpoint while the log
    /// grows under them.
    round: Mutex<Option<Round>>,
}

/// A round of witnessing: a checkpoint, and when it was chosen.
#[derive(Debug)]
struct Round {
    size: u64,
    note: String,
    started: std::time::Instant,
}

/// A checkpoint's note, and each witness's cosignature line on it.
type Gathered = (String, BTreeMap<String, String>);

impl Witnessed {
    /// The checkpoint to have cosigned now: the current round's, until the
    /// quorum has cosigned it (or it times out); then the newest.
    fn target(&self, newest: &Latest) -> (u64, String) {
        let published = self.latest().map(|(s, _)| s);
        let mut round = self.round.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = round.as_ref() {
            let open = published.is_none_or(|p| p < r.size);
            if open && r.started.elapsed() < ROUND_TIMEOUT {
                return (r.size, r.note.clone());
            }
        }
        *round = Some(Round {
            size: newest.size,
            note: newest.note.clone(),
            started: std::time::Instant::now(),
        });
        (newest.size, newest.note.clone())
    }

    /// The newest witnessed checkpoint, if any.
    pub fn latest(&self) -> Option<(u64, String)> {
        self.published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records `witness`'s cosignature `line` on `note` (of `size`), and
    /// publishes the note once its cosignatures meet the quorum.
    fn record(
        &self,
        policy: &Policy,
        file: &Path,
        size: u64,
        note: &str,
        witness: &str,
        line: String,
    ) {
        let mut gathering = self.gathering.lock().unwrap_or_else(|p| p.into_inner());
        let (_, lines) = gathering
            .entry(size)
            .or_insert_with(|| (note.to_owned(), BTreeMap::new()));
        lines.insert(witness.to_owned(), line);
        let names: Vec<String> = lines.keys().cloned().collect();
        if !policy.quorum_met(&names) {
            return;
        }
        // The policy's order of witnesses, so the note is the same however
        // the answers arrived.
        let mut published = note.to_owned();
        for w in &policy.witnesses {
            if let Some(l) = lines.get(&w.name) {
                published.push_str(l);
            }
        }
        let mut current = self.published.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|(s, _)| *s > size) {
            return;
        }
        let kept = crate::datadir::write_atomically(file, published.as_bytes())
            .and_then(|()| file.parent().map_or(Ok(()), crate::datadir::sync_dir));
        if let Err(e) = kept {
            tracing::error!(error = %e, "could not keep the witnessed checkpoint");
        }
        *current = Some((size, published));
        gathering.retain(|s, _| *s > size);
    }
}

/// Reads the witnessed checkpoint kept by an earlier run.
pub fn load(file: &Path) -> Witnessed {
    let published = std::fs::read_to_string(file).ok().and_then(|note| {
        let size = note.lines().nth(1)?.parse().ok()?;
        Some((size, note))
    });
    Witnessed {
        published: RwLock::new(published),
        gathering: Mutex::new(BTreeMap::new()),
        round: Mutex::new(None),
    }
}

/// Starts one thread per witness of `policy` that has a URL.
pub fn start(
    policy: Arc<Policy>,
    store: Arc<Store>,
    latest: Arc<RwLock<Latest>>,
    metrics: Arc<Metrics>,
    witnessed: Arc<Witnessed>,
    file: PathBuf,
) {
    for witness in policy.witnesses.iter().filter(|w| w.url.is_some()) {
        let (policy, store, latest, metrics, witnessed, file, witness) = (
            policy.clone(),
            store.clone(),
            latest.clone(),
            metrics.clone(),
            witnessed.clone(),
            file.clone(),
            witness.clone(),
        );
        std::thread::Builder::new()
            .name(format!("witness {}", witness.name))
            .spawn(move || {
                let mut follower = Follower {
                    witness,
                    agent: ureq::AgentBuilder::new().timeout(TIMEOUT).build(),
                    cosigned: None,
                    failures: 0,
                };
                loop {
                    let wait = follower.step(&policy, &store, &latest, &metrics, &witnessed, &file);
                    std::thread::sleep(wait);
                }
            })
            .expect("a thread can be started");
    }
}

/// What the notary knows of one witness.
struct Follower {
    witness: PolicyWitness,
    agent: ureq::Agent,
    /// The size the witness last cosigned, once known.
    cosigned: Option<u64>,
    /// Failures in a row, for the back-off.
    failures: u32,
}

impl Follower {
    /// Sends the newest checkpoint if the witness has not cosigned it;
    /// returns how long to wait before the next step.
    fn step(
        &mut self,
        policy: &Policy,
        store: &Store,
        latest: &RwLock<Latest>,
        metrics: &Metrics,
        witnessed: &Witnessed,
        file: &Path,
    ) -> Duration {
        let newest = latest.read().unwrap_or_else(|p| p.into_inner()).clone();
        let (size, note) = witnessed.target(&newest);
        let name = &self.witness.name;
        metrics.witness_lag(name, newest.size.saturating_sub(self.cosigned.unwrap_or(0)));
        if self.cosigned == Some(size) {
            return POLL;
        }
        let old = self.cosigned.unwrap_or(0);
        let proof = match old {
            0 => Vec::new(),
            _ if old == size => Vec::new(),
            _ if old > size => {
                // The witness holds more than this notary: it follows
                // another history of this origin. Say so, loudly.
                tracing::error!(witness = %name, witness_size = old, size, "the witness has cosigned a larger tree of this log than the notary holds");
                return self.failed(metrics, "larger_than_log");
            }
            _ => match consistency_proof(store, old, size) {
                Ok(Ok(p)) => p,
                _ => return self.failed(metrics, "no_proof"),
            },
        };
        let mut body = format!("old {old}\n");
        for h in &proof {
            body.push_str(&h.to_base64());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&note);
        let url = format!(
            "{}/add-checkpoint",
            self.witness
                .url
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('/')
        );
        match self.agent.post(&url).send_string(&body) {
            Ok(answer) => match answer.into_string() {
                Ok(line) if line.starts_with("— ") && line.ends_with('\n') => {
                    self.cosigned = Some(size);
                    self.failures = 0;
                    metrics.witness_lag(name, 0);
                    witnessed.record(policy, file, size, &note, name, line);
                    POLL
                }
                _ => self.failed(metrics, "bad_answer"),
            },
            Err(ureq::Error::Status(409, answer)) => {
                // Its size is not what we thought: start again from it.
                match answer
                    .into_string()
                    .ok()
                    .and_then(|b| b.trim().parse().ok())
                {
                    Some(theirs) => {
                        self.cosigned = Some(theirs);
                        metrics.witness_lag(name, size.saturating_sub(theirs));
                        Duration::ZERO
                    }
                    None => self.failed(metrics, "conflict"),
                }
            }
            Err(ureq::Error::Status(status, _)) => {
                tracing::warn!(witness = %name, status, "the witness refused the checkpoint");
                self.failed(metrics, "refused")
            }
            Err(e) => {
                tracing::debug!(witness = %name, error = %e, "the witness is unreachable");
                self.failed(metrics, "unreachable")
            }
        }
        .min(MAX_BACKOFF)
    }

    fn failed(&mut self, metrics: &Metrics, why: &'static str) -> Duration {
        metrics.witness_failure(&self.witness.name, why);
        self.failures = self.failures.saturating_add(1);
        POLL.saturating_mul(1 << self.failures.min(6))
            .min(MAX_BACKOFF)
    }
}
