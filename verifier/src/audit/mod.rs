//! The full audit of an auditor's package (specs/package.md §The audit).
//!
//! One pass over the entry bundles, in index order, recomputes the tree
//! and replays the registry; signatures and parsing run on worker threads,
//! a few bundles ahead, while this thread hashes and decides in order.
//! Memory holds the registry, the case clocks, the checkpoint roots and a
//! day of statement digests, never the entries.
//!
//! | module | what it checks |
//! |---|---|
//! | [`files`] | the manifest, the policy copy, the calendar, the file listing, the checkpoint history and the keys that signed it |
//! | [`tree`] | the tree the entries make against the hash tiles and every checkpoint's root |
//! | [`replay`] | the entries: parsed and verified on worker threads, replayed in order; the flags |
//! | [`report`] | the report, as text and JSON |
//! | [`state`] | the audit in progress: the package folder, the policy, the report so far |

mod files;
mod replay;
mod report;
mod state;
mod tree;

use std::path::Path;

use ledger::policy::Policy;

pub use report::{AuditReport, Failure, Flag, MAX_LISTED_FAILURES, MAX_LISTED_FINDINGS};
use state::Audit;
pub use state::{AuditError, AuditOptions};

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
    let history = history.checkpoints;
    let mut seen = audit.seen_checkpoints(&options.seen);
    seen.extend(audit.witnessed());
    let mut replayed = audit.entries(&manifest, &history, &seen, &extra, &calendar, options);
    if let Some(e) = replayed.output_error.take() {
        return Err(AuditError::Output(e));
    }
    audit.check_checkpoint_keys(&history, &replayed.log_keys);
    if !replayed.compromised.is_empty() {
        audit.flag_compromised(&manifest, &replayed.compromised);
    }
    Ok(audit.report)
}
