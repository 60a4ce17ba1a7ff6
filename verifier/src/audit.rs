//! The full audit of an auditor's package (specs/package.md §The audit).
//!
//! One pass over the entry bundles, in index order, recomputes the tree
//! and replays the registry; signatures and parsing run on worker threads,
//! a few bundles ahead, while this thread hashes and decides in order.
//! Memory holds the registry, the case clocks, the checkpoint roots and a
//! day of statement digests, never the entries.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use ledger::attestation::{decode_key, Body, PublicKey, Statement};
use ledger::calendar::{Calendar, CalendarFile, BUILT_IN};
use ledger::checkpoint::Checkpoint;
use ledger::entry::Entry;
use ledger::findings::{Finding, FindingsStream, LoggedStatement, Settings};
use ledger::frontier::Frontier;
use ledger::hashing::{leaf_hash, sha256, Hash};
use ledger::lifecycle::{decide, DecideError};
use ledger::package::{self, Manifest};
use ledger::policy::Policy;
use ledger::proof::NodeId;
use ledger::registry::{Overlay, RecordKey, TrustRoots};
use ledger::signature::{verify_batch, SignedStatement};
use ledger::tiles::{TileId, TileKind, TILE_HEIGHT, TILE_WIDTH};

/// A statement may be notarised at most 24 h after it was signed and at
/// most 5 min before (lifecycle.md §Rules): a repeat can only come within
/// this long of the first (package.md step 4).
const DEDUP_WINDOW_MS: u64 = 86_400_000 + 300_000;

/// Bundles parsed and verified ahead of the one being replayed.
const IN_FLIGHT: usize = 8;

/// Failures listed in a report; all are counted.
pub const MAX_LISTED_FAILURES: usize = 1000;

/// Findings listed in a report; all are counted by code, and written to
/// [`AuditOptions::findings_out`] if given.
pub const MAX_LISTED_FINDINGS: usize = 1000;

/// Something wrong with the package, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    /// A file of the package, `entry <i>`, or `checkpoint <n>`.
    pub place: String,
    pub message: String,
}

/// An entry signed with a key after the time its revocation declares it
/// compromised since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub index: u64,
    pub department: String,
    pub key: String,
    pub compromised_since: u64,
}

#[derive(Debug, Default)]
pub struct AuditReport {
    pub origin: String,
    pub size: u64,
    pub checkpoints: u64,
    pub departments: u64,
    pub keys: u64,
    pub cases: u64,
    pub flagged: Vec<Flag>,
    /// The first [`MAX_LISTED_FINDINGS`] findings, in the order found.
    pub findings: Vec<Finding>,
    pub findings_total: u64,
    pub findings_by_code: std::collections::BTreeMap<&'static str, u64>,
    pub failures: Vec<Failure>,
    pub failures_total: u64,
    /// Calendar files used, with their SHA-256 (hex).
    pub calendar_files: Vec<(String, String)>,
}

impl AuditReport {
    pub fn valid(&self) -> bool {
        self.failures_total == 0
    }

    /// The `--json` report (specs/package.md §The audit).
    pub fn to_json(&self, package: &Path, seconds: f64) -> serde_json::Value {
        serde_json::json!({
            "package": package.display().to_string(),
            "valid": self.valid(),
            "origin": self.origin,
            "size": self.size,
            "checkpoints": self.checkpoints,
            "departments": self.departments,
            "keys": self.keys,
            "cases": self.cases,
            "flagged": self.flagged.iter().map(|f| serde_json::json!({
                "code": "signed_after_compromise",
                "index": f.index,
                "department": f.department,
                "key": f.key,
                "compromised_since": ledger::time::cst(f.compromised_since),
            })).collect::<Vec<_>>(),
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "findings_total": self.findings_total,
            "findings_by_code": self.findings_by_code,
            "failures": self.failures.iter().map(|f| serde_json::json!({
                "code": f.code,
                "where": f.place,
                "message": f.message,
            })).collect::<Vec<_>>(),
            "failures_total": self.failures_total,
            "calendar": self.calendar_files.iter().map(|(n, h)| serde_json::json!({"file": n, "sha256": h})).collect::<Vec<_>>(),
            "seconds": (seconds * 1000.0).round() / 1000.0,
        })
    }

    /// The text report, one line each.
    pub fn text(&self, package: &Path, seconds: f64) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.failures {
            out.push(format!("FAIL {}: {}: {}", f.place, f.code, f.message));
        }
        if self.failures_total > self.failures.len() as u64 {
            out.push(format!(
                "… and {} failures more",
                self.failures_total - self.failures.len() as u64
            ));
        }
        for f in &self.flagged {
            out.push(format!(
                "FLAG entry {}: signed_after_compromise: signed with a key of {} declared compromised since {}",
                f.index,
                f.department,
                ledger::time::cst(f.compromised_since)
            ));
        }
        let by_code: Vec<String> = self
            .findings_by_code
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        out.push(format!(
            "package {} of log {}",
            package.display(),
            self.origin
        ));
        out.push(format!(
            "  {} entries, {} checkpoints; {} departments, {} keys, {} cases",
            self.size, self.checkpoints, self.departments, self.keys, self.cases
        ));
        out.push(format!(
            "  {} flagged; {} findings{}",
            self.flagged.len(),
            self.findings_total,
            if by_code.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_code.join(", "))
            }
        ));
        let rate = if seconds > 0.0 {
            format!(", {:.0} entries/s", self.size as f64 / seconds)
        } else {
            String::new()
        };
        out.push(format!(
            "{} ({} failures; {seconds:.1} s{rate})",
            if self.valid() { "VALID" } else { "INVALID" },
            self.failures_total
        ));
        out
    }
}

/// How to audit.
pub struct AuditOptions<'p> {
    /// The instant missing steps are judged at (ms).
    pub as_of: u64,
    /// Calendar files to use instead of the package's.
    pub calendar_dir: Option<PathBuf>,
    pub settings: Settings,
    /// Worker threads for parsing and signatures.
    pub threads: usize,
    /// Told `(entries done, entries in all)` as the audit goes.
    pub progress: Option<&'p mut dyn FnMut(u64, u64)>,
    /// Every finding is written here, one JSON object per line, as found.
    pub findings_out: Option<&'p mut dyn std::io::Write>,
}

/// The audit could not start: nothing about the package's validity.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0} is not a package folder (no such directory)")]
    NotAFolder(String),
    #[error("--calendar {0}: {1}")]
    Calendar(String, String),
    #[error("the policy: {0}")]
    Policy(String),
    #[error("cannot write the findings: {0}")]
    Output(std::io::Error),
}

/// Audits the package in `dir` against the policy `policy_text` (the file
/// the auditor was given, which the package's `policy.txt` must be).
pub fn audit(
    dir: &Path,
    policy_text: &str,
    options: AuditOptions,
) -> Result<AuditReport, AuditError> {
    let policy_text = policy_text.strip_prefix('\u{feff}').unwrap_or(policy_text);
    let policy = &Policy::parse(policy_text).map_err(|e| AuditError::Policy(e.to_string()))?;
    if !dir.is_dir() {
        return Err(AuditError::NotAFolder(dir.display().to_string()));
    }
    let mut audit = Audit {
        dir: dir.to_owned(),
        policy,
        policy_text,
        report: AuditReport {
            origin: policy.origin.clone(),
            ..AuditReport::default()
        },
    };
    let calendar = audit.calendar(options.calendar_dir.as_deref())?;
    audit.check_policy_copy();
    let Some(manifest) = audit.manifest() else {
        return Ok(audit.report);
    };
    audit.report.size = manifest.size;
    audit.report.checkpoints = manifest.checkpoints;
    let extra = audit.list_files(&manifest);
    let history = audit.history(&manifest, &extra);
    audit.check_latest(&manifest, &history);
    let mut replayed = audit.entries(&manifest, &history, &extra, &calendar, options);
    if let Some(e) = replayed.output_error.take() {
        return Err(AuditError::Output(e));
    }
    audit.check_checkpoint_keys(&history, &replayed.log_keys);
    if !replayed.compromised.is_empty() {
        audit.flag_compromised(&manifest, &replayed.compromised);
    }
    Ok(audit.report)
}

struct Audit<'a> {
    dir: PathBuf,
    policy: &'a Policy,
    policy_text: &'a str,
    report: AuditReport,
}

/// A checkpoint of the history that verified.
struct HistoryCheckpoint {
    /// Its position in the history (0 is the empty tree's).
    number: u64,
    size: u64,
    root: Hash,
    /// Which of the policy's log keys signed it.
    signers: Vec<usize>,
}

/// Files under `tile/` and `checkpoints/` beyond those the package needs:
/// partial tiles and bundles of earlier exports, by (kind, index).
#[derive(Default)]
struct ExtraFiles {
    tiles: HashMap<(TileKind, u64), Vec<u64>>,
    history: HashMap<u64, Vec<u64>>,
}

/// What the replay found that later steps need.
#[derive(Default)]
struct Replayed {
    /// `log_key` entries: index and key.
    log_keys: Vec<(u64, PublicKey)>,
    /// Keys declared compromised: since when, and the revocation's index.
    compromised: HashMap<PublicKey, (u64, u64, String)>,
    /// Why `findings_out` could not be written, if it could not.
    output_error: Option<std::io::Error>,
}

impl Audit<'_> {
    fn fail(&mut self, code: &'static str, place: impl Into<String>, message: impl Into<String>) {
        self.report.failures_total += 1;
        if self.report.failures.len() < MAX_LISTED_FAILURES {
            self.report.failures.push(Failure {
                code,
                place: place.into(),
                message: message.into(),
            });
        }
    }

    /// A file of the package, or a `missing_file` failure.
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        match std::fs::read(self.dir.join(path)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.fail("missing_file", path, "the package lacks this file");
                None
            }
            Err(e) => {
                self.fail("unreadable_file", path, e.to_string());
                None
            }
        }
    }

    /// Step 1: the manifest.
    fn manifest(&mut self) -> Option<Manifest> {
        let bytes = self.read(package::MANIFEST)?;
        let manifest = match Manifest::parse(&bytes) {
            Ok(m) => m,
            Err(e) => {
                self.fail("bad_manifest", package::MANIFEST, e.to_string());
                return None;
            }
        };
        if manifest.origin != self.policy.origin {
            self.fail(
                "wrong_log",
                package::MANIFEST,
                format!(
                    "the package is of log {}, the policy of {}",
                    manifest.origin, self.policy.origin
                ),
            );
            return None;
        }
        Some(manifest)
    }

    /// The package's `policy.txt` must be the policy the auditor was
    /// given, byte for byte: nothing else vouches for its bytes.
    fn check_policy_copy(&mut self) {
        let Some(bytes) = self.read(package::POLICY) else {
            return;
        };
        let theirs = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
        if theirs != self.policy_text.as_bytes() {
            let same_keys = std::str::from_utf8(theirs)
                .ok()
                .and_then(|t| Policy::parse(t).ok())
                .is_some_and(|p| p == *self.policy);
            self.fail(
                "policy_differs",
                package::POLICY,
                if same_keys {
                    "the package's policy has the same keys as the policy given, but other bytes (a comment?); give the log's policy file as the notary has it"
                } else {
                    "the package's policy is not the policy given: the package is of another log, or one of the two policies is out of date"
                },
            );
        }
    }

    /// The calendar: the package's files (or `--calendar`), built-in names
    /// checked against the built-in files.
    fn calendar(&mut self, given: Option<&Path>) -> Result<Calendar, AuditError> {
        if let Some(dir) = given {
            let calendar = Calendar::with_dir(dir)
                .map_err(|e| AuditError::Calendar(dir.display().to_string(), e.to_string()))?;
            self.report.calendar_files = calendar_hashes(dir);
            return Ok(calendar);
        }
        let dir = self.dir.join(package::CALENDAR_DIR);
        let mut files = Vec::new();
        let names = match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                names.sort();
                names
            }
            Err(_) => {
                self.fail(
                    "missing_file",
                    package::CALENDAR_DIR,
                    "the package lacks its calendar",
                );
                Vec::new()
            }
        };
        for name in names {
            let place = format!("{}/{name}", package::CALENDAR_DIR);
            let Some(bytes) = self.read(&place) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some((_, built_in)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
                if *built_in != text {
                    self.fail(
                        "calendar_differs",
                        &place,
                        "differs from the verifier's built-in file of that name",
                    );
                    continue;
                }
            }
            match CalendarFile::parse(&name, &text) {
                Ok(file) if name.ends_with(".txt") => {
                    self.report
                        .calendar_files
                        .push((name, hex(&sha256(text.as_bytes()))));
                    files.push(file);
                }
                Ok(_) => self.fail("unexpected_file", &place, "calendar files end in .txt"),
                Err(e) => self.fail("bad_calendar", &place, e.to_string()),
            }
        }
        // The built-in years travel with the package, unless a file of
        // the jurisdiction replaces one.
        for (name, text) in BUILT_IN {
            let year = CalendarFile::parse(name, text).ok().and_then(|f| f.year);
            if !files
                .iter()
                .any(|f| f.name == *name || (f.year.is_some() && f.year == year))
            {
                self.fail(
                    "missing_file",
                    format!("{}/{name}", package::CALENDAR_DIR),
                    "the package lacks this built-in calendar year",
                );
            }
        }
        match Calendar::from_files(files) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.fail("bad_calendar", package::CALENDAR_DIR, e.to_string());
                Ok(Calendar::built_in())
            }
        }
    }

    /// Every file under `tile/` and `checkpoints/`: the ones the package
    /// needs are read later; earlier exports' partials are noted; anything
    /// else is unexpected. Top-level names are checked too.
    fn list_files(&mut self, manifest: &Manifest) -> ExtraFiles {
        let mut extra = ExtraFiles::default();
        let known = [
            package::MANIFEST,
            package::CHECKPOINT,
            package::POLICY,
            package::CALENDAR_DIR,
            "tile",
            package::HISTORY_DIR,
        ];
        for name in list_dir(&self.dir) {
            if !known.contains(&name.as_str()) {
                self.fail("unexpected_file", &name, "not part of a package");
            }
        }
        let required: HashSet<TileId> = package::hash_tiles(manifest.size)
            .into_iter()
            .chain(
                package::bundles(manifest.size).map(|(index, width)| TileId {
                    kind: TileKind::Entries,
                    index,
                    width,
                }),
            )
            .collect();
        for path in walk(&self.dir.join("tile")) {
            match TileId::parse(&path) {
                Ok(id) if required.contains(&id) => {}
                Ok(id) if !id.is_full() && id.exists_in(manifest.size) => extra
                    .tiles
                    .entry((id.kind, id.index))
                    .or_default()
                    .push(id.width),
                _ => self.fail(
                    "unexpected_file",
                    format!("tile/{path}"),
                    format!("not a tile of the tree of size {}", manifest.size),
                ),
            }
        }
        let needed: HashSet<(u64, u64)> = package::bundles(manifest.checkpoints).collect();
        for path in walk(&self.dir.join(package::HISTORY_DIR)) {
            match package::parse_history_path(&path) {
                Some(b) if needed.contains(&b) => {}
                Some((index, width))
                    if width < TILE_WIDTH
                        && index
                            .checked_mul(TILE_WIDTH)
                            .and_then(|f| f.checked_add(width))
                            .is_some_and(|end| end <= manifest.checkpoints) =>
                {
                    extra.history.entry(index).or_default().push(width)
                }
                _ => self.fail(
                    "unexpected_file",
                    format!("{}/{path}", package::HISTORY_DIR),
                    format!(
                        "not a bundle of a history of {} checkpoints",
                        manifest.checkpoints
                    ),
                ),
            }
        }
        extra
    }

    /// Step 2: the checkpoint history, each signed by a log key, sizes
    /// increasing from 0.
    fn history(&mut self, manifest: &Manifest, extra: &ExtraFiles) -> Vec<HistoryCheckpoint> {
        let mut history: Vec<HistoryCheckpoint> = Vec::new();
        let mut last_size: Option<u64> = None;
        for (index, width) in package::bundles(manifest.checkpoints) {
            let path = package::history_path(index, width);
            let Some(bytes) = self.read(&path) else {
                continue;
            };
            let notes = match package::split_bundle("the history bundle", &bytes, width) {
                Ok(n) => n,
                Err(e) => {
                    self.fail("bad_bundle", &path, e.to_string());
                    continue;
                }
            };
            for &stale in extra.history.get(&index).into_iter().flatten() {
                let expected = package::bundle(notes[..stale as usize].iter().copied());
                self.compare_file(&package::history_path(index, stale), &expected);
            }
            for (j, note) in notes.iter().enumerate() {
                let number = index * TILE_WIDTH + j as u64;
                let place = format!("{path}: checkpoint {number}");
                let (checkpoint, signers) =
                    match Checkpoint::verify_by(note, &self.policy.origin, &self.policy.log_keys) {
                        Ok(c) => c,
                        Err(e) => {
                            self.fail("bad_checkpoint", place, e.to_string());
                            continue;
                        }
                    };
                let in_order = match last_size {
                    None => checkpoint.size == 0 && number == 0,
                    Some(s) => checkpoint.size > s,
                };
                if !in_order {
                    self.fail(
                        "checkpoint_order",
                        &place,
                        format!(
                            "size {} does not follow size {} (the history starts at 0 and grows)",
                            checkpoint.size,
                            last_size.map_or("none".to_owned(), |s| s.to_string())
                        ),
                    );
                    continue;
                }
                if checkpoint.size > manifest.size {
                    self.fail(
                        "checkpoint_order",
                        &place,
                        format!(
                            "size {} is beyond the package's {}",
                            checkpoint.size, manifest.size
                        ),
                    );
                    continue;
                }
                last_size = Some(checkpoint.size);
                let signers = signers
                    .iter()
                    .filter_map(|k| self.policy.log_keys.iter().position(|p| p == *k))
                    .collect();
                history.push(HistoryCheckpoint {
                    number,
                    size: checkpoint.size,
                    root: checkpoint.root,
                    signers,
                });
            }
        }
        history
    }

    /// The `checkpoint` file is the last of the history, of the manifest's size.
    fn check_latest(&mut self, manifest: &Manifest, history: &[HistoryCheckpoint]) {
        let Some(latest) = self.read(package::CHECKPOINT) else {
            return;
        };
        match Checkpoint::verify(&latest, &self.policy.origin, &self.policy.log_keys) {
            Ok(c) if c.size != manifest.size => self.fail(
                "checkpoint_mismatch",
                package::MANIFEST,
                format!(
                    "says size {}, and `checkpoint` is of size {}",
                    manifest.size, c.size
                ),
            ),
            Ok(_) => {}
            Err(e) => self.fail("bad_checkpoint", package::CHECKPOINT, e.to_string()),
        }
        // The last note of the last history bundle (its failures, if any,
        // were reported with the history).
        let last = package::bundles(manifest.checkpoints)
            .last()
            .and_then(|(index, width)| {
                let bytes =
                    std::fs::read(self.dir.join(package::history_path(index, width))).ok()?;
                let notes = package::split_bundle("", &bytes, width).ok()?;
                notes.last().map(|n| n.to_vec())
            });
        if last.as_deref() != Some(&latest[..]) {
            self.fail(
                "checkpoint_mismatch",
                package::CHECKPOINT,
                "is not the last checkpoint of the history, byte for byte",
            );
        }
        if history.len() as u64 != manifest.checkpoints {
            self.fail(
                "checkpoint_mismatch",
                package::MANIFEST,
                format!(
                    "says {} checkpoints, and the history holds {} that verify",
                    manifest.checkpoints,
                    history.len()
                ),
            );
        } else if history.last().is_some_and(|h| h.size != manifest.size) {
            self.fail(
                "checkpoint_mismatch",
                package::MANIFEST,
                format!(
                    "the history ends at size {}, and the manifest says {}",
                    history.last().map_or(0, |h| h.size),
                    manifest.size
                ),
            );
        }
    }

    /// Compares a file with what it must hold, saying where they part.
    fn compare_file(&mut self, path: &str, expected: &[u8]) {
        let Some(bytes) = self.read(path) else {
            return;
        };
        if bytes != expected {
            let at = bytes
                .iter()
                .zip(expected)
                .position(|(a, b)| a != b)
                .unwrap_or(bytes.len().min(expected.len()));
            self.fail(
                "file_mismatch",
                path,
                format!(
                    "differs from what the log gives from byte {at} ({} bytes, {} expected)",
                    bytes.len(),
                    expected.len()
                ),
            );
        }
    }

    /// Steps 3 and 4: the entries, the tree and the replay.
    fn entries(
        &mut self,
        manifest: &Manifest,
        history: &[HistoryCheckpoint],
        extra: &ExtraFiles,
        calendar: &Calendar,
        mut options: AuditOptions,
    ) -> Replayed {
        let mut tree = TreeCheck::new(history);
        if let Some(root) = tree.due_root(0) {
            if root.1 != Hash::empty_tree() {
                self.fail(
                    "root_mismatch",
                    format!("checkpoint {}", root.0),
                    "the checkpoint of size 0 does not have the empty tree's root",
                );
            }
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
                while let Some((number, root)) = tree.due_root(tree.frontier.size()) {
                    if root != tree.frontier.root() {
                        self.fail(
                            "root_mismatch",
                            format!("checkpoint {number}"),
                            format!(
                                "the first {} entries do not make this checkpoint's root",
                                tree.frontier.size()
                            ),
                        );
                    }
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
        if let Some((number, _)) = tree.due_root(u64::MAX) {
            self.fail(
                "root_mismatch",
                format!("checkpoint {number}"),
                "its size is beyond the entries the package holds",
            );
        }
        replay.finish(self)
    }

    /// Checkpoint keys in force (checkpoint.md §Key rotation).
    fn check_checkpoint_keys(
        &mut self,
        history: &[HistoryCheckpoint],
        log_keys: &[(u64, PublicKey)],
    ) {
        let position = |key: &PublicKey| {
            self.policy
                .log_keys
                .iter()
                .position(|k| k.key.to_bytes() == key.0)
        };
        let announced: Vec<(u64, Option<usize>)> =
            log_keys.iter().map(|(r, k)| (*r, position(k))).collect();
        let Some(first) = history.first().filter(|h| h.number == 0) else {
            return;
        };
        let mut current: Vec<usize> = first.signers.clone();
        let mut retired: Vec<usize> = Vec::new();
        for h in history {
            let in_force = |k: usize| {
                current.contains(&k)
                    || (!retired.contains(&k)
                        && announced.iter().any(|(r, a)| *a == Some(k) && *r < h.size))
            };
            if !h.signers.iter().all(|&k| in_force(k)) {
                let names: Vec<String> = h
                    .signers
                    .iter()
                    .filter(|&&k| !in_force(k))
                    .map(|&k| {
                        format!(
                            "{}+{:08x}",
                            self.policy.log_keys[k].name, self.policy.log_keys[k].key_id
                        )
                    })
                    .collect();
                self.fail(
                    "checkpoint_key_not_in_force",
                    format!("checkpoint {}", h.number),
                    format!(
                        "the checkpoint of size {} is signed by {}, a key retired or not yet announced by a log_key entry",
                        h.size,
                        names.join(", ")
                    ),
                );
                continue;
            }
            if let Some(&new) = h
                .signers
                .iter()
                .find(|k| !current.contains(k) && in_force(**k))
            {
                retired.append(&mut current);
                current = vec![new];
            }
        }
    }

    /// Step 5: a second pass over the entries signed by keys declared
    /// compromised (rare: only when some revocation says so).
    fn flag_compromised(
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

/// The tree the entries make, checked against the hash tiles and the
/// checkpoints as it grows.
struct TreeCheck {
    frontier: Frontier,
    /// Hashes of the tile being filled, by tile level.
    tiles: Vec<Vec<Hash>>,
    /// Checkpoints still to reach: (number, size, root), smallest first.
    roots: VecDeque<(u64, u64, Hash)>,
}

impl TreeCheck {
    fn new(history: &[HistoryCheckpoint]) -> TreeCheck {
        TreeCheck {
            frontier: Frontier::empty(),
            tiles: Vec::new(),
            roots: history.iter().map(|h| (h.number, h.size, h.root)).collect(),
        }
    }

    /// The next checkpoint whose size is at most `size`, taken off the list.
    fn due_root(&mut self, size: u64) -> Option<(u64, Hash)> {
        match self.roots.front() {
            Some(&(number, s, root)) if s <= size => {
                self.roots.pop_front();
                Some((number, root))
            }
            _ => None,
        }
    }

    fn push(&mut self, audit: &mut Audit, leaf: Hash, extra: &ExtraFiles) {
        let mut finished: Vec<(NodeId, Hash)> = Vec::new();
        self.frontier.push(leaf, |id, hash| {
            if id.level % TILE_HEIGHT == 0 {
                finished.push((id, hash));
            }
        });
        for (id, hash) in finished {
            let level = usize::from(id.level / TILE_HEIGHT);
            if self.tiles.len() <= level {
                self.tiles.resize_with(level + 1, Vec::new);
            }
            self.tiles[level].push(hash);
            if self.tiles[level].len() as u64 == TILE_WIDTH {
                let hashes = std::mem::take(&mut self.tiles[level]);
                let tile = TileId {
                    kind: TileKind::Hashes { level: level as u8 },
                    index: id.index / TILE_WIDTH,
                    width: TILE_WIDTH,
                };
                check_tile(audit, tile, &hashes, extra);
            }
        }
    }

    /// The partial tiles at the end of the tree.
    fn finish(&mut self, audit: &mut Audit, extra: &ExtraFiles) {
        let size = self.frontier.size();
        for (level, hashes) in self.tiles.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let index = (size >> (TILE_HEIGHT as usize * level)) / TILE_WIDTH;
            let tile = TileId {
                kind: TileKind::Hashes { level: level as u8 },
                index,
                width: hashes.len() as u64,
            };
            check_tile(audit, tile, hashes, extra);
        }
    }
}

/// A hash tile against the hashes the entries give, and any earlier
/// partial of it.
fn check_tile(audit: &mut Audit, tile: TileId, hashes: &[Hash], extra: &ExtraFiles) {
    let path = package::tile_path(&tile);
    if let Some(bytes) = audit.read(&path) {
        let expected: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
        if bytes != expected {
            let first = tile.first().unwrap_or(0);
            let message = match (0..hashes.len())
                .find(|&i| bytes.get(i * 32..i * 32 + 32) != Some(&expected[i * 32..i * 32 + 32]))
            {
                Some(i) if tile.tree_level() == 0 => {
                    let entry = first + i as u64;
                    let bundle = TileId {
                        kind: TileKind::Entries,
                        index: tile.index,
                        width: tile.width,
                    };
                    format!(
                        "hash {i} is not the leaf hash of entry {entry} in {}: the tile or the entry was altered",
                        package::tile_path(&bundle)
                    )
                }
                Some(i) => format!(
                    "hash {i} (node {} at tree level {}) is not the one the entries make",
                    first + i as u64,
                    tile.tree_level()
                ),
                None => format!("{} bytes, {} expected", bytes.len(), expected.len()),
            };
            audit.fail("tile_mismatch", &path, message);
        }
    }
    for &stale in extra
        .tiles
        .get(&(tile.kind, tile.index))
        .into_iter()
        .flatten()
    {
        if stale < tile.width {
            let expected: Vec<u8> = hashes[..stale as usize].iter().flat_map(|h| h.0).collect();
            audit.compare_file(
                &package::tile_path(&TileId {
                    width: stale,
                    ..tile
                }),
                &expected,
            );
        }
    }
}

/// One entry as a worker left it.
struct Checked {
    leaf: Hash,
    parsed: Result<Parsed, (&'static str, String)>,
}

struct Parsed {
    time: u64,
    statement: Statement,
    /// SHA-256 of the statement bytes: what the notary deduplicates by.
    digest: [u8; 32],
}

/// A bundle's entries, and where to answer with what the worker found.
type Job = (Vec<Vec<u8>>, mpsc::Sender<Vec<Checked>>);

/// Threads that parse entries and check their signatures, a bundle at a
/// time, answering each bundle on its own channel (so results come back in
/// order however the threads interleave).
struct Workers {
    jobs: Option<mpsc::SyncSender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn start(count: usize) -> Workers {
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

    fn submit(&self, items: Vec<Vec<u8>>) -> mpsc::Receiver<Vec<Checked>> {
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
fn check_entries(items: &[Vec<u8>]) -> Vec<Checked> {
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
struct Replay<'c, 'w> {
    registry: Overlay<TrustRoots>,
    findings: FindingsStream<'c>,
    findings_out: Option<&'w mut dyn std::io::Write>,
    last_time: u64,
    /// The statements of the last 24 h 5 min, by the first 16 bytes of
    /// their digest (a collision among a day's entries has odds of 2^-64
    /// even at a billion a day).
    recent: VecDeque<(u64, u128)>,
    recent_set: HashSet<u128>,
    replayed: Replayed,
}

impl<'c, 'w> Replay<'c, 'w> {
    fn new(
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

    fn entry(
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
        }
        self.last_time = self.last_time.max(p.time);
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

    fn finish(self, audit: &mut Audit) -> Replayed {
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
fn found(
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

/// Names in a folder, hidden ones (an interrupted export's temporary
/// files) left out.
fn list_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Every file below `dir`, as paths relative to it with `/`.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_owned(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        for name in list_dir(&path) {
            let full = path.join(&name);
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if full.is_dir() {
                stack.push((full, relative));
            } else {
                out.push(relative);
            }
        }
    }
    out
}

fn calendar_hashes(dir: &Path) -> Vec<(String, String)> {
    list_dir(dir)
        .into_iter()
        .filter(|n| n.ends_with(".txt"))
        .filter_map(|n| {
            let bytes = std::fs::read(dir.join(&n)).ok()?;
            Some((n, hex(&sha256(&bytes))))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
