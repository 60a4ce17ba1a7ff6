//! The report, as people read it and as `--json` gives it
//! (specs/package.md §Report).

use std::path::Path;

use ledger::findings::Finding;

/// Failures listed in a report; all are counted.
pub const MAX_LISTED_FAILURES: usize = 1000;

/// Findings listed in a report; all are counted by code, and written to
/// [`AuditOptions::findings_out`] if given.
pub const MAX_LISTED_FINDINGS: usize = 1000;

/// Flags listed in a report; all are counted.
pub const MAX_LISTED_FLAGS: usize = 1000;

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
    /// The first [`MAX_LISTED_FLAGS`] flags, in index order.
    pub flagged: Vec<Flag>,
    pub flagged_total: u64,
    /// The first [`MAX_LISTED_FINDINGS`] findings, in the order found.
    pub findings: Vec<Finding>,
    pub findings_total: u64,
    pub findings_by_code: std::collections::BTreeMap<&'static str, u64>,
    pub failures: Vec<Failure>,
    pub failures_total: u64,
    /// The package's witnessed checkpoint: its size and who cosigned it.
    pub witnessed: Option<(u64, Vec<String>)>,
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
            "flagged_total": self.flagged_total,
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
            "witnessed": self.witnessed.as_ref().map(|(size, by)| serde_json::json!({"size": size, "by": by})).unwrap_or_else(|| serde_json::json!({})),
            "calendar": self.calendar_files.iter().map(|(n, h)| serde_json::json!({"file": n, "sha256": h})).collect::<Vec<_>>(),
            "seconds": (seconds * 1000.0).round() / 1000.0,
        })
    }

    /// The text report, one line each.
    pub fn text(&self, package: &Path, seconds: f64) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.failures {
            out.push(format!(
                "FAIL {}: {}: {}",
                shown(&f.place),
                f.code,
                shown(&f.message)
            ));
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
            shown(&package.display().to_string()),
            self.origin
        ));
        out.push(format!(
            "  {} entries, {} checkpoints; {} departments, {} keys, {} cases",
            self.size, self.checkpoints, self.departments, self.keys, self.cases
        ));
        if self.flagged_total > self.flagged.len() as u64 {
            out.push(format!(
                "… and {} flags more",
                self.flagged_total - self.flagged.len() as u64
            ));
        }
        out.push(format!(
            "  {} flagged; {} findings{}",
            self.flagged_total,
            self.findings_total,
            if by_code.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_code.join(", "))
            }
        ));
        if let Some((size, by)) = &self.witnessed {
            out.push(format!(
                "  witnessed: the checkpoint of size {size}, cosigned by {}",
                by.join(", ")
            ));
        }
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

/// Text as a line of the report shows it: control characters (a file
/// named with a newline and `VALID`, terminal escapes) escaped.
fn shown(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}
