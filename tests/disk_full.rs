//! A full disk: the notary's store on a small tmpfs. When a write fails the
//! notary answers 503, acknowledges nothing and appends nothing, keeps
//! serving reads, and takes writes again once the disk has room; every
//! receipt it gave stays valid, across a SIGKILL too.
//!
//! Needs `mount -t tmpfs` (root); elsewhere the test says loudly that it
//! skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::*;
use ledger::checkpoint::Checkpoint;
use ledger::receipt::Receipt;
use ledger::tlog_proof::TlogProof;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size_mb: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(dir))
        } else {
            eprintln!("\n*** SKIPPED: cannot mount a tmpfs here (needs root) ***\n");
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_full_disk_refuses_writes_loses_nothing_and_recovers() {
    let Some(fs) = Tmpfs::mount(48) else { return };
    let setup = Setup::new_in(&fs.0);
    let policy = setup.policy();
    let mut notary = setup.start();
    let (_, requester) = provider_and_requester(&setup, &notary);

    // Leave about 6 MB free, then submit until the disk is full.
    let filler = fs.0.join("filler");
    let leave = 6 << 20;
    let fill = free_bytes(&fs.0).saturating_sub(leave);
    std::fs::write(&filler, vec![0u8; fill as usize]).unwrap();
    let mut receipts = Vec::new();
    let mut refused = 0;
    for i in 0.. {
        let (status, body) = notary.submit(&new_case(&requester, &format!("FULL-{i}")));
        match status {
            201 => receipts.push(Receipt::from_json(body.to_string().as_bytes()).unwrap()),
            503 => {
                assert_eq!(body["error"], "store_unavailable", "{body}");
                // The cause stays in the notary's log: no RocksDB error, no
                // path of the data directory, for any client to read.
                let message = body["message"].as_str().unwrap();
                assert!(
                    !message.contains("RocksDB")
                        && !message.contains("/")
                        && !message.contains("space"),
                    "{message}"
                );
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {body}"),
        }
        assert!(i < 100_000, "the disk never filled up");
    }
    assert!(!receipts.is_empty());

    // Nothing refused was appended; reads still work.
    let size_when_full = notary.tree_size();
    let acknowledged = receipts.last().unwrap().index + 1;
    assert_eq!(
        size_when_full, acknowledged,
        "the tree holds exactly what was acknowledged"
    );
    let (status, _) = notary.get(&format!("/v1/proof/inclusion?index={}", receipts[0].index));
    assert_eq!(status, 200, "reads keep working while the disk is full");

    // Room again: writes are taken again within a few seconds.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = None;
    while after.is_none() {
        assert!(Instant::now() < deadline, "the notary did not recover");
        std::thread::sleep(Duration::from_millis(200));
        let (status, body) = notary.submit(&new_case(&requester, "AFTER-FULL"));
        if status == 201 {
            after = Some(Receipt::from_json(body.to_string().as_bytes()).unwrap());
        } else {
            assert_eq!(status, 503, "{body}");
        }
    }
    let after = after.unwrap();
    assert_eq!(
        after.index, acknowledged,
        "the log continues right after the last acknowledged entry"
    );

    // Everything still proves after a SIGKILL and restart.
    notary.kill();
    notary = Notary::start(&setup.data(), &[]);
    let newest = Checkpoint::verify(
        notary.checkpoint().as_bytes(),
        &policy.origin,
        &policy.log_keys,
    )
    .unwrap();
    assert_eq!(newest.size, acknowledged + 1);
    for r in receipts.iter().chain(std::iter::once(&after)) {
        r.verify(&policy).unwrap();
        let old = Checkpoint::verify(
            TlogProof::parse(&r.proof).unwrap().checkpoint.as_bytes(),
            &policy.origin,
            &policy.log_keys,
        )
        .unwrap();
        notary.check_consistent(&old, &newest).unwrap();
    }
    drop(notary);
}
