//! The `verifier` binary as auditors run it: on the worked example of
//! specs/examples, exit 0 when valid, 1 when invalid (naming what failed),
//! 2 for usage errors; `--json` for machines.

use std::path::PathBuf;
use std::process::{Command, Output};

use e2e::binary;
use serde_json::Value;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/examples")
}

fn verifier(args: &[&str]) -> Output {
    Command::new(binary("verifier"))
        .args(args)
        // English messages, whatever the developer's locale.
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run verifier")
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn valid_receipt_exits_0_with_a_report() {
    let (receipt, policy) = (
        examples().join("receipt.json"),
        examples().join("policy.txt"),
    );
    let out = verifier(&["receipt", path(&receipt), "--policy", path(&policy)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with("VALID: entry 2 (catalog_entry) signed by gd.rst"));
    let out = verifier(&[
        "--json",
        "receipt",
        path(&receipt),
        "--policy",
        path(&policy),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            report["valid"].as_bool(),
            report["index"].as_u64(),
            report["kind"].as_str()
        ),
        (Some(true), Some(2), Some("catalog_entry"))
    );
}

#[test]
fn tampered_receipt_exits_1_naming_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(examples().join("receipt.json")).unwrap();
    let mut receipt: Value = serde_json::from_str(&text).unwrap();
    receipt["index"] = 1.into();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, receipt.to_string()).unwrap();
    let policy = examples().join("policy.txt");
    let out = verifier(&[
        "--json",
        "receipt",
        path(&tampered),
        "--policy",
        path(&policy),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["error"], "index_mismatch", "{report}");

    // A policy whose notary key is another one: the checkpoint does not verify.
    let other = dir.path().join("policy.txt");
    let root = std::fs::read_to_string(&policy)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("root"))
        .unwrap()
        .to_owned();
    std::fs::write(&other, format!("log example.gov.cn/share-audit/2026+00000000+AcHYY1TbPV8zrrQ6gv7H06XsGwsGH3xR6tcQ+QCMKQ1p\n{root}\n")).unwrap();
    let out = verifier(&[
        "receipt",
        path(&examples().join("receipt.json")),
        "--policy",
        path(&other),
    ]);
    // A vkey whose ID does not match is a usage error (bad policy) ...
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let policy = examples().join("policy.txt");
    assert_eq!(
        verifier(&["receipt", "/nonexistent.json", "--policy", path(&policy)])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        verifier(&["receipt", path(&examples().join("receipt.json"))])
            .status
            .code(),
        Some(2),
        "--policy is required"
    );
    assert_eq!(verifier(&["frobnicate"]).status.code(), Some(2));
    let out = verifier(&[
        "--json",
        "receipt",
        path(&examples().join("receipt.json")),
        "--policy",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["error"],
        "usage"
    );
}

#[test]
fn consistency_of_two_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let receipt: Value =
        serde_json::from_str(&std::fs::read_to_string(examples().join("receipt.json")).unwrap())
            .unwrap();
    let checkpoint_of = |proof: &Value| {
        ledger::tlog_proof::TlogProof::parse(proof.as_str().unwrap())
            .unwrap()
            .checkpoint
    };
    let (old, new) = (dir.path().join("old.txt"), dir.path().join("new.txt"));
    std::fs::write(&old, checkpoint_of(&receipt["evidence"][1]["proof"])).unwrap(); // size 2
    std::fs::write(&new, checkpoint_of(&receipt["proof"])).unwrap(); // size 3
                                                                     // RFC 9162 §2.1.4.1: PROOF(2, D[0:3]) = [MTH(D[2:3])], the leaf hash of entry 2.
    let proof = dir.path().join("proof.txt");
    std::fs::write(
        &proof,
        format!("{}\n", receipt["leaf_hash"].as_str().unwrap()),
    )
    .unwrap();
    let policy = examples().join("policy.txt");
    let out = verifier(&[
        "consistency",
        path(&old),
        path(&new),
        path(&proof),
        "--policy",
        path(&policy),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = verifier(&[
        "--json",
        "consistency",
        path(&new),
        path(&old),
        path(&proof),
        "--policy",
        path(&policy),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["error"],
        "inconsistent"
    );
    std::fs::write(
        &proof,
        format!(
            "{}\n",
            receipt["evidence"][0]["leaf_hash"].as_str().unwrap()
        ),
    )
    .unwrap();
    let out = verifier(&[
        "consistency",
        path(&old),
        path(&new),
        path(&proof),
        "--policy",
        path(&policy),
    ]);
    assert_eq!(out.status.code(), Some(1), "a wrong proof is refused");
}

#[test]
fn the_report_shows_what_an_auditor_needs() {
    let (receipt, policy) = (
        examples().join("receipt.json"),
        examples().join("policy.txt"),
    );
    let out = verifier(&["receipt", path(&receipt), "--policy", path(&policy)]);
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "notarised 2025-11-27 08:00:02.100 CST",
        "(2025-11-27T00:00:02.100Z)",
        "department  gd.rst",
        "step        catalog_entry",
        "\"item\": \"rst/shebao-jiaofei\"",
        "entry 0 (department) signed by gd.zsj.root",
        "entry 1 (department_key) signed by gd.zsj.root",
        "signed by example.gov.cn/share-audit/2026+",
    ] {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
    let out = verifier(&["--json", "receipt", "-", "--policy", path(&policy)]);
    assert_eq!(out.status.code(), Some(1), "an empty input is no receipt");
    let out = std::process::Command::new(binary("verifier"))
        .args(["--json", "receipt", "-", "--policy", path(&policy)])
        .stdin(std::fs::File::open(&receipt).unwrap())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["statement"]["body"]["item"], "rst/shebao-jiaofei");
    assert_eq!(report["evidence"][1]["kind"], "department_key");
    assert_eq!(report["notarised_at_utc"], "2025-11-27T00:00:02.100Z");
    assert_eq!(
        report["checkpoint"]["signed_by"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn several_receipts_at_once_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(examples().join("receipt.json")).unwrap();
    std::fs::write(dir.path().join("a.json"), &good).unwrap();
    let mut bad: Value = serde_json::from_slice(&good).unwrap();
    bad["index"] = 1.into();
    std::fs::write(dir.path().join("b.json"), bad.to_string()).unwrap();
    let policy = examples().join("policy.txt");
    let out = verifier(&["receipt", path(dir.path()), "--policy", path(&policy)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a.json: VALID: entry 2"), "{text}");
    assert!(text.contains("b.json: INVALID"), "{text}");
    assert!(text.contains("1 valid, 1 invalid, of 2"), "{text}");
    let out = verifier(&[
        "--json",
        "receipt",
        path(dir.path()),
        "--policy",
        path(&policy),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["counts"]["invalid"], 1);
    assert_eq!(report["receipts"][1]["error"], "index_mismatch");
}

#[test]
fn a_receipt_of_another_notary_names_its_key_and_the_trusted_ones() {
    // The example's policy with another log key under the same origin.
    let other =
        ledger::note::NoteSigner::new("example.gov.cn/share-audit/2026", ed25519_dalek_key())
            .unwrap();
    let example = std::fs::read_to_string(examples().join("policy.txt")).unwrap();
    let policy: String = example
        .lines()
        .map(|l| {
            if l.starts_with("log ") {
                format!("log {}\n", other.verifier().encode())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("policy.txt");
    std::fs::write(&policy_file, policy).unwrap();
    let receipt = examples().join("receipt.json");
    let out = verifier(&[
        "--json",
        "receipt",
        path(&receipt),
        "--policy",
        path(&policy_file),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let signed_by = report["signed_by"][0].as_str().unwrap().to_owned();
    let trusted = report["trusted"][0].as_str().unwrap().to_owned();
    assert!(signed_by.starts_with("example.gov.cn/share-audit/2026+"));
    assert_eq!(
        trusted,
        format!(
            "example.gov.cn/share-audit/2026+{:08x}",
            other.verifier().key_id
        )
    );
    assert_ne!(signed_by, trusted);
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains(&signed_by) && message.contains(&trusted),
        "{message}"
    );
}

fn ed25519_dalek_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32])
}

#[test]
fn reports_in_chinese_keep_their_codes() {
    let (receipt, policy) = (
        examples().join("receipt.json"),
        examples().join("policy.txt"),
    );
    let out = verifier(&[
        "--lang",
        "zh",
        "receipt",
        path(&receipt),
        "--policy",
        path(&policy),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("有效：第 2 条（catalog_entry），由 gd.rst 签署"),
        "{text}"
    );
    assert!(text.contains("公证时间"), "{text}");
    let mut bad: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    bad["index"] = 1.into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, bad.to_string()).unwrap();
    let out = verifier(&[
        "--lang",
        "zh",
        "receipt",
        path(&file),
        "--policy",
        path(&policy),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("无效："));
    let out = verifier(&[
        "--lang",
        "zh",
        "--json",
        "receipt",
        path(&file),
        "--policy",
        path(&policy),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"], "index_mismatch");
}

/// The examples of specs/calendar.md §Counting, as the verifier computes them.
#[test]
fn deadlines_as_the_spec_counts_them() {
    let spec = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/calendar.md"),
    )
    .unwrap();
    let mut checked = 0;
    for row in spec.lines().filter(|l| l.starts_with("| 2026-")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let from = cells[1].split(' ').next().unwrap();
        let (n, due) = (cells[2], cells[3]);
        let out = verifier(&["--json", "deadline", "--from", from, "--working-days", n]);
        assert_eq!(out.status.code(), Some(0));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected_day = due.split(',').next().unwrap();
        assert_eq!(report["due"], expected_day, "{row}");
        assert_eq!(report["provisional"], due.contains("provisional"), "{row}");
        checked += 1;
    }
    assert_eq!(checked, 4);
    // Text: the day, and the word provisional when it is.
    let out = verifier(&[
        "deadline",
        "--from",
        "2026-12-30T10:00:00+08:00",
        "--working-days",
        "3",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2027-01-04 provisional"));
    // Near midnight in Beijing: one millisecond decides the day the period
    // starts, and so its due day.
    for (from, due) in [
        ("2026-04-29T23:59:59.999+08:00", "2026-04-30"),
        ("2026-04-30T00:00:00.000+08:00", "2026-05-06"),
        ("2026-04-29T15:59:59.999Z", "2026-04-30"),
        ("2026-04-29T16:00:00.000Z", "2026-05-06"),
    ] {
        let out = verifier(&["--json", "deadline", "--from", from, "--working-days", "1"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["due"], due, "{from}");
    }
    for bad in [
        &["deadline", "--from", "2026-02-13", "--working-days", "1"][..],
        &[
            "deadline",
            "--from",
            "2026-02-13T10:00:00Z",
            "--working-days",
            "0",
        ],
    ] {
        assert_eq!(verifier(bad).status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn a_calendar_folder_adds_years_and_a_jurisdictions_days() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cn-2027.txt"),
        "share-audit/calendar/v1\nyear 2027\nsource 国务院办公厅 2026-11-01 测试通知\noff 2027-01-01 元旦\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("gd.txt"),
        "share-audit/calendar/v1\njurisdiction 广东省\nsource 广东省人民政府 2026-01-05 测试通知\noff 2026-12-31 地方假日\n",
    )
    .unwrap();
    let out = verifier(&[
        "--json",
        "deadline",
        "--from",
        "2026-12-30T10:00:00+08:00",
        "--working-days",
        "2",
        "--calendar",
        path(dir.path()),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // 31 Dec off in Guangdong, 1 Jan a national holiday: 4 and 5 Jan.
    assert_eq!(report["due"], "2027-01-05");
    assert_eq!(report["provisional"], false);
    std::fs::write(
        dir.path().join("bad.txt"),
        "share-audit/calendar/v1\nyear 2028\n",
    )
    .unwrap();
    let out = verifier(&[
        "deadline",
        "--from",
        "2026-12-30T10:00:00+08:00",
        "--working-days",
        "2",
        "--calendar",
        path(dir.path()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `source` line"));
}
