//! The README's walkthrough ("Using it: a department's first day") is run
//! exactly as written, with the built tools, so that it cannot go stale.

#[allow(dead_code)]
mod harness;

use std::process::Command;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme
        .find("## Using it: a department's first day")
        .expect("the walkthrough section")..];
    let start = section.find("```sh\n").expect("its shell block") + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];

    let bin = harness::binary("notary");
    let bin = bin.parent().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir.path())
        .env("B", bin)
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the walkthrough failed:\n{stdout}\n{stderr}"
    );
    for said in [
        "registry/1-department.json: notarised as entry 0 (department)",
        "registry/2-key.json: notarised as entry 1 (department_key)",
        "catalog.att.json: notarised as entry 2 (catalog_entry)",
        "catalog.att.json: already notarised as entry 2",
    ] {
        assert!(stderr.contains(said), "{said:?} not in:\n{stderr}");
    }
    assert!(stdout.contains("4 valid, 0 invalid, of 4"), "{stdout}");
    assert!(
        stdout.contains("\nVALID (0 failures"),
        "the audit: {stdout}"
    );
}
