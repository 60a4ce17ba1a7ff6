//! The trust policy: everything a verifier must be given out of band.
//!
//! In the spirit of C2SP tlog-policy, one directive per line, `#` comments:
//!
//! ```text
//! log  <vkey>    # a notary checkpoint key; its name is the log origin
//! root <vkey> [from <index>] [until <index>]
//!                # a supervisor root key; its name is the signer "department"
//! ```
//!
//! At least one `log` and one `root` line. All `log` keys share one name.
//! Department keys are not in the policy: they are registered in the log by
//! root-signed entries, so the log itself says which key was valid when.

use crate::attestation::{Id, Origin, PublicKey, SignerRef};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::note::{NoteError, VerifierKey, TYPE_ED25519};
use crate::registry::{RootKey, TrustRoots};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub origin: String,
    pub log_keys: Vec<VerifierKey>,
    /// The entries whose checkpoints each of `log_keys` signs, in the same
    /// order (specs/policy.md §Log key rotation).
    pub log_ranges: Vec<EntryRange>,
    pub roots: Vec<PolicyRoot>,
    /// Witnesses by name, with their cosigner keys (type 0x04) and the URL
    /// prefix a notary submits to, if given (tlog-policy).
    pub witnesses: Vec<PolicyWitness>,
    /// Witness groups: name, how many members must have cosigned, members.
    pub groups: Vec<(String, usize, Vec<String>)>,
    /// The witness or group whose cosignatures a checkpoint needs; `None`
    /// (no `quorum` line, or `quorum none`) needs none.
    pub quorum: Option<String>,
}

/// A `witness` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    pub name: String,
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// Why a checkpoint does not meet the policy's witness rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    NotWitnessed(#[from] NotWitnessed),
    #[error("a witness cosignature: {0}")]
    BadCosignature(#[from] CheckpointError),
}

/// A checkpoint lacks the witnesses the policy's quorum asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint of size {size} is not witnessed as the policy requires: quorum {quorum} is not met (cosigned by {})", if .cosigned_by.is_empty() { "no witness of the policy".to_owned() } else { .cosigned_by.join(", ") })]
pub struct NotWitnessed {
    pub size: u64,
    pub quorum: String,
    pub cosigned_by: Vec<String>,
}

/// Entry indexes `from` on, below `until` if set: what a key of the policy
/// is in force for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntryRange {
    pub from: u64,
    pub until: Option<u64>,
}

impl EntryRange {
    /// Whether a checkpoint of tree size `size` is in the range: its newest
    /// entry, `size − 1`, is; the empty tree's is in a range from 0.
    pub fn has_checkpoint(&self, size: u64) -> bool {
        match size.checked_sub(1) {
            None => self.from == 0,
            Some(newest) => self.from <= newest && self.until.is_none_or(|u| newest < u),
        }
    }

    /// Reads `[from <n>] [until <n>]`, the words after a key.
    fn parse(words: &[&str]) -> Result<EntryRange, String> {
        let number = |w: &str| {
            crate::decimal::parse(w).ok_or_else(|| format!("{w:?} is not a decimal entry index"))
        };
        let mut range = EntryRange::default();
        let mut rest = words;
        if let ["from", n, tail @ ..] = rest {
            range.from = number(n)?;
            rest = tail;
        }
        if let ["until", n, tail @ ..] = rest {
            range.until = Some(number(n)?);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(format!(
                "unexpected {:?} after the key: only `from <index>` then `until <index>` may follow",
                rest.join(" ")
            ));
        }
        if let Some(until) = range.until.filter(|&u| u <= range.from) {
            return Err(format!(
                "`until {until}` is not after `from {}`: the key would sign nothing",
                range.from
            ));
        }
        Ok(range)
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        if self.from != 0 {
            out.push_str(&format!(" from {}", self.from));
        }
        if let Some(until) = self.until {
            out.push_str(&format!(" until {until}"));
        }
        out
    }
}

/// A `root` line: the key, and the entries it may sign (index `from` on,
/// below `until` if set; specs/policy.md §Root key rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRoot {
    pub key: VerifierKey,
    pub from: u64,
    pub until: Option<u64>,
}

impl PolicyRoot {
    /// A root key in force from the first entry on.
    pub fn always(key: VerifierKey) -> PolicyRoot {
        PolicyRoot {
            key,
            from: 0,
            until: None,
        }
    }

    /// Reads what follows the key on a `root` line: `[from <n>] [until <n>]`.
    fn with_range(key: VerifierKey, words: &[&str]) -> Result<PolicyRoot, String> {
        let range = EntryRange::parse(words)?;
        Ok(PolicyRoot {
            key,
            from: range.from,
            until: range.until,
        })
    }
}

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read the trust policy {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Policy { path: String, source: PolicyError },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("policy has no `log` key")]
    NoLogKey,
    #[error("policy has no `root` key")]
    NoRootKey,
    #[error("policy `log` keys name different origins: {0:?} and {1:?}")]
    MixedOrigins(String, String),
    #[error("policy line {line}: this public key is already in the policy (line {first})")]
    DuplicateKey { line: usize, first: usize },
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut log_keys: Vec<VerifierKey> = Vec::new();
        let mut log_ranges = Vec::new();
        let mut witnesses: Vec<PolicyWitness> = Vec::new();
        let mut groups: Vec<(String, usize, Vec<String>)> = Vec::new();
        let mut quorum: Option<Option<String>> = None;
        let mut roots = Vec::new();
        let mut seen: Vec<([u8; 32], usize)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: String| PolicyError::Line {
                line: n + 1,
                reason,
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let defined = |name: &str,
                           witnesses: &[PolicyWitness],
                           groups: &[(String, usize, Vec<String>)]| {
                witnesses.iter().any(|w| w.name == name) || groups.iter().any(|(n, _, _)| n == name)
            };
            match words.as_slice() {
                ["quorum", name] => {
                    if quorum.is_some() {
                        return Err(bad("a second `quorum` line".into()));
                    }
                    if *name != "none" && !defined(name, &witnesses, &groups) {
                        return Err(bad(format!(
                            "quorum {name:?}: no witness or group of that name above"
                        )));
                    }
                    quorum = Some((*name != "none").then(|| (*name).to_owned()));
                    continue;
                }
                ["group", name, threshold, members @ ..] => {
                    if *name == "none" || defined(name, &witnesses, &groups) {
                        return Err(bad(format!("group {name:?}: the name is taken")));
                    }
                    if members.is_empty() {
                        return Err(bad("a group has members".into()));
                    }
                    for m in members {
                        if !defined(m, &witnesses, &groups) {
                            return Err(bad(format!(
                                "group member {m:?}: no witness or group of that name above"
                            )));
                        }
                    }
                    let threshold = match *threshold {
                        "all" => members.len(),
                        "any" => 1,
                        n => crate::decimal::parse(n)
                            .and_then(|n| usize::try_from(n).ok())
                            .filter(|n| (1..=members.len()).contains(n))
                            .ok_or_else(|| bad(format!("group threshold {n:?}: `any`, `all` or 1 to the number of members")))?,
                    };
                    groups.push((
                        (*name).to_owned(),
                        threshold,
                        members.iter().map(|m| (*m).to_owned()).collect(),
                    ));
                    continue;
                }
                ["witness", name, vkey, url @ ..] if url.len() <= 1 => {
                    if *name == "none" || defined(name, &witnesses, &groups) {
                        return Err(bad(format!("witness {name:?}: the name is taken")));
                    }
                    let key =
                        VerifierKey::parse(vkey).map_err(|e: NoteError| bad(e.to_string()))?;
                    if key.sig_type != crate::note::TYPE_COSIGNATURE {
                        return Err(bad("a witness key is a cosigner key (type 0x04)".into()));
                    }
                    let bytes = key.key.to_bytes();
                    if let Some(&(_, first)) = seen.iter().find(|(k, _)| *k == bytes) {
                        return Err(PolicyError::DuplicateKey { line: n + 1, first });
                    }
                    seen.push((bytes, n + 1));
                    witnesses.push(PolicyWitness {
                        name: (*name).to_owned(),
                        key,
                        url: url.first().map(|u| (*u).to_owned()),
                    });
                    continue;
                }
                _ => {}
            }
            let (directive, vkey, rest) = match words.as_slice() {
                [directive, vkey, rest @ ..] => (*directive, *vkey, rest),
                _ => return Err(bad("missing key".into())),
            };
            let key = VerifierKey::parse(vkey).map_err(|e: NoteError| bad(e.to_string()))?;
            if key.sig_type != TYPE_ED25519 {
                return Err(bad("only Ed25519 (type 0x01) keys are accepted".into()));
            }
            let bytes = key.key.to_bytes();
            if let Some(&(_, first)) = seen.iter().find(|(k, _)| *k == bytes) {
                return Err(PolicyError::DuplicateKey { line: n + 1, first });
            }
            seen.push((bytes, n + 1));
            match directive {
                "log" => {
                    log_ranges.push(EntryRange::parse(rest).map_err(bad)?);
                    Origin::try_from(key.name.clone()).map_err(bad)?;
                    if let Some(first) = log_keys.first() {
                        if first.name != key.name {
                            return Err(PolicyError::MixedOrigins(first.name.clone(), key.name));
                        }
                    }
                    log_keys.push(key);
                }
                "root" => {
                    Id::try_from(key.name.clone()).map_err(bad)?;
                    roots.push(PolicyRoot::with_range(key, rest).map_err(bad)?);
                }
                other => return Err(bad(format!("unknown directive {other:?}"))),
            }
        }
        let origin = log_keys.first().ok_or(PolicyError::NoLogKey)?.name.clone();
        if roots.is_empty() {
            return Err(PolicyError::NoRootKey);
        }
        Ok(Policy {
            origin,
            log_keys,
            log_ranges,
            roots,
            witnesses,
            groups,
            quorum: quorum.flatten(),
        })
    }

    /// Reads and parses a policy file (UTF-8 text).
    pub fn read(path: &std::path::Path) -> Result<Policy, PolicyFileError> {
        let p = path.display().to_string();
        let text = read_small(path).map_err(|source| PolicyFileError::Io {
            path: p.clone(),
            source,
        })?;
        // A byte order mark (Windows editors write one) is not part of it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        Policy::parse(text).map_err(|source| PolicyFileError::Policy { path: p, source })
    }

    pub fn encode(&self) -> String {
        let mut out = String::from("# share-audit trust policy (specs/policy.md)\n");
        for (k, range) in self.log_keys.iter().zip(&self.log_ranges) {
            out.push_str(&format!("log {}{}\n", k.encode(), range.encode()));
        }
        for r in &self.roots {
            let range = EntryRange {
                from: r.from,
                until: r.until,
            };
            out.push_str(&format!("root {}{}\n", r.key.encode(), range.encode()));
        }
        for w in &self.witnesses {
            let url = w.url.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
            out.push_str(&format!("witness {} {}{url}\n", w.name, w.key.encode()));
        }
        for (name, threshold, members) in &self.groups {
            out.push_str(&format!("group {name} {threshold} {}\n", members.join(" ")));
        }
        if let Some(q) = &self.quorum {
            out.push_str(&format!("quorum {q}\n"));
        }
        out
    }

    /// The witnesses of the policy whose cosignatures on the checkpoint
    /// note `signed` verify, by name. A cosignature line of a witness of
    /// the policy that does not verify makes the note invalid
    /// (signed-note).
    pub fn cosigned_by(&self, signed: &[u8]) -> Result<Vec<String>, CheckpointError> {
        if self.witnesses.is_empty() {
            return Ok(Vec::new());
        }
        let note = crate::note::Note::parse(signed)?;
        let keys: Vec<VerifierKey> = self.witnesses.iter().map(|w| w.key.clone()).collect();
        let verified = match note.verify(&keys) {
            Ok(v) => v,
            Err(NoteError::NoTrustedSignature) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(self
            .witnesses
            .iter()
            .filter(|w| verified.contains(&&w.key))
            .map(|w| w.name.clone())
            .collect())
    }

    /// Whether the witnesses named in `cosigned_by` meet the quorum.
    pub fn quorum_met(&self, cosigned_by: &[String]) -> bool {
        self.quorum
            .as_ref()
            .is_none_or(|q| self.met(q, cosigned_by))
    }

    fn met(&self, name: &str, cosigned_by: &[String]) -> bool {
        match self.groups.iter().find(|(n, _, _)| n == name) {
            Some((_, threshold, members)) => {
                members.iter().filter(|m| self.met(m, cosigned_by)).count() >= *threshold
            }
            None => cosigned_by.iter().any(|c| c == name),
        }
    }

    /// The policy's witness rule for a checkpoint (tlog-policy): its
    /// cosignatures meet the quorum. Returns who cosigned.
    pub fn check_witnessed(&self, signed: &[u8], size: u64) -> Result<Vec<String>, WitnessError> {
        let cosigned_by = self.cosigned_by(signed)?;
        if !self.quorum_met(&cosigned_by) {
            return Err(WitnessError::NotWitnessed(NotWitnessed {
                size,
                quorum: self.quorum.clone().unwrap_or_default(),
                cosigned_by,
            }));
        }
        Ok(cosigned_by)
    }

    /// Verifies a signed checkpoint of this policy's log: signed by `log`
    /// keys, each in force for the checkpoint's size (specs/policy.md §Log
    /// key rotation). Returns it and the indexes of the keys that signed.
    pub fn verify_checkpoint(
        &self,
        signed: &[u8],
    ) -> Result<(Checkpoint, Vec<usize>), CheckpointError> {
        let (checkpoint, signers) = Checkpoint::verify_by(signed, &self.origin, &self.log_keys)?;
        let mut by = Vec::with_capacity(signers.len());
        for key in signers {
            let i = self
                .log_keys
                .iter()
                .position(|k| k == key)
                .expect("signers are among the keys given");
            if !self.log_ranges[i].has_checkpoint(checkpoint.size) {
                return Err(CheckpointError::KeyNotInForce {
                    key: format!("{}+{:08x}", key.name, key.key_id),
                    size: checkpoint.size,
                });
            }
            by.push(i);
        }
        Ok((checkpoint, by))
    }

    /// The log's origin and the root keys as statement signers: the
    /// registry before the first entry.
    pub fn trust_roots(&self) -> TrustRoots {
        TrustRoots {
            origin: Origin::try_from(self.origin.clone()).expect("checked at parse"),
            roots: self
                .roots
                .iter()
                .map(|r| RootKey {
                    signer: SignerRef {
                        department: Id::try_from(r.key.name.clone()).expect("checked at parse"),
                        key: PublicKey(r.key.key.to_bytes()),
                    },
                    from: r.from,
                    until: r.until,
                })
                .collect(),
        }
    }
}

/// Most bytes of a policy or calendar file: far more than any holds.
pub const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;

/// A small text file (a policy, a calendar), refusing one over
/// [`MAX_SMALL_FILE_BYTES`] (`/dev/zero`, a file given by mistake) rather
/// than reading it all.
pub fn read_small(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_SMALL_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SMALL_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} KiB", MAX_SMALL_FILE_BYTES >> 10),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use ed25519_dalek::SigningKey;

    #[test]
    fn parse_round_trip_and_errors() {
        let log = NoteSigner::new(
            "example.gov.cn/share-audit/2026",
            SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let root = NoteSigner::new("gd.sjj", SigningKey::from_bytes(&[2; 32])).unwrap();
        let text = format!(
            "# comment\nlog {}\nroot {} # the provincial bureau\n",
            log.verifier().encode(),
            root.verifier().encode()
        );
        let p = Policy::parse(&text).unwrap();
        assert_eq!(p.origin, "example.gov.cn/share-audit/2026");
        assert_eq!(Policy::parse(&p.encode()).unwrap(), p);
        assert_eq!(
            p.trust_roots().roots[0].signer.department.as_str(),
            "gd.sjj"
        );
        assert_eq!(
            Policy::parse(&format!("root {}\n", root.verifier().encode())),
            Err(PolicyError::NoLogKey)
        );
        assert_eq!(
            Policy::parse(&format!("log {}\n", log.verifier().encode())),
            Err(PolicyError::NoRootKey)
        );
        assert!(matches!(
            Policy::parse("witness x\n"),
            Err(PolicyError::Line { line: 1, .. })
        ));
    }

    #[test]
    fn log_keys_sign_the_checkpoints_of_their_range() {
        let old = NoteSigner::new("example.gov.cn/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let new = NoteSigner::new("example.gov.cn/log", SigningKey::from_bytes(&[4; 32])).unwrap();
        let root = NoteSigner::new("gd.sjj", SigningKey::from_bytes(&[2; 32])).unwrap();
        let p = Policy::parse(&format!(
            "log {} until 10\nlog {} from 10\nroot {}\n",
            old.verifier().encode(),
            new.verifier().encode(),
            root.verifier().encode()
        ))
        .unwrap();
        assert_eq!(Policy::parse(&p.encode()).unwrap(), p);
        let signed = |size: u64, by: &NoteSigner| {
            Checkpoint {
                origin: "example.gov.cn/log".into(),
                size,
                root: crate::hashing::Hash::empty_tree(),
            }
            .sign(by)
        };
        // The old key: the empty tree's and those of entries 0 … 9.
        for size in [0, 1, 10] {
            assert_eq!(
                p.verify_checkpoint(signed(size, &old).as_bytes())
                    .unwrap()
                    .1,
                vec![0]
            );
            assert!(
                p.verify_checkpoint(signed(size, &new).as_bytes()).is_err(),
                "{size}"
            );
        }
        for size in [11, 1_000] {
            assert!(matches!(
                p.verify_checkpoint(signed(size, &old).as_bytes()),
                Err(CheckpointError::KeyNotInForce { size: s, .. }) if s == size
            ));
            assert_eq!(
                p.verify_checkpoint(signed(size, &new).as_bytes())
                    .unwrap()
                    .1,
                vec![1]
            );
        }
    }

    #[test]
    fn quorums_count_witnesses_and_groups() {
        let log = NoteSigner::new("example.gov.cn/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let root = NoteSigner::new("gd.sjj", SigningKey::from_bytes(&[2; 32])).unwrap();
        let w = |seed: u8, name: &str| {
            crate::note::VerifierKey::new(
                name,
                crate::note::TYPE_COSIGNATURE,
                SigningKey::from_bytes(&[seed; 32]).verifying_key(),
            )
            .unwrap()
            .encode()
        };
        let text = format!(
            "log {}\nroot {}\nwitness gd w.gd/1 {}\nwitness js {} https://w.js\nwitness bj {}\ngroup provinces any gd js\ngroup all-levels 2 provinces bj\nquorum all-levels\n",
            log.verifier().encode(),
            root.verifier().encode(),
            w(10, "w.gd"),
            w(11, "w.js"),
            w(12, "w.bj"),
        );
        // (The first witness line names its URL before its key: refused.)
        assert!(Policy::parse(&text).is_err());
        let text = text.replace("witness gd w.gd/1 ", "witness gd ");
        let p = Policy::parse(&text).unwrap();
        assert_eq!(Policy::parse(&p.encode()).unwrap(), p);
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(!p.quorum_met(&names(&[])));
        assert!(!p.quorum_met(&names(&["gd", "js"])));
        assert!(p.quorum_met(&names(&["gd", "bj"])));
        assert!(p.quorum_met(&names(&["js", "bj"])));
        let base = format!(
            "log {}\nroot {}\n",
            log.verifier().encode(),
            root.verifier().encode()
        );
        for bad in [
            format!("{base}quorum nobody\n"),
            format!("{base}witness a {}\nquorum a\nquorum a\n", w(10, "w.a")),
            format!("{base}witness a {}\ngroup g 2 a\n", w(10, "w.a")),
            format!(
                "{base}witness a {}\nwitness a {}\n",
                w(10, "w.a"),
                w(11, "w.b")
            ),
            format!("{base}witness none {}\n", w(10, "w.a")),
            format!("{base}witness a {}\n", log.verifier().encode()),
            format!("{base}group g any\n"),
        ] {
            assert!(Policy::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            Policy::parse(&format!("{base}quorum none\n"))
                .unwrap()
                .quorum,
            None
        );
    }

    #[test]
    fn root_keys_rotate_by_entry_index() {
        let log = NoteSigner::new("example.gov.cn/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let old = NoteSigner::new("gd.sjj", SigningKey::from_bytes(&[2; 32])).unwrap();
        let new = NoteSigner::new("gd.sjj", SigningKey::from_bytes(&[3; 32])).unwrap();
        let text = format!(
            "log {}\nroot {} until 120 # retired\nroot  {}\tfrom 120\n",
            log.verifier().encode(),
            old.verifier().encode(),
            new.verifier().encode()
        );
        let p = Policy::parse(&text).unwrap();
        assert_eq!(Policy::parse(&p.encode()).unwrap(), p);
        let trust = p.trust_roots();
        let signer = |s: &NoteSigner| SignerRef {
            department: Id::try_from("gd.sjj".to_owned()).unwrap(),
            key: PublicKey(s.verifier().key.to_bytes()),
        };
        assert!(trust.is_root_at(&signer(&old), 119));
        assert!(!trust.is_root_at(&signer(&old), 120));
        assert!(!trust.is_root_at(&signer(&new), 119));
        assert!(trust.is_root_at(&signer(&new), 120));
        assert!(
            trust.is_root_key(&signer(&old).key),
            "a retired root still signs no case"
        );
        let vkey = old.verifier().encode();
        for bad in [
            format!("root {vkey} until 0"),
            format!("root {vkey} from 5 until 5"),
            format!("root {vkey} until 9 from 1"),
            format!("root {vkey} from"),
            format!("root {vkey} from 01"),
            format!("root {vkey} since 4"),
            format!("log {} until 0", log.verifier().encode()),
        ] {
            let text = format!("log {}\n{bad}\n", log.verifier().encode());
            let text = text.replacen(&format!("log {}\nlog", log.verifier().encode()), "log", 1);
            assert!(
                matches!(Policy::parse(&text), Err(PolicyError::Line { .. })),
                "{bad:?} should be refused"
            );
        }
    }
}
