//! C2SP signed-note / tlog-checkpoint vectors of `../shared/vectors/signed-note`.

mod common;

use ed25519_dalek::SigningKey;
use ledger::checkpoint::{Checkpoint, CheckpointError};
use ledger::hashing::Hash;
use ledger::note::{NoteError, NoteSigner, VerifierKey};
use serde_json::Value;

/// RFC 8032 §7.1 TEST 1 secret key, the log key of the vectors.
const TEST1_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

struct Vectors {
    keys: Value,
    dir: std::path::PathBuf,
}

impl Vectors {
    fn load() -> Option<Vectors> {
        let dir = common::vectors_dir("signed-note")?;
        let keys = serde_json::from_slice(&std::fs::read(dir.join("keys.json")).unwrap()).unwrap();
        Some(Vectors { keys, dir })
    }
    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }
    fn log_vkey(&self) -> VerifierKey {
        VerifierKey::parse(self.keys["log"]["vkey"].as_str().unwrap()).unwrap()
    }
    fn origin(&self) -> &str {
        self.keys["log"]["name"].as_str().unwrap()
    }
}

#[test]
fn signs_checkpoint_byte_for_byte() {
    let Some(v) = Vectors::load() else { return };
    let seed: [u8; 32] = hex::decode(TEST1_SEED).unwrap().try_into().unwrap();
    let signer = NoteSigner::new(v.origin(), SigningKey::from_bytes(&seed)).unwrap();
    assert_eq!(
        signer.verifier().encode(),
        v.keys["log"]["vkey"].as_str().unwrap()
    );
    assert_eq!(
        format!("{:08x}", signer.verifier().key_id),
        v.keys["log"]["key_id_hex"].as_str().unwrap()
    );
    let root: [u8; 32] = hex::decode(v.keys["root_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let checkpoint = Checkpoint {
        origin: v.origin().to_owned(),
        size: v.keys["tree_size"].as_u64().unwrap(),
        root: Hash(root),
    };
    assert_eq!(
        checkpoint.sign(&signer).as_bytes(),
        v.file("checkpoint.txt").as_slice()
    );
}

#[test]
fn verifies_plain_and_cosigned_checkpoints() {
    let Some(v) = Vectors::load() else { return };
    let keys = [v.log_vkey()];
    for name in ["checkpoint.txt", "checkpoint-cosigned.txt"] {
        let c = Checkpoint::verify(&v.file(name), v.origin(), &keys).unwrap();
        assert_eq!(c.size, 8, "{name}");
        assert_eq!(hex::encode(c.root.0), v.keys["root_hex"].as_str().unwrap());
    }
}

#[test]
fn verifies_the_witness_cosignature_when_the_witness_is_known() {
    let Some(v) = Vectors::load() else { return };
    let witness = VerifierKey::parse(v.keys["witness"]["vkey"].as_str().unwrap()).unwrap();
    // Trusting only the witness: its timestamped cosignature (type 0x04) must verify.
    let c = Checkpoint::verify(&v.file("checkpoint-cosigned.txt"), v.origin(), &[witness]).unwrap();
    assert_eq!(c.size, 8);
}

#[test]
fn rejects_tampered_checkpoint() {
    let Some(v) = Vectors::load() else { return };
    let got = Checkpoint::verify(
        &v.file("checkpoint-tampered.txt"),
        v.origin(),
        &[v.log_vkey()],
    );
    assert!(
        matches!(
            got,
            Err(CheckpointError::Note(NoteError::BadSignature { .. }))
        ),
        "{got:?}"
    );
}

#[test]
fn rejects_wrong_origin_and_unknown_keys() {
    let Some(v) = Vectors::load() else { return };
    let got = Checkpoint::verify(
        &v.file("checkpoint.txt"),
        "other.example/log",
        &[v.log_vkey()],
    );
    assert!(matches!(got, Err(CheckpointError::WrongOrigin { .. })));
    let stranger = NoteSigner::new(v.origin(), SigningKey::from_bytes(&[3; 32])).unwrap();
    let got = Checkpoint::verify(
        &v.file("checkpoint.txt"),
        v.origin(),
        &[stranger.verifier().clone()],
    );
    assert!(matches!(
        got,
        Err(CheckpointError::Note(NoteError::NoTrustedSignature))
    ));
}
