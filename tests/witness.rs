//! The `witness` binary over HTTP, cosigning a real notary's checkpoints
//! (specs/witness.md): the protocol's answers, its evidence, and that a
//! SIGKILL at any moment never makes it forget what it cosigned.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::*;
use ledger::note::{Note, VerifierKey};

struct Witness {
    child: Child,
    url: String,
}

impl Witness {
    fn start(data: &Path, logs: &Path) -> Witness {
        let mut child = Command::new(binary("witness"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--logs")
            .arg(logs)
            .env("WITNESS_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("witness listening on ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_owned();
        Witness { child, url }
    }

    fn add(&self, body: &str) -> (u16, String, String) {
        match ureq::post(&format!("{}/add-checkpoint", self.url)).send_string(body) {
            Ok(r) => (
                r.status(),
                r.content_type().to_owned(),
                r.into_string().unwrap(),
            ),
            Err(ureq::Error::Status(code, r)) => {
                (code, r.content_type().to_owned(), r.into_string().unwrap())
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request from the witness's size `old` to the notary's newest checkpoint.
fn request(notary: &Notary, old: u64) -> (u64, String) {
    let checkpoint = notary.checkpoint();
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let proof = if old == 0 || old == size {
        String::new()
    } else {
        notary.get_text(&format!("/v1/proof/consistency?from={old}&to={size}"))
    };
    (size, format!("old {old}\n{proof}\n{checkpoint}"))
}

fn witness_setup(setup: &Setup) -> (std::path::PathBuf, std::path::PathBuf, VerifierKey) {
    let dir = setup.dir.path().join("witness");
    let o = Command::new(binary("witness"))
        .args(["init", "--name", "witness.test.gov.cn/w1", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let vkey = std::fs::read_to_string(dir.join("witness.vkey")).unwrap();
    let logs = setup.dir.path().join("logs.txt");
    let notary_vkey = std::fs::read_to_string(setup.data().join("notary.vkey")).unwrap();
    std::fs::write(
        &logs,
        format!("# the notaries this witness follows\nlog {notary_vkey}"),
    )
    .unwrap();
    (dir, logs, VerifierKey::parse(vkey.trim()).unwrap())
}

#[test]
fn a_witness_cosigns_a_notarys_history_and_refuses_another() {
    let setup = Setup::new();
    let notary = setup.start();
    let (dir, logs, vkey) = witness_setup(&setup);
    let witness = Witness::start(&dir, &logs);

    let (first, body) = request(&notary, 0);
    let (status, _, line) = witness.add(&body);
    assert_eq!(status, 200, "{line}");
    // The line is a cosignature/v1 of the checkpoint, by the witness key.
    let cosigned = format!("{}{line}", notary.checkpoint());
    Note::parse(cosigned.as_bytes())
        .unwrap()
        .verify(std::slice::from_ref(&vkey))
        .unwrap();

    provider_and_requester(&setup, &notary);
    let (second, body) = request(&notary, first);
    let (status, _, line) = witness.add(&body);
    assert_eq!(status, 200, "{line}");
    // A stale old size is told the size cosigned.
    let (status, content_type, said) = witness.add(&request(&notary, first).1);
    assert_eq!(
        (status, content_type.as_str(), said),
        (409, "text/x.tlog.size", format!("{second}\n"))
    );
    // Another notary under the same origin (its key is not followed), a
    // log not followed, a signature that does not verify.
    let other = Setup::new();
    let other_notary = other.start();
    assert_eq!(witness.add(&request(&other_notary, 0).1).0, 403);
    let elsewhere = Setup::with(
        &std::env::temp_dir(),
        "other.gov.cn/share-audit/2026",
        department("gd.root"),
    );
    let elsewhere_notary = elsewhere.start();
    assert_eq!(witness.add(&request(&elsewhere_notary, 0).1).0, 404);
    let forged = request(&notary, second).1.replacen("\n— ", "\n— x", 1);
    assert!(matches!(witness.add(&forged).0, 400 | 403), "{forged}");

    // The notary's key signs another root at the cosigned size: refused,
    // kept as evidence.
    let key = ledger::keyfile::read_signer(&setup.data().join("notary.key")).unwrap();
    let text = notary.checkpoint();
    let mut fork =
        ledger::checkpoint::Checkpoint::parse_body(&text[..text.find("\n\n").unwrap() + 1])
            .unwrap();
    fork.root = ledger::hashing::leaf_hash(b"another history");
    let (status, _, _) = witness.add(&format!("old {second}\n\n{}", fork.sign(&key)));
    assert_eq!(status, 409);
    assert_eq!(std::fs::read_dir(dir.join("evidence")).unwrap().count(), 1);
    // What it cosigned last, with its cosignature.
    let latest = ureq::get(&format!("{}/checkpoint/{}", witness.url, ORIGIN))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        latest.starts_with(&text[..text.find("\n\n").unwrap()]),
        "{latest}"
    );
    Note::parse(latest.as_bytes())
        .unwrap()
        .verify(std::slice::from_ref(&vkey))
        .unwrap();
}

#[test]
fn a_witness_killed_at_any_moment_never_rolls_back() {
    let setup = Setup::new();
    let notary = setup.start();
    let (dir, logs, _) = witness_setup(&setup);
    let (_, requester) = provider_and_requester(&setup, &notary);
    let mut witness = Witness::start(&dir, &logs);
    let mut acknowledged = 0u64;
    let mut stored = 0u64;
    let seed = now_ms();
    for round in 0..25u64 {
        submit_case(&notary, &requester, round);
        let (size, body) = request(&notary, stored);
        let url = witness.url.clone();
        let sender = std::thread::spawn(move || {
            ureq::post(&format!("{url}/add-checkpoint"))
                .send_string(&body)
                .map(|r| r.status())
                .ok()
        });
        // Kill it somewhere between before the request and after the answer.
        std::thread::sleep(Duration::from_micros(
            (seed.wrapping_mul(round + 7) % 4000) + 1,
        ));
        witness.kill();
        if sender.join().unwrap() == Some(200) {
            acknowledged = size;
        }
        witness = Witness::start(&dir, &logs);
        // What it holds now: never less than what it acknowledged.
        let (status, _, said) = witness.add(&format!("old 0\n\n{}", notary.checkpoint()));
        stored = match status {
            409 => said.trim().parse().unwrap(),
            200 => size,
            other => panic!("round {round}: {other} {said}"),
        };
        assert!(
            stored >= acknowledged,
            "round {round}: stored {stored} < acknowledged {acknowledged} (seed {seed})"
        );
    }
    // And from what it holds, it still refuses a smaller tree.
    let (status, _, _) = witness.add(&format!("old {stored}\n\n{}", first_checkpoint(&setup)));
    assert!(status == 400 || stored == 0, "{status}");
}

fn submit_case(notary: &Notary, requester: &department::DepartmentKey, n: u64) {
    let (status, body) = notary.submit(&new_case(requester, &format!("K-{n}")));
    assert_eq!(status, 201, "{body}");
}

/// The empty tree's checkpoint, as the notary signed it.
fn first_checkpoint(setup: &Setup) -> String {
    let key = ledger::keyfile::read_signer(&setup.data().join("notary.key")).unwrap();
    ledger::checkpoint::Checkpoint {
        origin: ORIGIN.into(),
        size: 0,
        root: ledger::hashing::Hash::empty_tree(),
    }
    .sign(&key)
}

fn verifier(args: &[&str]) -> (i32, String) {
    let o = Command::new(binary("verifier"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// Under a policy with a quorum, a receipt counts once its checkpoint
/// carries the witnesses' cosignatures (policy.md §Witnesses); and
/// `verifier fork` shows two histories signed by one key.
#[test]
fn a_receipt_counts_under_a_quorum_once_witnessed() {
    let setup = Setup::new();
    let notary = setup.start();
    let (dir, logs, vkey) = witness_setup(&setup);
    let witness = Witness::start(&dir, &logs);
    let (status, receipt) = notary.submit(&sign(
        &setup.root,
        ledger::attestation::Kind::Department,
        serde_json::json!({"id": "gd.w", "name": "部门", "roles": ["provider"], "jurisdiction": "广东省"}),
    ));
    assert_eq!(status, 201, "{receipt}");
    let policy = setup.dir.path().join("quorum.txt");
    let base = std::fs::read_to_string(setup.data().join("policy.txt")).unwrap();
    std::fs::write(
        &policy,
        format!("{base}witness w1 {}\nquorum w1\n", vkey.encode()),
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let file = setup.dir.path().join("receipt.json");
    std::fs::write(&file, receipt.to_string()).unwrap();
    let (code, out) = verifier(&[
        "--json",
        "receipt",
        "--policy",
        policy,
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not_witnessed") && out.contains("quorum w1"),
        "{out}"
    );

    // The witness cosigns the receipt's checkpoint; the line joins it.
    let (status, _, line) = witness.add(&request(&notary, 0).1);
    assert_eq!(status, 200, "{line}");
    let mut witnessed = receipt.clone();
    witnessed["proof"] = format!("{}{line}", receipt["proof"].as_str().unwrap()).into();
    std::fs::write(&file, witnessed.to_string()).unwrap();
    let (code, out) = verifier(&[
        "--json",
        "receipt",
        "--policy",
        policy,
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(r#""witnessed_by":["w1"]"#), "{out}");

    // Two checkpoints of one size and two roots, both by the notary's key.
    let key = ledger::keyfile::read_signer(&setup.data().join("notary.key")).unwrap();
    let text = notary.checkpoint();
    let honest = setup.dir.path().join("honest.txt");
    std::fs::write(&honest, &text).unwrap();
    let mut other =
        ledger::checkpoint::Checkpoint::parse_body(&text[..text.find("\n\n").unwrap() + 1])
            .unwrap();
    other.root = ledger::hashing::leaf_hash(b"another history");
    let forked = setup.dir.path().join("forked.txt");
    std::fs::write(&forked, other.sign(&key)).unwrap();
    let plain = setup.data().join("policy.txt");
    let plain = plain.to_str().unwrap();
    let (code, out) = verifier(&[
        "fork",
        "--policy",
        plain,
        honest.to_str().unwrap(),
        forked.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FORK: two checkpoints of size"), "{out}");
    let (code, out) = verifier(&[
        "fork",
        "--policy",
        plain,
        honest.to_str().unwrap(),
        honest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    // Two sizes: joined by the notary's proof, or not.
    let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
    provider_and_requester(&setup, &notary);
    let later = setup.dir.path().join("later.txt");
    std::fs::write(&later, notary.checkpoint()).unwrap();
    let newest: u64 = notary.checkpoint().lines().nth(1).unwrap().parse().unwrap();
    let proof = setup.dir.path().join("proof.txt");
    std::fs::write(
        &proof,
        notary.get_text(&format!("/v1/proof/consistency?from={size}&to={newest}")),
    )
    .unwrap();
    let args = |a: &std::path::Path| {
        vec![
            "fork".to_owned(),
            "--policy".into(),
            plain.into(),
            a.display().to_string(),
            later.display().to_string(),
            "--proof".into(),
            proof.display().to_string(),
        ]
    };
    let run = |a: &std::path::Path| {
        let v = args(a);
        verifier(&v.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(run(&honest).0, 0);
    let (code, out) = run(&forked);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not extend"), "{out}");
}

/// `notary serve --witness-policy`: each new checkpoint goes to the
/// witnesses, and is published cosigned once the quorum (2 of 3) is met;
/// a witness down stops neither ingest nor the quorum.
#[test]
fn a_notary_publishes_its_checkpoints_once_the_quorum_cosigned() {
    let setup = Setup::new();
    let notary_vkey = std::fs::read_to_string(setup.data().join("notary.vkey")).unwrap();
    let logs = setup.dir.path().join("logs.txt");
    std::fs::write(&logs, format!("log {notary_vkey}")).unwrap();
    let mut witnesses = Vec::new();
    let mut lines = String::new();
    for name in ["w1", "w2", "w3"] {
        let dir = setup.dir.path().join(name);
        let o = Command::new(binary("witness"))
            .args([
                "init",
                "--name",
                &format!("witness.{name}.gov.cn"),
                "--data",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success());
        let vkey = std::fs::read_to_string(dir.join("witness.vkey")).unwrap();
        let w = Witness::start(&dir, &logs);
        lines.push_str(&format!("witness {name} {} {}\n", vkey.trim(), w.url));
        witnesses.push(w);
    }
    // The log's own policy names its witnesses: what departments and
    // auditors are given, and what the notary sends checkpoints by.
    let base = std::fs::read_to_string(setup.data().join("policy.txt")).unwrap();
    let policy_file = setup.data().join("policy.txt");
    std::fs::write(
        &policy_file,
        format!("{base}{lines}group platforms 2 w1 w2 w3\nquorum platforms\n"),
    )
    .unwrap();
    let policy = ledger::policy::Policy::read(&policy_file).unwrap();
    let notary = Notary::start(
        &setup.data(),
        &["--witness-policy", policy_file.to_str().unwrap()],
    );

    let witnessed_at = |notary: &Notary, size: u64| -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = notary.get("/checkpoint/witnessed");
            if status == 200 {
                let note = String::from_utf8(body).unwrap();
                if note.lines().nth(1) == Some(&size.to_string()) {
                    return note;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no witnessed checkpoint of size {size}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (_, requester) = provider_and_requester(&setup, &notary);
    let size = notary.tree_size();
    let note = witnessed_at(&notary, size);
    let (checkpoint, _) = policy.verify_checkpoint(note.as_bytes()).unwrap();
    let by = policy
        .check_witnessed(note.as_bytes(), checkpoint.size)
        .unwrap();
    assert!(by.len() >= 2, "{by:?}");

    // One witness down: ingest goes on, and two still make the quorum.
    witnesses.pop().unwrap().kill();
    for n in 0..5 {
        let (status, body) = notary.submit(&new_case(&requester, &format!("W-{n}")));
        assert_eq!(status, 201, "{body}");
    }
    let size = notary.tree_size();
    let note = witnessed_at(&notary, size);
    let by = policy.check_witnessed(note.as_bytes(), size).unwrap();
    assert_eq!(by, vec!["w1".to_owned(), "w2".to_owned()]);
    // A department upgrades its receipt: the entry and its evidence proven
    // in the witnessed checkpoint, valid under the quorum policy.
    let (status, receipt) = notary.submit(&new_case(&requester, "W-upgraded"));
    assert_eq!(status, 201, "{receipt}");
    let index = receipt["index"].as_u64().unwrap();
    witnessed_at(&notary, notary.tree_size());
    ledger::keyfile::write_key_pair(
        &setup.dir.path().join("requester"),
        &note_signer(&requester),
    )
    .unwrap();
    let upgraded = setup.dir.path().join("upgraded.json");
    let o = Command::new(binary("dept"))
        .args(["witnessed", "--notary", &notary.url, "--key"])
        .arg(setup.dir.path().join("requester.key"))
        .arg("--policy")
        .arg(&policy_file)
        .arg(index.to_string())
        .arg("--out")
        .arg(&upgraded)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("witnessed by w1, w2"), "{said}");
    let (code, out) = verifier(&[
        "receipt",
        "--policy",
        policy_file.to_str().unwrap(),
        upgraded.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    // The original receipt is not witnessed: refused under that policy.
    let original = setup.dir.path().join("original.json");
    std::fs::write(&original, receipt.to_string()).unwrap();
    let (code, out) = verifier(&[
        "receipt",
        "--policy",
        policy_file.to_str().unwrap(),
        original.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");

    let metrics = notary.get_text("/metrics");
    assert!(
        metrics
            .contains("share_audit_witness_failures_total{witness=\"w3\",cause=\"unreachable\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("share_audit_witness_lag_entries{witness=\"w1\"} 0"),
        "{metrics}"
    );

    // The auditor's package carries the witnessed checkpoint; the audit
    // checks its quorum and that the tree holds it.
    let pkg = setup.dir.path().join("package");
    let o = Command::new(binary("notary"))
        .args(["export", "--data"])
        .arg(setup.data())
        .arg("--out")
        .arg(&pkg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let audit = |pkg: &Path| {
        verifier(&[
            "audit",
            "--json",
            "--policy",
            policy_file.to_str().unwrap(),
            pkg.to_str().unwrap(),
        ])
    };
    let (code, out) = audit(&pkg);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["witnessed"]["by"].as_array().unwrap().len() >= 2,
        "{report}"
    );
    std::fs::remove_file(pkg.join("witnessed")).unwrap();
    let (code, out) = audit(&pkg);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not_witnessed"), "{out}");

    // A restart keeps serving what was witnessed.
    let last = notary.get_text("/checkpoint/witnessed");
    notary.kill();
    let notary = Notary::start(&setup.data(), &[]);
    assert_eq!(notary.get_text("/checkpoint/witnessed"), last);

    // The notary's key signs another root at the size each witness holds:
    // every witness still up refuses it and keeps it, so no quorum can form
    // on the second history. (The notary now runs without witnesses, so
    // what they hold does not move.)
    let key = ledger::keyfile::read_signer(&setup.data().join("notary.key")).unwrap();
    for (w, name) in witnesses.iter().zip(["w1", "w2"]) {
        let held = ureq::get(&format!("{}/checkpoint/{ORIGIN}", w.url))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        let mut other =
            ledger::checkpoint::Checkpoint::parse_body(&held[..held.find("\n\n").unwrap() + 1])
                .unwrap();
        other.root = ledger::hashing::leaf_hash(b"another history");
        let (status, _, said) = w.add(&format!("old {}\n\n{}", other.size, other.sign(&key)));
        assert_eq!(status, 409, "{name}: {said}");
        let kept = std::fs::read_dir(setup.dir.path().join(name).join("evidence"))
            .unwrap()
            .count();
        assert_eq!(kept, 1, "{name} kept the fork");
    }
}
