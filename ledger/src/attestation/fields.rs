//! The field types of statements: identifiers, texts, keys, digests, dates
//! and the enumerations of the regulation (specs/attestation.md §Field types).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::limits::MAX_ID_LEN;

/// An identifier: 1–128 characters of `A–Z a–z 0–9 . _ : / -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = String;
    fn try_from(s: String) -> Result<Id, String> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
        if ok {
            Ok(Id(s))
        } else {
            Err(format!(
                "{s:?} is not an identifier (1-{MAX_ID_LEN} of A-Z a-z 0-9 . _ : / -)"
            ))
        }
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text: a string with at least one character that is not white space
/// (Unicode `White_Space`, e.g. U+0020, U+3000 ideographic space, U+00A0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl TryFrom<String> for Text {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Text, &'static str> {
        if s.trim().is_empty() {
            Err("text must not be empty")
        } else {
            Ok(Text(s))
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A non-empty list of non-empty texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Text>", into = "Vec<Text>")]
pub struct TextList(Vec<Text>);

impl TryFrom<Vec<Text>> for TextList {
    type Error = &'static str;
    fn try_from(v: Vec<Text>) -> Result<TextList, &'static str> {
        if v.is_empty() {
            Err("list must not be empty")
        } else {
            Ok(TextList(v))
        }
    }
}

impl TextList {
    /// The texts, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Text::as_str)
    }
}

impl From<TextList> for Vec<Text> {
    fn from(l: TextList) -> Vec<Text> {
        l.0
    }
}

/// An Ed25519 public key, base64 of its 32-byte encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicKey(pub [u8; 32]);

impl TryFrom<String> for PublicKey {
    type Error = String;
    fn try_from(s: String) -> Result<PublicKey, String> {
        BASE64
            .decode(&s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(PublicKey)
            .ok_or_else(|| format!("{s:?} is not a base64 32-byte public key"))
    }
}

impl From<PublicKey> for String {
    fn from(k: PublicKey) -> String {
        BASE64.encode(k.0)
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&BASE64.encode(self.0))
    }
}

/// A SHA-256 digest of data that stays with the departments:
/// `sha256:<64 lowercase hex>`. Low-entropy data should be salted first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Digest, String> {
        match s.strip_prefix("sha256:") {
            Some(h)
                if h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Ok(Digest(s))
            }
            _ => Err(format!("{s:?} is not sha256:<64 lowercase hex>")),
        }
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

/// A calendar date, `YYYY-MM-DD`: a day that exists in the proleptic
/// Gregorian calendar (`2026-02-29` and `2026-04-31` do not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date(String);

impl Date {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Date {
    type Error = String;
    fn try_from(s: String) -> Result<Date, String> {
        match crate::time::parse_ymd(&s) {
            Some(_) => Ok(Date(s)),
            None => Err(format!("{s:?} is not a date YYYY-MM-DD that exists")),
        }
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.0
    }
}

/// The log a statement is signed for: its origin, as in the checkpoints and
/// the trust policy (a key name: 1–255 bytes, no white space, no `+`; and no
/// control character, which a note cannot hold, nor `#`, which starts a
/// comment in the policy).
/// Binding every statement to one log keeps it from being replayed in
/// another (specs/attestation.md §Statements).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

/// Longest log origin.
pub const MAX_ORIGIN_LEN: usize = 255;

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Origin {
    type Error = String;
    fn try_from(s: String) -> Result<Origin, String> {
        // `#` would start a comment in the trust policy that names the log.
        // Control characters cannot be in a note (specs/checkpoint.md).
        let usable = !s.contains('#') && !s.chars().any(char::is_control);
        if s.len() <= MAX_ORIGIN_LEN && crate::note::check_key_name(&s).is_ok() && usable {
            Ok(Origin(s))
        } else {
            Err(format!(
                "{s:?} is not a log origin (1-{MAX_ORIGIN_LEN} bytes; no white space, control character, '+' or '#')"
            ))
        }
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> String {
        o.0
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The open list of an application (Art. 20 "等"): 1 to 32 further items,
/// each named by a text of at most 128 characters and holding a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, Text>", into = "BTreeMap<String, Text>")]
pub struct OtherItems(BTreeMap<String, Text>);

/// Most members of an [`OtherItems`] object.
pub const MAX_OTHER_ITEMS: usize = 32;

impl TryFrom<BTreeMap<String, Text>> for OtherItems {
    type Error = String;
    fn try_from(m: BTreeMap<String, Text>) -> Result<OtherItems, String> {
        if m.is_empty() || m.len() > MAX_OTHER_ITEMS {
            return Err(format!(
                "`other` holds 1 to {MAX_OTHER_ITEMS} members, not {}",
                m.len()
            ));
        }
        for name in m.keys() {
            if name.trim().is_empty() || name.chars().count() > MAX_ID_LEN {
                return Err(format!(
                    "`other` member name {name:?} must be text of at most {MAX_ID_LEN} characters"
                ));
            }
        }
        Ok(OtherItems(m))
    }
}

impl From<OtherItems> for BTreeMap<String, Text> {
    fn from(o: OtherItems) -> BTreeMap<String, Text> {
        o.0
    }
}

impl OtherItems {
    pub fn items(&self) -> &BTreeMap<String, Text> {
        &self.0
    }
}

/// The roles a department can be registered with (条例 Art. 5–11, 19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 政务数据共享主管部门, the competent department.
    Supervisor,
    /// 政务数据提供部门.
    Provider,
    /// 政务数据需求部门.
    Requester,
    /// 数源部门 (Art. 19).
    Source,
    /// 审计/监察: reads every entry and signs no statement (specs/reads.md).
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Supervisor => "supervisor",
            Role::Provider => "provider",
            Role::Requester => "requester",
            Role::Source => "source",
            Role::Auditor => "auditor",
        }
    }
}

/// Share attribute of a catalog entry (Art. 14–15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareAttribute {
    /// 无条件共享.
    Unconditional,
    /// 有条件共享: the entry lists its conditions.
    Conditional,
    /// 不予共享: the entry gives a reason and the legal basis.
    NotShareable,
}

/// Sharing method (Art. 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharingMethod {
    /// 服务接口.
    ServiceInterface,
    /// 批量交换.
    BatchExchange,
    /// 文件下载.
    FileDownload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionOutcome {
    Corrected,
    VerifiedCorrect,
    CannotCorrect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisposalMethod {
    Deleted,
    Destroyed,
    Returned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceChange {
    Change,
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    WiderUse,
    ThirdParty,
}
