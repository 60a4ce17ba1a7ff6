//! The notary's data directory.
//!
//! ```text
//! DIR/db/          RocksDB store
//! DIR/notary.key   notary signing key, PRIVATE+KEY+<origin>+<id>+<base64> (mode 0600)
//! DIR/notary.vkey  notary verifier key, one C2SP vkey line
//! DIR/policy.txt   trust policy for verifiers: the notary key and the root keys
//! DIR/notary.next.key, notary.next.vkey   a checkpoint key rotation in waiting
//! DIR/notary.retired-<key id>.key          checkpoint keys rotated out
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use ledger::append::Log;
use ledger::note::{NoteSigner, VerifierKey};
use ledger::policy::Policy;
use ledger::store::Store;

/// A message for the operator, in the locale's language (LC_ALL,
/// LC_MESSAGES, LANG: `zh_CN.UTF-8` gives Chinese).
fn operator(en: String, zh: String) -> String {
    match ledger::lang::Lang::from_env() {
        ledger::lang::Lang::Zh => zh,
        ledger::lang::Lang::En => en,
    }
}

/// Writes `bytes` to `path` through a synced temporary file beside it
/// (named `.<name>.<pid>.tmp`: hidden, as package.md wants) and a rename:
/// readers see the old file or the new one, whole. The caller syncs the
/// folder when the rename itself must survive a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&temporary)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&temporary, path)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&temporary);
    })
}

/// Syncs a folder, so that the renames into it survive a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn new(root: &Path) -> DataDir {
        DataDir {
            root: root.to_owned(),
        }
    }
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }
    pub fn key(&self) -> PathBuf {
        self.root.join("notary.key")
    }
    pub fn vkey(&self) -> PathBuf {
        self.root.join("notary.vkey")
    }
    pub fn policy(&self) -> PathBuf {
        self.root.join("policy.txt")
    }
    /// The newest checkpoint witnessed by the quorum, kept across restarts.
    pub fn witnessed(&self) -> PathBuf {
        self.root.join("witnessed.checkpoint")
    }
    pub fn next_key(&self) -> PathBuf {
        self.root.join("notary.next.key")
    }
    pub fn next_vkey(&self) -> PathBuf {
        self.root.join("notary.next.vkey")
    }

    /// `notary rotate-key`: makes the next checkpoint key, to be announced
    /// by a root-signed `log_key` entry (specs/checkpoint.md §Key rotation).
    pub fn prepare_rotation(&self) -> Result<VerifierKey> {
        self.check_initialised()?;
        let policy = self.load_policy()?;
        if self.next_key().exists() {
            bail!(
                "a rotation is already prepared ({}); announce its key with a log_key entry and restart the notary, or remove the file",
                self.next_key().display()
            );
        }
        let signer = NoteSigner::new(&policy.origin, SigningKey::generate(&mut rand::rngs::OsRng))?;
        ledger::keyfile::write_secret(&self.next_key(), &signer.encode_private())
            .with_context(|| format!("writing {}", self.next_key().display()))?;
        fs::write(
            self.next_vkey(),
            format!("{}\n", signer.verifier().encode()),
        )?;
        Ok(signer.verifier().clone())
    }

    /// At start: once the log holds the `log_key` entry for the prepared
    /// next key, it becomes `notary.key` (the old one is kept as
    /// `notary.retired-<id>.key`) and `policy.txt` gains its `log` line.
    /// Returns the new key, if the rotation took place now.
    pub fn complete_rotation(&self, store: &Store) -> Result<Option<VerifierKey>> {
        if !self.next_key().is_file() {
            return Ok(None);
        }
        let next = ledger::keyfile::read_signer(&self.next_key())?;
        let key = ledger::attestation::PublicKey(next.verifier().key.to_bytes());
        let announced = store.record(&ledger::registry::RecordKey::LogKey(key))?;
        if announced.is_none() {
            tracing::info!(
                next = %next.verifier().encode(),
                "a checkpoint key rotation waits for its log_key entry; signing with the current key"
            );
            return Ok(None);
        }
        let policy = self.load_policy()?;
        if !policy.log_keys.contains(next.verifier()) {
            // On a line of its own, whatever the file's last line is.
            let text = fs::read_to_string(self.policy())?;
            let newline = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            let mut f = fs::OpenOptions::new().append(true).open(self.policy())?;
            use std::io::Write as _;
            writeln!(f, "{newline}log {}", next.verifier().encode())?;
            f.sync_all()?;
        }
        let old = self.load_signer()?;
        let retired = self
            .root
            .join(format!("notary.retired-{:08x}.key", old.verifier().key_id));
        // Copy (keeping 0600), then replace: a crash at any point leaves a
        // notary.key, and a second start completes what the first began.
        fs::copy(self.key(), &retired)
            .with_context(|| format!("keeping the old key as {}", retired.display()))?;
        fs::rename(self.next_key(), self.key())?;
        fs::write(self.vkey(), format!("{}\n", next.verifier().encode()))?;
        let _ = fs::remove_file(self.next_vkey());
        Ok(Some(next.verifier().clone()))
    }

    /// Creates the store, the notary key, `notary.vkey` and `policy.txt`.
    pub fn init(&self, origin: &str, roots: &[VerifierKey]) -> Result<VerifierKey> {
        if self.key().exists() || self.db().exists() {
            let dir = self.root.display();
            bail!(operator(
                format!("{dir} already holds a notary (notary.key or db/ exists); refusing to overwrite it"),
                format!("{dir} 中已有公证服务（存在 notary.key 或 db/）；不予覆盖"),
            ));
        }
        let result = self.create(origin, roots);
        if result.is_err() {
            // Leave nothing half-made behind, so that init can simply be run again.
            for file in [self.key(), self.vkey(), self.policy()] {
                let _ = fs::remove_file(file);
            }
            let _ = fs::remove_dir_all(self.db());
        }
        result
    }

    fn create(&self, origin: &str, roots: &[VerifierKey]) -> Result<VerifierKey> {
        ledger::attestation::Origin::try_from(origin.to_owned()).map_err(anyhow::Error::msg)?;
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        let signer = NoteSigner::new(origin, SigningKey::generate(&mut rand::rngs::OsRng))
            .with_context(|| format!("origin {origin:?} is not a valid key name"))?;
        ledger::keyfile::write_secret(&self.key(), &signer.encode_private())
            .with_context(|| format!("writing {}", self.key().display()))?;
        let vkey = signer.verifier().clone();
        fs::write(self.vkey(), format!("{}\n", vkey.encode()))?;

        let mut policy = Policy {
            origin: origin.to_owned(),
            log_keys: vec![vkey.clone()],
            log_ranges: vec![ledger::policy::EntryRange::default()],
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
            roots: roots
                .iter()
                .cloned()
                .map(ledger::policy::PolicyRoot::always)
                .collect(),
        }
        .encode();
        if roots.is_empty() {
            policy.push_str("# add the supervisor's root key(s) before serving: root <vkey>\n");
        }
        fs::write(self.policy(), policy)?;

        let store = Store::open(&self.db()).context("creating the RocksDB store")?;
        Log::initialise(&store, &signer).context("writing the empty tree")?;
        Ok(vkey)
    }

    /// Refuses a directory `notary init` did not make, saying how to make one.
    pub fn check_initialised(&self) -> Result<()> {
        if !self.policy().is_file() || !self.key().is_file() || !self.db().is_dir() {
            let dir = self.root.display();
            bail!(operator(
                format!(
                    "{dir} is not a notary data directory (no policy.txt, notary.key and db/ in it); \
                     create one with `notary init --data {dir} --origin <origin> --root <root.vkey>`"
                ),
                format!(
                    "{dir} 不是公证服务的数据目录（其中没有 policy.txt、notary.key 和 db/）；\
                     请先运行 `notary init --data {dir} --origin <日志标识> --root <根公钥.vkey>`"
                ),
            ));
        }
        Ok(())
    }

    /// Opens the store, saying so plainly when another notary has it open.
    pub fn open_store(&self) -> Result<Store> {
        Store::open(&self.db()).map_err(|e| match e {
            // RocksDB locks the directory of an open database (`LOCK`).
            ledger::store::StoreError::Db(db)
                if db.to_string().contains("While lock file") || db.to_string().contains("/LOCK:") =>
            {
                let dir = self.root.display();
                anyhow::anyhow!(operator(
                    format!("another notary is already serving {dir} (its database is locked); stop it first, or give another --data"),
                    format!("已有公证服务在使用 {dir}（其数据库已被锁定）；请先停止它，或换一个 --data"),
                ))
            }
            e => anyhow::Error::new(e).context(format!("opening {}", self.db().display())),
        })
    }

    /// The notary signs with the key that signed its newest checkpoint, or
    /// with one a `log_key` entry announced: never with a key the log does
    /// not record (specs/checkpoint.md §Key rotation). A key copied into
    /// place by hand, before its announcement, is refused here.
    pub fn check_signing_key(&self, store: &Store, signer: &NoteSigner) -> Result<()> {
        let (_, newest) = store.latest_checkpoint()?;
        let vkey = signer.verifier();
        let signed_newest = ledger::checkpoint::Checkpoint::verify(
            newest.as_bytes(),
            &vkey.name,
            std::slice::from_ref(vkey),
        )
        .is_ok();
        let key = ledger::attestation::PublicKey(vkey.key.to_bytes());
        let announced = store
            .record(&ledger::registry::RecordKey::LogKey(key))?
            .is_some();
        if !signed_newest && !announced {
            bail!(
                "{} holds a key ({}) that neither signed the log's newest checkpoint nor was announced by a log_key entry; \
                 a new checkpoint key is prepared with `notary rotate-key` and announced before it is used",
                self.key().display(),
                vkey.encode()
            );
        }
        Ok(())
    }

    pub fn load_signer(&self) -> Result<NoteSigner> {
        Ok(ledger::keyfile::read_signer(&self.key())?)
    }

    pub fn load_policy(&self) -> Result<Policy> {
        Ok(Policy::read(&self.policy())?)
    }
}
