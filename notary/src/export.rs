//! `notary export`: the auditor's package (specs/package.md §Layout).
//!
//! The store is opened read-only, so an export runs beside `notary serve`
//! and sees the log as it was when the export began. Tiles, entry bundles
//! and history bundles never change once written: an export into an older
//! package of the same log writes only the files it lacks. `checkpoint` and
//! `manifest` are replaced last, each by an atomic rename, so an export cut
//! short leaves the previous package valid.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ledger::calendar::BUILT_IN;
use ledger::package::{self, Manifest};
use ledger::store::Store;
use ledger::tiles::{TileId, TileKind, TILE_WIDTH};

use crate::datadir::DataDir;

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub size: u64,
    pub checkpoints: u64,
    /// Files written by this export (not counting those already there).
    pub written: u64,
    /// Files already there, left as they were.
    pub kept: u64,
}

/// Exports the log of `data` up to its newest checkpoint of size at most
/// `size` (default: its newest) into the package folder `out`, with the
/// calendar files of `calendar` (as `notary serve --calendar`) beside the
/// built-in years.
pub fn export(
    data: &Path,
    out: &Path,
    size: Option<u64>,
    calendar: Option<&Path>,
) -> Result<ExportSummary> {
    let dir = DataDir::new(data);
    dir.check_initialised()?;
    let policy_text = ledger::policy::read_small(&dir.policy())
        .with_context(|| format!("reading {}", dir.policy().display()))?;
    let policy = dir.load_policy()?;
    let calendars = calendar_files(calendar)?;
    let store = Store::open_read_only(&dir.db())
        .with_context(|| format!("opening {} read-only", dir.db().display()))?;
    let (size, checkpoint) = match size {
        None => store.latest_checkpoint()?,
        Some(at_most) => store
            .checkpoint_at_most(at_most)?
            .context("the store holds no checkpoint")?,
    };

    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    check_previous(&store, out, &policy.origin, size)?;

    let mut summary = ExportSummary {
        size,
        ..ExportSummary::default()
    };
    let mut files = Files {
        root: out.to_owned(),
        summary: &mut summary,
        folders: std::collections::BTreeSet::new(),
    };
    for (index, width) in package::bundles(size) {
        let id = TileId {
            kind: TileKind::Entries,
            index,
            width,
        };
        files.immutable(&package::tile_path(&id), || {
            let first = index * TILE_WIDTH;
            let entries = store.entries(first, first + width)?;
            Ok(package::bundle(entries.iter().map(Vec::as_slice)))
        })?;
    }
    for id in package::hash_tiles(size) {
        files.immutable(&package::tile_path(&id), || {
            let level = u8::try_from(id.tree_level()).expect("a tree of u64 leaves has 64 levels");
            let first = id.index * TILE_WIDTH;
            let hashes = store.node_run(level, first, id.width)?;
            Ok(hashes.iter().flat_map(|h| h.0).collect())
        })?;
    }
    let checkpoints = export_history(&store, &mut files, size)?;
    files.replaceable(package::POLICY, policy_text.as_bytes())?;
    // The newest witnessed checkpoint the package's tree holds, if any.
    let witnessed = fs::read_to_string(dir.witnessed()).ok().filter(|note| {
        note.lines()
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s <= size)
    });
    if let Some(note) = witnessed {
        files.replaceable(package::WITNESSED, note.as_bytes())?;
    }
    for (name, text) in &calendars {
        files.replaceable(
            &format!("{}/{name}", package::CALENDAR_DIR),
            text.as_bytes(),
        )?;
    }
    // Every folder written is durable before the files that name them.
    for folder in std::mem::take(&mut files.folders) {
        sync_dir(&folder)?;
    }
    // Last, so that a package is only ever as large as what is written.
    files.replaceable(package::CHECKPOINT, checkpoint.as_bytes())?;
    let manifest = Manifest {
        origin: policy.origin.clone(),
        size,
        checkpoints,
    };
    files.replaceable(package::MANIFEST, manifest.encode().as_bytes())?;
    sync_dir(out)?;
    summary.checkpoints = checkpoints;
    Ok(summary)
}

/// Writes the history bundles of every checkpoint up to `size`; returns
/// how many checkpoints there are.
fn export_history(store: &Store, files: &mut Files, size: u64) -> Result<u64> {
    let mut count = 0u64;
    let mut pending: Vec<String> = Vec::with_capacity(TILE_WIDTH as usize);
    store.each_checkpoint(0, size, |_, note| -> Result<()> {
        pending.push(note);
        count += 1;
        if pending.len() as u64 == TILE_WIDTH {
            let notes = std::mem::take(&mut pending);
            let path = package::history_path(count / TILE_WIDTH - 1, TILE_WIDTH);
            files.immutable(&path, || {
                Ok(package::bundle(notes.iter().map(|n| n.as_bytes())))
            })?;
        }
        Ok(())
    })?;
    if !pending.is_empty() {
        let path = package::history_path(count / TILE_WIDTH, pending.len() as u64);
        files.immutable(&path, || {
            Ok(package::bundle(pending.iter().map(|n| n.as_bytes())))
        })?;
    }
    Ok(count)
}

/// Refuses to export into a package of another log, of a larger size, or
/// whose checkpoint this notary did not sign.
fn check_previous(store: &Store, out: &Path, origin: &str, size: u64) -> Result<()> {
    let manifest_path = out.join(package::MANIFEST);
    let bytes = match fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", manifest_path.display())),
    };
    let previous = Manifest::parse(&bytes)
        .with_context(|| format!("{} holds a package whose manifest", out.display()))?;
    if previous.origin != origin {
        bail!(
            "{} holds a package of log {}, not of {origin}; export into another folder",
            out.display(),
            previous.origin
        );
    }
    if previous.size > size {
        bail!(
            "{} holds a package of size {}, larger than {size}; export into another folder",
            out.display(),
            previous.size
        );
    }
    let theirs = fs::read(out.join(package::CHECKPOINT)).with_context(|| {
        format!(
            "{} holds a manifest but no readable checkpoint",
            out.display()
        )
    })?;
    let Some(ours) = store.checkpoint(previous.size)? else {
        bail!(
            "{} holds a package of size {}, a size this notary signed no checkpoint for: \
             it is of another history; keep it as evidence and export into another folder",
            out.display(),
            previous.size
        );
    };
    if theirs != ours.as_bytes() {
        bail!(
            "the checkpoint in {} is not the one this notary signed at size {}: \
             it is of another history; keep it as evidence and export into another folder",
            out.display(),
            previous.size
        );
    }
    Ok(())
}

/// The calendar files in force: the built-in national years, replaced or
/// joined by the `*.txt` files of `dir`, as `notary serve` loads them.
fn calendar_files(dir: Option<&Path>) -> Result<Vec<(String, String)>> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut given_years = Vec::new();
    if let Some(dir) = dir {
        // Parse them as the notary does, so an export never carries a
        // calendar the notary would refuse.
        ledger::calendar::Calendar::with_dir(dir)
            .with_context(|| format!("--calendar {}", dir.display()))?;
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{}: not a UTF-8 file name", path.display()))?
                .to_owned();
            let text = ledger::policy::read_small(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let parsed = ledger::calendar::CalendarFile::parse(&name, &text)?;
            given_years.extend(parsed.year);
            if BUILT_IN.iter().any(|(n, t)| *n == name && *t != text) {
                bail!(
                    "{}: a calendar file named as a built-in one must be that file; rename it",
                    path.display()
                );
            }
            files.push((name, text));
        }
    }
    for (name, text) in BUILT_IN {
        let year = ledger::calendar::CalendarFile::parse(name, text)
            .expect("built-in calendars parse")
            .year;
        if !year.is_some_and(|y| given_years.contains(&y)) && !files.iter().any(|(n, _)| n == name)
        {
            files.push(((*name).to_owned(), (*text).to_owned()));
        }
    }
    files.sort();
    Ok(files)
}

/// Writes the package's files, counting them.
struct Files<'a> {
    root: PathBuf,
    summary: &'a mut ExportSummary,
    /// Folders a file was written into, to sync before the manifest.
    folders: std::collections::BTreeSet<PathBuf>,
}

impl Files<'_> {
    /// Writes `path` unless it is there already: these files never change.
    fn immutable(&mut self, path: &str, contents: impl FnOnce() -> Result<Vec<u8>>) -> Result<()> {
        let target = self.root.join(path);
        if target.is_file() {
            self.summary.kept += 1;
            return Ok(());
        }
        write_atomically(&target, &contents()?)?;
        self.folders.extend(target.parent().map(Path::to_path_buf));
        self.summary.written += 1;
        Ok(())
    }

    /// Writes `path` if it is missing or says something else.
    fn replaceable(&mut self, path: &str, contents: &[u8]) -> Result<()> {
        let target = self.root.join(path);
        if fs::read(&target).is_ok_and(|old| old == contents) {
            self.summary.kept += 1;
            return Ok(());
        }
        write_atomically(&target, contents)?;
        self.folders.extend(target.parent().map(Path::to_path_buf));
        self.summary.written += 1;
        Ok(())
    }
}

/// Writes `contents` to a temporary file beside `target`, syncs it, and
/// renames it into place: readers see the old file or the new, never part.
fn write_atomically(target: &Path, contents: &[u8]) -> Result<()> {
    let parent = target.parent().expect("package paths have a folder");
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    crate::datadir::write_atomically(target, contents)
        .with_context(|| format!("writing {}", target.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    crate::datadir::sync_dir(dir).with_context(|| format!("syncing {}", dir.display()))
}
