//! Step 1, 2 and the files: the manifest, the policy copy, the calendar,
//! the listing of the package's files, the checkpoint history and the keys
//! that signed it (specs/package.md §The audit; checkpoint.md §Key rotation).

use std::collections::HashMap;
use std::path::Path;

use ledger::attestation::PublicKey;
use ledger::calendar::{Calendar, CalendarFile, BUILT_IN};
use ledger::checkpoint::CheckpointError;
use ledger::hashing::{sha256, Hash};
use ledger::package::{self, Manifest};
use ledger::policy::Policy;
use ledger::tiles::{TileId, TileKind, TILE_WIDTH};

use super::state::{Audit, AuditError};

/// A checkpoint of the history that verified.
pub(super) struct HistoryCheckpoint {
    /// Its position in the history (0 is the empty tree's).
    pub(super) number: u64,
    pub(super) size: u64,
    pub(super) root: Hash,
    /// Which of the policy's log keys signed it.
    pub(super) signers: Vec<usize>,
}

/// The checkpoint history as far as it verified, and the last note of
/// the last bundle, which `checkpoint` must be.
pub(super) struct History {
    pub(super) checkpoints: Vec<HistoryCheckpoint>,
    pub(super) last_note: Option<Vec<u8>>,
}

/// Files under `tile/` and `checkpoints/` beyond those the package needs:
/// partial tiles and bundles of earlier exports, by (kind, index).
#[derive(Default)]
pub(super) struct ExtraFiles {
    pub(super) tiles: HashMap<(TileKind, u64), Vec<u64>>,
    pub(super) history: HashMap<u64, Vec<u64>>,
}

impl Audit<'_> {
    /// Reports what [`walk`] found under `folder` that is no regular file.
    fn unexpected(&mut self, folder: &str, others: Vec<String>) {
        for path in others {
            self.fail(
                "unexpected_file",
                format!("{folder}/{path}"),
                "not a regular file or folder (a symbolic link, a device): not followed",
            );
        }
    }

    /// Step 1: the manifest.
    pub(super) fn manifest(&mut self) -> Option<Manifest> {
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
    pub(super) fn check_policy_copy(&mut self) {
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
    pub(super) fn calendar(&mut self, given: Option<&Path>) -> Result<Calendar, AuditError> {
        if let Some(dir) = given {
            let calendar = Calendar::with_dir(dir)
                .map_err(|e| AuditError::Calendar(dir.display().to_string(), e.to_string()))?;
            self.report.calendar_files = calendar_hashes(dir);
            return Ok(calendar);
        }
        let dir = self.dir.join(package::CALENDAR_DIR);
        if !is_folder(&dir) {
            self.fail(
                "missing_file",
                package::CALENDAR_DIR,
                "the package lacks its calendar folder",
            );
        }
        let built_in_years: Vec<(&str, Option<i64>)> = BUILT_IN
            .iter()
            .map(|(name, text)| {
                (
                    *name,
                    CalendarFile::parse(name, text).ok().and_then(|f| f.year),
                )
            })
            .collect();
        let (names, others) = walk(&dir);
        self.unexpected(package::CALENDAR_DIR, others);
        let mut files = Vec::new();
        for name in names {
            let place = format!("{}/{name}", package::CALENDAR_DIR);
            if !name.ends_with(".txt") || name.contains('/') {
                self.fail(
                    "unexpected_file",
                    &place,
                    "calendar files are *.txt in calendar/",
                );
                continue;
            }
            let Some(bytes) = self.read(&place) else {
                continue;
            };
            let Ok(text) = String::from_utf8(bytes.clone()) else {
                self.fail("bad_calendar", &place, "not UTF-8");
                continue;
            };
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
            let file = match CalendarFile::parse(&name, &text) {
                Ok(file) => file,
                Err(e) => {
                    self.fail("bad_calendar", &place, e.to_string());
                    continue;
                }
            };
            // A national year the verifier has built in is the built-in
            // file: an auditor who accepts a correction gives --calendar.
            if let Some((built_in, _)) = built_in_years
                .iter()
                .find(|(n, y)| *n != name && y.is_some() && *y == file.year)
            {
                self.fail(
                    "calendar_differs",
                    &place,
                    format!("gives a year built into the verifier ({built_in}); give it with --calendar to use it"),
                );
                continue;
            }
            self.report
                .calendar_files
                .push((name, hex(&sha256(&bytes))));
            files.push(file);
        }
        for (name, _) in &built_in_years {
            if !files.iter().any(|f| f.name == *name) {
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
    pub(super) fn list_files(&mut self, manifest: &Manifest) -> ExtraFiles {
        let mut extra = ExtraFiles::default();
        let known = [
            package::MANIFEST,
            package::CHECKPOINT,
            package::POLICY,
            package::CALENDAR_DIR,
            "tile",
            package::HISTORY_DIR,
            package::WITNESSED,
        ];
        for name in list_dir(&self.dir) {
            let path = self.dir.join(&name);
            let kind = std::fs::symlink_metadata(&path).map(|m| m.file_type());
            let folder =
                [package::CALENDAR_DIR, "tile", package::HISTORY_DIR].contains(&name.as_str());
            let regular = kind
                .as_ref()
                .is_ok_and(|t| if folder { t.is_dir() } else { t.is_file() });
            if !known.contains(&name.as_str()) {
                self.fail("unexpected_file", &name, "not part of a package");
            } else if !regular {
                self.fail(
                    "unexpected_file",
                    &name,
                    "not a regular file or folder (a symbolic link, a device): not followed",
                );
            }
        }
        let (tiles, others) = walk(&self.dir.join("tile"));
        self.unexpected("tile", others);
        for path in tiles {
            match TileId::parse(&path) {
                Ok(id) if package::is_required(&id, manifest.size) => {}
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
        let (bundles, others) = walk(&self.dir.join(package::HISTORY_DIR));
        self.unexpected(package::HISTORY_DIR, others);
        for path in bundles {
            match package::parse_history_path(&path) {
                Some((index, width))
                    if package::is_required_bundle(index, width, manifest.checkpoints) => {}
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
    pub(super) fn history(&mut self, manifest: &Manifest, extra: &ExtraFiles) -> History {
        let mut history: Vec<HistoryCheckpoint> = Vec::new();
        let mut last_note = None;
        let mut last_size: Option<u64> = None;
        for (index, width) in package::bundles(manifest.checkpoints) {
            let path = package::history_path(index, width);
            // The first missing or broken bundle ends the history: a
            // manifest claiming more cannot make the audit read on for ever.
            let Some(bytes) = self.read(&path) else {
                break;
            };
            let notes = match package::split_bundle("the history bundle", &bytes, width) {
                Ok(n) => n,
                Err(e) => {
                    self.fail("bad_bundle", &path, e.to_string());
                    break;
                }
            };
            if (index, width) == package::last_bundle(manifest.checkpoints).unwrap_or_default() {
                last_note = notes.last().map(|n| n.to_vec());
            }
            for &stale in extra.history.get(&index).into_iter().flatten() {
                let expected = package::bundle(notes[..stale as usize].iter().copied());
                self.compare_file(&package::history_path(index, stale), &expected);
            }
            for (j, note) in notes.iter().enumerate() {
                let number = index * TILE_WIDTH + j as u64;
                let place = format!("{path}: checkpoint {number}");
                let (checkpoint, signers) = match self.policy.verify_checkpoint(note) {
                    Ok(c) => c,
                    Err(e @ CheckpointError::KeyNotInForce { .. }) => {
                        self.fail(
                            "checkpoint_key_not_in_force",
                            format!("checkpoint {number}"),
                            e.to_string(),
                        );
                        continue;
                    }
                    Err(e) => {
                        self.fail("bad_checkpoint", place, e.to_string());
                        continue;
                    }
                };
                let place = format!("checkpoint {number}");
                if signers.len() != 1 {
                    self.fail(
                        "checkpoint_key_not_in_force",
                        &place,
                        format!(
                            "signed by {} log keys of the policy; the notary signs each checkpoint with one",
                            signers.len()
                        ),
                    );
                    continue;
                }
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
                history.push(HistoryCheckpoint {
                    number,
                    size: checkpoint.size,
                    root: checkpoint.root,
                    signers,
                });
            }
        }
        History {
            checkpoints: history,
            last_note,
        }
    }

    /// The `checkpoint` file is the last of the history, of the manifest's size.
    pub(super) fn check_latest(&mut self, manifest: &Manifest, history: &History) {
        let Some(latest) = self.read(package::CHECKPOINT) else {
            return;
        };
        let (last, history) = (&history.last_note, &history.checkpoints);
        match self.policy.verify_checkpoint(&latest) {
            Ok((c, _)) if c.size != manifest.size => self.fail(
                "checkpoint_mismatch",
                package::MANIFEST,
                format!(
                    "says size {}, and `checkpoint` is of size {}",
                    manifest.size, c.size
                ),
            ),
            Ok(_) => {}
            Err(e @ CheckpointError::KeyNotInForce { .. }) => self.fail(
                "checkpoint_key_not_in_force",
                package::CHECKPOINT,
                e.to_string(),
            ),
            Err(e) => self.fail("bad_checkpoint", package::CHECKPOINT, e.to_string()),
        }
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

    /// The checkpoints seen elsewhere that verify under the policy, as
    /// (name, size, root); those that do not are failures.
    pub(super) fn seen_checkpoints(
        &mut self,
        seen: &[(String, Vec<u8>)],
    ) -> Vec<(String, u64, Hash)> {
        let mut out = Vec::new();
        for (name, note) in seen {
            match self.policy.verify_checkpoint(note) {
                Ok((c, _)) => out.push((name.clone(), c.size, c.root)),
                Err(e) => self.fail("bad_checkpoint", name, e.to_string()),
            }
        }
        out
    }

    /// The package's witnessed checkpoint (package.md step 8): verified,
    /// its cosignatures meeting the policy's quorum, and returned to be
    /// checked against the tree like a checkpoint seen elsewhere. A policy
    /// with a quorum needs one.
    pub(super) fn witnessed(&mut self) -> Option<(String, u64, Hash)> {
        let path = self.dir.join(package::WITNESSED);
        if !path.exists() {
            if let Some(q) = &self.policy.quorum {
                self.fail(
                    "not_witnessed",
                    package::WITNESSED,
                    format!("the policy asks for the quorum {q}, and the package holds no checkpoint its witnesses cosigned"),
                );
            }
            return None;
        }
        let note = self.read(package::WITNESSED)?;
        let checkpoint = match self.policy.verify_checkpoint(&note) {
            Ok((c, _)) => c,
            Err(e) => {
                self.fail("bad_checkpoint", package::WITNESSED, e.to_string());
                return None;
            }
        };
        match self.policy.check_witnessed(&note, checkpoint.size) {
            Ok(by) => {
                self.report.witnessed = Some((checkpoint.size, by));
            }
            Err(e) => self.fail("not_witnessed", package::WITNESSED, e.to_string()),
        }
        Some((
            package::WITNESSED.to_owned(),
            checkpoint.size,
            checkpoint.root,
        ))
    }

    /// Checkpoint keys in force (checkpoint.md §Key rotation).
    pub(super) fn check_checkpoint_keys(
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
}

/// Names in a folder, hidden ones (an interrupted export's temporary
/// files) left out.
pub(super) fn list_dir(dir: &Path) -> Vec<String> {
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
/// Every regular file below `dir`, as paths relative to it with `/`, and
/// apart the paths of anything else (symbolic links, devices), which are
/// never followed or read. A `dir` that is itself no folder holds nothing.
pub(super) fn walk(dir: &Path) -> (Vec<String>, Vec<String>) {
    let (mut files, mut others) = (Vec::new(), Vec::new());
    if !is_folder(dir) {
        return (files, others);
    }
    let mut stack = vec![(dir.to_owned(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        for name in list_dir(&path) {
            let full = path.join(&name);
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            match std::fs::symlink_metadata(&full).map(|m| m.file_type()) {
                Ok(t) if t.is_dir() => stack.push((full, relative)),
                Ok(t) if t.is_file() => files.push(relative),
                _ => others.push(relative),
            }
        }
    }
    (files, others)
}

/// Whether `path` is a folder itself, not a link to one.
pub(super) fn is_folder(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
}

pub(super) fn calendar_hashes(dir: &Path) -> Vec<(String, String)> {
    list_dir(dir)
        .into_iter()
        .filter(|n| n.ends_with(".txt"))
        .filter_map(|n| {
            let bytes = std::fs::read(dir.join(&n)).ok()?;
            Some((n, hex(&sha256(&bytes))))
        })
        .collect()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
