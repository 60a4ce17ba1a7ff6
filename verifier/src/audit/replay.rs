//! Steps 4 and 5: every entry parsed and its signature checked on worker
//! threads, then replayed in order with the lifecycle rules; the flags of
//! keys declared compromised (specs/package.md §The audit).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use ledger::attestation::{decode_key, Body, PublicKey, Statement};
use ledger::calendar::Calendar;
use ledger::entry::Entry;
use ledger::findings::{Finding, FindingsStream, LoggedStatement, Settings};
use ledger::frontier::Frontier;
use ledger::hashing::{leaf_hash, sha256, Hash};
use ledger::lifecycle::{decide, DecideError};
use ledger::package::{self, Manifest};
use ledger::registry::{Overlay, RecordKey, TrustRoots};
use ledger::signature::{verify_batch, SignedStatement};
use ledger::tiles::{TileId, TileKind, TILE_WIDTH};

use super::files::{ExtraFiles, HistoryCheckpoint};
use super::report::{Flag, MAX_LISTED_FINDINGS, MAX_LISTED_FLAGS};
use super::state::{Audit, AuditOptions};
use super::tree::{Claim, TreeCheck};

/// A statement may be notarised at most 24 h after it was signed and at
/// most 5 min before (lifecycle.md §Rules): a repeat can only come within
/// this long of the first (package.md step 4).
const DEDUP_WINDOW_MS: u64 = 86_400_000 + 300_000;

/// Bundles parsed and verified ahead of the one being replayed.
const IN_FLIGHT: usize = 8;

/// What the replay found that later steps need.
#[derive(Default)]
pub(super) struct Replayed {
    /// `log_key` entries: index and key.
    pub(super) log_keys: Vec<(u64, PublicKey)>,
    /// Keys declared compromised: since when, and the revocation's index.
    pub(super) compromised: HashMap<PublicKey, (u64, u64, String)>,
    /// Why `findings_out` could not be written, if it could not.
    pub(super) output_error: Option<std::io::Error>,
}

impl Audit<'_> {
    /// Steps 3 and 4: the entries, the tree and the replay.
    pub(super) fn entries(
        &mut self,
        manifest: &Manifest,
        history: &[HistoryCheckpoint],
        seen: &[(String, u64, Hash)],
        extra: &ExtraFiles,
        calendar: &Calendar,
        mut options: AuditOptions,
    ) -> Replayed {
        let mut tree = TreeCheck::new(history, seen);
        while let Some((claim, root)) = tree.due_root(0) {
            self.check_root(claim, root, &tree.frontier);
        }
        let mut replay = Replay::new(
            self.policy.trust_roots(),
            calendar,
            &options.settings,
            options.as_of,
            options.findings_out.take(),
        );
        let workers = Workers::start(options.threads.max(1));
        let mut bundles = package::bundles(manifest.size).peekable();
        let mut pending: VecDeque<(u64, mpsc::Receiver<Vec<Checked>>)> = VecDeque::new();
        let mut stopped = false;
        loop {
            while !stopped && pending.len() < IN_FLIGHT {
                let Some((index, width)) = bundles.next() else {
                    break;
                };
                let id = TileId {
                    kind: TileKind::Entries,
                    index,
                    width,
                };
                let path = package::tile_path(&id);
                let items = self.read(&path).and_then(|bytes| {
                    match package::split_bundle("the entry bundle", &bytes, width) {
                        Ok(items) => Some(items.iter().map(|i| i.to_vec()).collect::<Vec<_>>()),
                        Err(e) => {
                            self.fail("bad_bundle", &path, e.to_string());
                            None
                        }
                    }
                });
                let Some(items) = items else {
                    // Nothing after a missing or broken bundle can be
                    // placed in the tree.
                    stopped = true;
                    break;
                };
                for &stale in extra
                    .tiles
                    .get(&(TileKind::Entries, index))
                    .into_iter()
                    .flatten()
                {
                    let stale_id = TileId { width: stale, ..id };
                    let expected =
                        package::bundle(items[..stale as usize].iter().map(Vec::as_slice));
                    self.compare_file(&package::tile_path(&stale_id), &expected);
                }
                let first = index * TILE_WIDTH;
                pending.push_back((first, workers.submit(items)));
            }
            let Some((first, results)) = pending.pop_front() else {
                break;
            };
            let Ok(checked) = results.recv() else {
                self.fail(
                    "internal",
                    format!("entry {first}"),
                    "a worker thread stopped",
                );
                break;
            };
            for (k, item) in checked.into_iter().enumerate() {
                let index = first + k as u64;
                tree.push(self, item.leaf, extra);
                while let Some((claim, root)) = tree.due_root(tree.frontier.size()) {
                    self.check_root(claim, root, &tree.frontier);
                }
                replay.entry(self, index, item.parsed);
            }
            if let Some(progress) = options.progress.as_mut() {
                progress(tree.frontier.size(), manifest.size);
            }
        }
        drop(workers);
        if tree.frontier.size() == manifest.size {
            tree.finish(self, extra);
        }
        while let Some((claim, _)) = tree.due_root(u64::MAX) {
            match claim {
                Claim::History(number) => self.fail(
                    "root_mismatch",
                    format!("checkpoint {number}"),
                    "its size is beyond the entries the package holds",
                ),
                Claim::Seen(name) => self.fail(
                    "not_in_package",
                    name,
                    format!(
                        "a checkpoint of more entries than the package's {}: the package is older, or shows a shorter history",
                        tree.frontier.size()
                    ),
                ),
            }
        }
        replay.finish(self)
    }

    /// A root the tree of the entries so far must have.
    fn check_root(&mut self, claim: Claim, root: Hash, tree: &Frontier) {
        if root == tree.root() {
            return;
        }
        match claim {
            Claim::History(number) => self.fail(
                "root_mismatch",
                format!("checkpoint {number}"),
                format!(
                    "the first {} entries do not make this checkpoint's root",
                    tree.size()
                ),
            ),
            Claim::Seen(name) => self.fail(
                "fork",
                name,
                format!(
                    "signed by the log's key for {} entries, with another root than the package's: \
                     the notary signed two histories; keep this checkpoint and the package as evidence",
                    tree.size()
                ),
            ),
        }
    }

    /// Step 5: a second pass over the entries signed by keys declared
    /// compromised (rare: only when some revocation says so).
    pub(super) fn flag_compromised(
        &mut self,
        manifest: &Manifest,
        compromised: &HashMap<PublicKey, (u64, u64, String)>,
    ) {
        for (index, width) in package::bundles(manifest.size) {
            let id = TileId {
                kind: TileKind::Entries,
                index,
                width,
            };
            let Ok(bytes) = std::fs::read(self.dir.join(package::tile_path(&id))) else {
                return;
            };
            let Ok(items) = package::split_bundle("", &bytes, width) else {
                return;
            };
            for (k, item) in items.iter().enumerate() {
                let i = index * TILE_WIDTH + k as u64;
                let Some((entry, statement)) = Entry::parse(item)
                    .ok()
                    .and_then(|e| e.parse_statement().ok().map(|s| (e, s)))
                else {
                    continue;
                };
                let Some((since, revoked_at, department)) = compromised.get(&statement.signer.key)
                else {
                    continue;
                };
                if i < *revoked_at && (entry.time >= *since || statement.signed_at >= *since) {
                    self.report.flagged_total += 1;
                    if self.report.flagged.len() < MAX_LISTED_FLAGS {
                        self.report.flagged.push(Flag {
                            index: i,
                            department: department.clone(),
                            key: statement.signer.key.to_string(),
                            compromised_since: *since,
                        });
                    }
                }
            }
        }
    }
}

/// One entry as a worker left it.
pub(super) struct Checked {
    pub(super) leaf: Hash,
    pub(super) parsed: Result<Parsed, (&'static str, String)>,
}

pub(super) struct Parsed {
    pub(super) time: u64,
    pub(super) statement: Statement,
    /// SHA-256 of the statement bytes: what the notary deduplicates by.
    pub(super) digest: [u8; 32],
}

/// A bundle's entries, and where to answer with what the worker found.
pub(super) type Job = (Vec<Vec<u8>>, mpsc::Sender<Vec<Checked>>);

/// Threads that parse entries and check their signatures, a bundle at a
/// time, answering each bundle on its own channel (so results come back in
/// order however the threads interleave).
pub(super) struct Workers {
    pub(super) jobs: Option<mpsc::SyncSender<Job>>,
    pub(super) threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    pub(super) fn start(count: usize) -> Workers {
        let (jobs, queue) = mpsc::sync_channel::<Job>(IN_FLIGHT);
        let queue = Arc::new(Mutex::new(queue));
        let threads = (0..count)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || loop {
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((items, answer)) = job else {
                        return;
                    };
                    let _ = answer.send(check_entries(&items));
                })
            })
            .collect();
        Workers {
            jobs: Some(jobs),
            threads,
        }
    }

    pub(super) fn submit(&self, items: Vec<Vec<u8>>) -> mpsc::Receiver<Vec<Checked>> {
        let (answer, results) = mpsc::channel();
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send((items, answer));
        }
        results
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Parses a bundle's entries and checks their signatures in one batch
/// (the rule of attestation.md §Signature rule; the batch agrees with the
/// single check on every signature).
pub(super) fn check_entries(items: &[Vec<u8>]) -> Vec<Checked> {
    let mut parsed = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let result = Entry::parse(item)
            .map_err(|e| ("bad_entry", e.to_string()))
            .and_then(|entry| {
                let statement = entry
                    .parse_statement()
                    .map_err(|e| ("bad_entry", e.to_string()))?;
                let key = decode_key(&statement.signer.key)
                    .map_err(|e| ("bad_signature", e.to_string()))?;
                Ok((entry, statement, key))
            });
        match result {
            Ok((entry, statement, key)) => {
                keys.push(Some(key));
                parsed.push(Ok((entry, statement)));
            }
            Err(e) => {
                keys.push(None);
                parsed.push(Err(e));
            }
        }
    }
    let batch: Vec<SignedStatement> = parsed
        .iter()
        .zip(&keys)
        .filter_map(|(p, k)| match (p, k) {
            (Ok((entry, _)), Some(key)) => Some(SignedStatement {
                key,
                statement: &entry.statement,
                signature: &entry.signature,
            }),
            _ => None,
        })
        .collect();
    let mut verdicts = verify_batch(&batch).into_iter();
    items
        .iter()
        .zip(parsed)
        .map(|(item, p)| Checked {
            leaf: leaf_hash(item),
            parsed: p.and_then(|(entry, statement)| {
                match verdicts.next().expect("one verdict per parsed entry") {
                    Ok(()) => Ok(Parsed {
                        time: entry.time,
                        digest: sha256(&entry.statement),
                        statement,
                    }),
                    Err(e) => Err(("bad_signature", format!("the department's signature: {e}"))),
                }
            }),
        })
        .collect()
}

/// The registry replay, the dedup window and the findings.
pub(super) struct Replay<'c, 'w> {
    pub(super) registry: Overlay<TrustRoots>,
    pub(super) findings: FindingsStream<'c>,
    pub(super) findings_out: Option<&'w mut dyn std::io::Write>,
    pub(super) last_time: u64,
    /// The statements of the last 24 h 5 min, by the first 16 bytes of
    /// their digest (a collision among a day's entries has odds of 2^-64
    /// even at a billion a day).
    pub(super) recent: VecDeque<(u64, u128)>,
    pub(super) recent_set: HashSet<u128>,
    pub(super) replayed: Replayed,
}

impl<'c, 'w> Replay<'c, 'w> {
    pub(super) fn new(
        trust: TrustRoots,
        calendar: &'c Calendar,
        settings: &'c Settings,
        as_of: u64,
        findings_out: Option<&'w mut dyn std::io::Write>,
    ) -> Replay<'c, 'w> {
        Replay {
            registry: Overlay::new(trust),
            findings: FindingsStream::new(calendar, settings, as_of),
            findings_out,
            last_time: 0,
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
            replayed: Replayed::default(),
        }
    }

    pub(super) fn entry(
        &mut self,
        audit: &mut Audit,
        index: u64,
        parsed: Result<Parsed, (&'static str, String)>,
    ) {
        let place = format!("entry {index}");
        let p = match parsed {
            Ok(p) => p,
            Err((code, message)) => return audit.fail(code, place, message),
        };
        if p.time < self.last_time {
            audit.fail(
                "time_decreases",
                &place,
                format!(
                    "notarised at {}, before the entry before it ({})",
                    ledger::time::cst(p.time),
                    ledger::time::cst(self.last_time)
                ),
            );
            return;
        }
        self.last_time = p.time;
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| t.saturating_add(DEDUP_WINDOW_MS) < p.time)
        {
            if let Some((_, d)) = self.recent.pop_front() {
                self.recent_set.remove(&d);
            }
        }
        let digest = u128::from_be_bytes(p.digest[..16].try_into().expect("16 of 32 bytes"));
        if !self.recent_set.insert(digest) {
            return audit.fail(
                "duplicate_statement",
                place,
                "the same statement is already in the log (the notary appends a statement once)",
            );
        }
        self.recent.push_back((p.time, digest));
        match decide(&self.registry, &p.statement, p.time, index) {
            Ok(decision) => {
                for change in decision.changes {
                    self.registry.apply(change);
                }
            }
            Err(DecideError::Refused(refusal)) => {
                return audit.fail(
                    "refused",
                    place,
                    format!(
                        "{}: {} (the notary's rules refuse this entry here)",
                        refusal.code(),
                        refusal
                    ),
                );
            }
            Err(DecideError::View(never)) => match never {},
        }
        match &p.statement.body {
            Body::LogKey(k) => self.replayed.log_keys.push((index, k.key)),
            Body::KeyRevocation(r) => {
                if let Some(since) = r.compromised_since {
                    self.replayed
                        .compromised
                        .insert(r.key, (since, index, r.department.as_str().to_owned()));
                }
            }
            _ => {}
        }
        self.findings.push(LoggedStatement {
            index,
            time: p.time,
            statement: &p.statement,
        });
        for f in self.findings.take() {
            found(audit, &mut self.findings_out, &mut self.replayed, f);
        }
    }

    pub(super) fn finish(self, audit: &mut Audit) -> Replayed {
        let Replay {
            registry,
            findings,
            mut findings_out,
            mut replayed,
            ..
        } = self;
        for f in findings.close() {
            found(audit, &mut findings_out, &mut replayed, f);
        }
        for change in registry.into_records().into_changes() {
            match change.key() {
                RecordKey::Department(_) => audit.report.departments += 1,
                RecordKey::Key(_) => audit.report.keys += 1,
                RecordKey::Case(_) => audit.report.cases += 1,
                _ => {}
            }
        }
        replayed
    }
}

/// Counts a finding, lists the first ones, and writes it out.
pub(super) fn found(
    audit: &mut Audit,
    out: &mut Option<&mut dyn std::io::Write>,
    replayed: &mut Replayed,
    finding: Finding,
) {
    let report = &mut audit.report;
    report.findings_total += 1;
    *report.findings_by_code.entry(finding.code).or_default() += 1;
    if let Some(w) = out.as_mut() {
        if let Err(e) = writeln!(w, "{}", finding.to_json()) {
            replayed.output_error.get_or_insert(e);
            *out = None;
        }
    }
    if report.findings.len() < MAX_LISTED_FINDINGS {
        report.findings.push(finding);
    }
}
