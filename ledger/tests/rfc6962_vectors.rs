//! Runs every RFC 6962 / RFC 9162 proof vector of `../shared/vectors/rfc6962`
//! (from transparency-dev/merkle), honouring `wantErr`, and `roots.json`.

mod common;

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger::frontier::Frontier;
use ledger::hashing::{leaf_hash, sha256, Hash};
use ledger::proof::{verify_consistency, verify_inclusion};
use serde_json::Value;

/// A leaf hash or proof element: anything but 32 bytes is malformed input,
/// which our typed API refuses before verifying (as transparency-dev's
/// verifier refuses a leaf hash of the wrong size).
fn strict_hash(v: &Value) -> Result<Hash, ()> {
    let bytes = BASE64
        .decode(v.as_str().unwrap_or_default())
        .expect("vector is base64");
    Hash::from_slice(&bytes).map_err(|_| ())
}

/// A root. Some consistency vectors put short placeholder strings ("don't
/// care") where only the equality of two roots matters; our API takes
/// 32-byte hashes, so a placeholder becomes a hash of its bytes, which keeps
/// equal placeholders equal and different ones different.
fn root(v: &Value) -> Hash {
    let bytes = BASE64
        .decode(v.as_str().unwrap_or_default())
        .expect("vector is base64");
    Hash::from_slice(&bytes).unwrap_or_else(|_| {
        let mut tagged = b"placeholder:".to_vec();
        tagged.extend_from_slice(&bytes);
        Hash(sha256(&tagged))
    })
}

fn proof(v: &Value) -> Result<Vec<Hash>, ()> {
    v.as_array()
        .map(|a| a.iter().map(strict_hash).collect())
        .unwrap_or(Ok(Vec::new()))
}

fn json_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
}

#[test]
fn inclusion_vectors() {
    let Some(dir) = common::vectors_dir("rfc6962/inclusion") else {
        return;
    };
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    assert!(files.len() > 50, "expected the full inclusion vector set");
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let got = match (strict_hash(&v["leafHash"]), proof(&v["proof"])) {
            (Ok(leaf), Ok(path)) => verify_inclusion(
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
                &leaf,
                &path,
                &root(&v["root"]),
            )
            .map_err(|e| e.to_string()),
            _ => Err("malformed hash".to_owned()),
        };
        let want_err = v["wantErr"].as_bool().unwrap();
        assert_eq!(
            got.is_err(),
            want_err,
            "{}: {:?} ({})",
            f.display(),
            got,
            v["desc"]
        );
    }
    eprintln!("{} inclusion vectors checked", files.len());
}

#[test]
fn consistency_vectors() {
    let Some(dir) = common::vectors_dir("rfc6962/consistency") else {
        return;
    };
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    assert!(files.len() > 50, "expected the full consistency vector set");
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let got = match proof(&v["proof"]) {
            Ok(path) => verify_consistency(
                v["size1"].as_u64().unwrap(),
                v["size2"].as_u64().unwrap(),
                &root(&v["root1"]),
                &root(&v["root2"]),
                &path,
            )
            .map_err(|e| e.to_string()),
            Err(()) => Err("malformed hash".to_owned()),
        };
        let want_err = v["wantErr"].as_bool().unwrap();
        assert_eq!(
            got.is_err(),
            want_err,
            "{}: {:?} ({})",
            f.display(),
            got,
            v["desc"]
        );
    }
    eprintln!("{} consistency vectors checked", files.len());
}

#[test]
fn roots_vector() {
    let Some(dir) = common::vectors_dir("rfc6962") else {
        return;
    };
    let v: Value = serde_json::from_slice(&std::fs::read(dir.join("roots.json")).unwrap()).unwrap();
    let leaves: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect();
    let roots = v["root_hex_by_tree_size"].as_array().unwrap();
    assert_eq!(roots.len(), leaves.len() + 1);
    let mut f = Frontier::empty();
    for (size, want) in roots.iter().enumerate() {
        assert_eq!(
            hex::encode(f.root().0),
            want.as_str().unwrap(),
            "root of size {size}"
        );
        if let Some(leaf) = leaves.get(size) {
            f.push(leaf_hash(leaf), |_, _| {});
        }
    }
}
