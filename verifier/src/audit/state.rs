//! The audit in progress: the package folder, the policy it is checked
//! against, and the report so far, which every step adds its failures to.

use std::path::PathBuf;

use ledger::findings::Settings;
use ledger::policy::Policy;

use super::report::{AuditReport, Failure, MAX_LISTED_FAILURES};

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
    /// Checkpoints the auditor saw elsewhere (in receipts, from
    /// departments), each with the name to report it by: the package must
    /// hold the tree each signs (specs/package.md §The audit).
    pub seen: Vec<(String, Vec<u8>)>,
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

pub(super) struct Audit<'a> {
    pub(super) dir: PathBuf,
    pub(super) policy: &'a Policy,
    pub(super) policy_text: &'a str,
    pub(super) report: AuditReport,
}

impl Audit<'_> {
    pub(super) fn fail(
        &mut self,
        code: &'static str,
        place: impl Into<String>,
        message: impl Into<String>,
    ) {
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
    pub(super) fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        match read_regular(&self.dir.join(path)) {
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

    /// Compares a file with what it must hold, saying where they part.
    pub(super) fn compare_file(&mut self, path: &str, expected: &[u8]) {
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
}

/// The largest file a package holds: a bundle of 256 items of 65,535
/// bytes, each with its 2-byte length.
pub const MAX_FILE_BYTES: u64 = 256 * (65_535 + 2);

/// Reads a regular file of at most [`MAX_FILE_BYTES`]: never a device, a
/// FIFO or a link (which `walk` reports), never without bound.
fn read_regular(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a symbolic link, a device): not read",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than any file of a package ({MAX_FILE_BYTES} bytes)"
        )));
    }
    Ok(bytes)
}
