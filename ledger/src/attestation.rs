//! Attestations: the statements departments sign, and how they are signed.
//!
//! A *statement* is a strict JSON object (see [`crate::strict_json`]):
//!
//! ```json
//! {"version":1,"kind":"approval","signer":{"department":"gd.rst","key":"<base64 Ed25519 key>"},
//!  "signed_at":1764201600000,"body":{"case":"2026-0001"}}
//! ```
//!
//! The department signs `CONTEXT || statement bytes` with Ed25519; the exact
//! bytes it signed are what the log stores and hashes, never a re-encoding.
//! `kind` selects the body schema; every body refuses unknown fields, so a
//! field one reader ignores cannot mean something to another.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::signature::{self, DecodedKey, SignatureError, SignedStatement};
use crate::strict_json::{self, StrictJsonError};

/// Domain separation: every attestation signature covers these bytes first,
/// so no signature made for another protocol (a note, a TLS handshake, …)
/// can be replayed as an attestation, or the other way round.
pub const CONTEXT: &[u8] = b"share-audit/attestation/v1\n";
/// The only statement version this code reads.
pub const VERSION: u64 = 1;
/// Longest identifier (department, case, catalog item).
pub const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("statement is not strict JSON: {0}")]
    Json(#[from] StrictJsonError),
    #[error("statement does not match the schema: {0}")]
    Schema(String),
    #[error("unsupported statement version {0} (this notary reads version {VERSION})")]
    UnsupportedVersion(u64),
    #[error("unknown statement kind {0:?}")]
    UnknownKind(String),
    #[error("body of {kind} does not match its schema: {reason}")]
    Body { kind: &'static str, reason: String },
    #[error("signer key: {0}")]
    BadSignerKey(SignatureError),
    #[error("signature is not 64 bytes of base64")]
    MalformedSignature,
    #[error("signature does not verify under the signer key: {0}")]
    BadSignature(SignatureError),
}

fn schema<E: std::fmt::Display>(e: E) -> AttestationError {
    AttestationError::Schema(e.to_string())
}

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

/// Non-empty free text.
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

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date(String);

impl TryFrom<String> for Date {
    type Error = String;
    fn try_from(s: String) -> Result<Date, String> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && digits(0..4)
            && digits(5..7)
            && digits(8..10);
        let month: u32 = if shape {
            s[5..7].parse().unwrap_or(0)
        } else {
            0
        };
        let day: u32 = if shape {
            s[8..10].parse().unwrap_or(0)
        } else {
            0
        };
        if shape && (1..=12).contains(&month) && (1..=31).contains(&day) {
            Ok(Date(s))
        } else {
            Err(format!("{s:?} is not a date YYYY-MM-DD"))
        }
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.0
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
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Supervisor => "supervisor",
            Role::Provider => "provider",
            Role::Requester => "requester",
            Role::Source => "source",
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

macro_rules! bodies {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? } )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $variant { $( $(#[$fdoc])* #[serde(skip_serializing_if = "is_absent")] pub $field: $ty ),* }
        )*

        /// The kind-specific part of a statement.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Body { $( $variant($variant) ),* }

        /// Every kind of statement, by its `kind` name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind { $( $variant ),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[ $( Kind::$variant ),* ];

            pub fn name(self) -> &'static str {
                match self { $( Kind::$variant => $name ),* }
            }

            pub fn from_name(name: &str) -> Option<Kind> {
                match name { $( $name => Some(Kind::$variant), )* _ => None }
            }
        }

        impl Body {
            pub fn kind(&self) -> Kind {
                match self { $( Body::$variant(_) => Kind::$variant ),* }
            }

            fn parse(kind: Kind, json: &str) -> Result<Body, AttestationError> {
                match kind {
                    $( Kind::$variant => serde_json::from_str::<$variant>(json)
                        .map(Body::$variant)
                        .map_err(|e| AttestationError::Body { kind: $name, reason: e.to_string() }), )*
                }
            }

            fn to_value(&self) -> Value {
                match self {
                    $( Body::$variant(b) => serde_json::to_value(b).expect("bodies serialize"), )*
                }
            }
        }
    };
}

/// Lets optional fields be omitted on output; required fields are never absent.
trait Absent {
    fn absent(&self) -> bool {
        false
    }
}
impl<T> Absent for Option<T> {
    fn absent(&self) -> bool {
        self.is_none()
    }
}
impl Absent for Id {}
impl Absent for Text {}
impl Absent for TextList {}
impl Absent for PublicKey {}
impl Absent for Digest {}
impl Absent for Date {}
impl Absent for Vec<Role> {}
impl Absent for Vec<Id> {}
impl Absent for u64 {}
impl Absent for bool {}
impl Absent for ShareAttribute {}
impl Absent for SharingMethod {}
impl Absent for CorrectionOutcome {}
impl Absent for DisposalMethod {}
impl Absent for ServiceChange {}
impl Absent for ConsentScope {}
fn is_absent<T: Absent>(v: &T) -> bool {
    v.absent()
}

bodies! {
    // --- registry, signed by a root key of the trust policy ---

    /// Registers (or re-registers, replacing roles and name) a department.
    Department = "department" {
        id: Id, name: Text, roles: Vec<Role>, jurisdiction: Text,
    }
    /// Registers a department's signing key, valid in `[valid_from, valid_until)`
    /// (milliseconds since the Unix epoch; `valid_from` defaults to the
    /// notarised time of this entry).
    DepartmentKey = "department_key" {
        department: Id, key: PublicKey, valid_from: Option<u64>, valid_until: Option<u64>,
    }
    /// Revokes a department key from the notarised time of this entry on.
    KeyRevocation = "key_revocation" {
        department: Id, key: PublicKey, reason: Text,
    }

    // --- catalog, signed by the providing department (Art. 13–17) ---

    /// A catalog entry (or a new version of one) of the signing provider.
    CatalogEntry = "catalog_entry" {
        item: Id, name: Text, data_items: TextList, format: Text, update_frequency: Text,
        share_attribute: ShareAttribute, sharing_method: SharingMethod,
        /// Required and non-empty for conditional sharing (Art. 15).
        conditions: Option<TextList>,
        /// For not-shareable data: the reason (Art. 15).
        reason: Option<Text>,
        /// For not-shareable data: the law, regulation or decision (Art. 15).
        legal_basis: Option<Text>,
        classification: Text,
    }
    /// Art. 27: a provider files a change or stop of a shared service.
    ServiceChangeFiling = "service_change_filing" {
        item: Id, change: ServiceChange, reason: Text,
        /// Requesting departments consulted beforehand.
        consulted: Vec<Id>,
    }

    // --- a sharing case (Art. 20–29) ---

    /// Art. 20: the requester applies for data; opens the case `case`.
    Application = "application" {
        case: Id, item: Id, provider: Id, data_items: TextList,
        /// 使用依据.
        legal_basis: Text,
        /// 使用场景.
        use_scenario: Text,
        /// 使用范围.
        scope_of_use: Text,
        /// 共享方式.
        sharing_method: SharingMethod,
        /// 使用时限: last day of permitted use.
        use_until: Date,
        /// Head of the requester's data-sharing working body who signed off (Art. 20).
        approved_by: Text,
        /// The requester vouches the application is true, lawful and necessary.
        declaration: bool,
        /// Further items the regulation's open list ("等") may call for.
        other: Option<BTreeMap<String, Text>>,
    }
    /// Art. 21: one notice listing everything missing from the application.
    MaterialsIncomplete = "materials_incomplete" { case: Id, missing: TextList }
    /// Art. 21: the provider approves; conditions only as in the catalog (Art. 15).
    Approval = "approval" { case: Id, conditions: Option<TextList> }
    /// Art. 15, 21: the provider refuses, with reasons (and the legal basis
    /// for not-shareable data).
    Rejection = "rejection" { case: Id, reasons: TextList, legal_basis: Option<Text> }
    /// Art. 21: the supervisor approves extending the reply deadline.
    ReplyExtension = "reply_extension" { case: Id, working_days: u64, reason: Text }
    /// Art. 22: the provider delivers the data.
    Delivery = "delivery" {
        case: Id, method: SharingMethod, data_digest: Digest, description: Option<Text>,
    }
    /// The requester acknowledges receipt of a delivery.
    DeliveryReceipt = "delivery_receipt" { case: Id, data_digest: Digest }
    /// Art. 26: the requester asks for verification and correction.
    CorrectionRequest = "correction_request" { case: Id, request: Id, problems: TextList }
    /// Art. 26: the provider answers a correction request.
    CorrectionResult = "correction_result" {
        case: Id, request: Id, outcome: CorrectionOutcome, description: Text,
        data_digest: Option<Digest>,
    }
    /// Art. 29: a usage record, kept at least three years.
    UsageRecord = "usage_record" {
        case: Id, use_scenario: Text, use_process: Text, outcome: Text,
        storage_status: Text, destruction_status: Text,
    }
    /// Art. 27: the requester disposes of the data as the provider asks.
    Disposal = "disposal" { case: Id, method: DisposalMethod, description: Text }
    /// Art. 27: sharing suspended for misuse, with a rectification deadline.
    Suspension = "suspension" { case: Id, reason: Text, rectify_by: Option<Date> }
    /// Art. 27: sharing terminated.
    Termination = "termination" { case: Id, reason: Text }
    /// Art. 25: the provider consents to wider use or passing to a third party.
    Consent = "consent" {
        case: Id, scope: ConsentScope, third_party: Option<Id>, description: Text,
    }
}

/// Who signed a statement: a department (or a root of the trust policy) and
/// the public key it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerRef {
    pub department: Id,
    pub key: PublicKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementFields<'a> {
    version: u64,
    kind: String,
    signer: SignerRef,
    signed_at: u64,
    /// Read once `kind` says which schema applies.
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
}

/// A parsed statement. `signed_at` is the signer's claim (milliseconds since
/// the Unix epoch); deadlines use the notary's time in the entry instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub signer: SignerRef,
    pub signed_at: u64,
    pub body: Body,
}

impl Statement {
    /// Strictly parses statement bytes.
    pub fn parse(bytes: &[u8]) -> Result<Statement, AttestationError> {
        // The strict rules on the whole document first, then straight into
        // the typed schema (no intermediate tree).
        strict_json::check(bytes)?;
        let fields: StatementFields = serde_json::from_slice(bytes).map_err(schema)?;
        if fields.version != VERSION {
            return Err(AttestationError::UnsupportedVersion(fields.version));
        }
        let kind =
            Kind::from_name(&fields.kind).ok_or(AttestationError::UnknownKind(fields.kind))?;
        let body = Body::parse(kind, fields.body.get())?;
        validate(&body)?;
        Ok(Statement {
            signer: fields.signer,
            signed_at: fields.signed_at,
            body,
        })
    }

    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// Canonical bytes for a new statement (what a department tool signs).
    /// Verifiers never re-encode: they use the bytes that were signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "version": VERSION,
            "kind": self.kind().name(),
            "signer": self.signer,
            "signed_at": self.signed_at,
            "body": self.body.to_value(),
        });
        serde_json::to_vec(&v).expect("statement serializes")
    }
}

/// Rules a schema alone cannot say.
fn validate(body: &Body) -> Result<(), AttestationError> {
    let fail = |kind: Kind, reason: &str| {
        Err(AttestationError::Body {
            kind: kind.name(),
            reason: reason.to_owned(),
        })
    };
    match body {
        Body::Department(d) if d.roles.is_empty() => fail(body.kind(), "roles must not be empty"),
        Body::DepartmentKey(k) => match (k.valid_from, k.valid_until) {
            (Some(from), Some(until)) if until <= from => {
                fail(body.kind(), "valid_until must be after valid_from")
            }
            _ => Ok(()),
        },
        Body::CatalogEntry(c) => match c.share_attribute {
            ShareAttribute::Conditional if c.conditions.is_none() => fail(
                body.kind(),
                "conditional sharing must list its conditions (Art. 15)",
            ),
            ShareAttribute::NotShareable if c.reason.is_none() || c.legal_basis.is_none() => fail(
                body.kind(),
                "not-shareable data needs a reason and the legal basis (Art. 15)",
            ),
            ShareAttribute::Unconditional if c.conditions.is_some() => {
                fail(body.kind(), "unconditional sharing cannot carry conditions")
            }
            _ => Ok(()),
        },
        Body::Application(a) if !a.declaration => fail(
            body.kind(),
            "the requester must declare the application true, lawful and necessary (Art. 20)",
        ),
        Body::ReplyExtension(r) if !(1..=10).contains(&r.working_days) => fail(
            body.kind(),
            "a reply extension is 1 to 10 working days (Art. 21)",
        ),
        Body::Consent(c) => match (c.scope, &c.third_party) {
            (ConsentScope::ThirdParty, None) => {
                fail(body.kind(), "third_party consent must name the third party")
            }
            (ConsentScope::WiderUse, Some(_)) => {
                fail(body.kind(), "wider_use consent names no third party")
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// What a department submits: the statement bytes and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAttestation {
    pub statement: Vec<u8>,
    pub signature: [u8; 64],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedAttestationJson {
    statement: String,
    signature: String,
}

/// The bytes an attestation signature covers.
pub fn signed_message(statement: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(CONTEXT.len() + statement.len());
    msg.extend_from_slice(CONTEXT);
    msg.extend_from_slice(statement);
    msg
}

/// Decodes a base64 Ed25519 signature.
pub fn decode_signature(b64: &str) -> Result<[u8; 64], AttestationError> {
    BASE64
        .decode(b64)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or(AttestationError::MalformedSignature)
}

impl SignedAttestation {
    /// Signs statement bytes with a department key.
    pub fn sign(statement: Vec<u8>, key: &SigningKey) -> SignedAttestation {
        let signature = key.sign(&signed_message(&statement)).to_bytes();
        SignedAttestation {
            statement,
            signature,
        }
    }

    /// `{"statement":"<base64>","signature":"<base64>"}`, the submission body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&SignedAttestationJson {
            statement: BASE64.encode(&self.statement),
            signature: BASE64.encode(self.signature),
        })
        .expect("serializes")
    }

    pub fn from_json(bytes: &[u8]) -> Result<SignedAttestation, AttestationError> {
        strict_json::check(bytes)?;
        let j: SignedAttestationJson = serde_json::from_slice(bytes).map_err(schema)?;
        SignedAttestation::from_fields(j)
    }

    /// From an already strictly parsed JSON value (one item of a bulk submission).
    pub fn from_value(v: Value) -> Result<SignedAttestation, AttestationError> {
        SignedAttestation::from_fields(serde_json::from_value(v).map_err(schema)?)
    }

    fn from_fields(j: SignedAttestationJson) -> Result<SignedAttestation, AttestationError> {
        let statement = BASE64
            .decode(&j.statement)
            .map_err(|_| AttestationError::Schema("statement is not base64".into()))?;
        Ok(SignedAttestation {
            statement,
            signature: decode_signature(&j.signature)?,
        })
    }
}

/// Decodes the signer key: a canonical encoding of a point not of small order.
pub fn decode_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    DecodedKey::new(&key.0).map_err(AttestationError::BadSignerKey)
}

/// A key that may be registered: decodable, not of small order, and with no
/// torsion component (no honest key generator makes one).
pub fn registrable_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    let decoded = decode_key(key)?;
    if !decoded.is_torsion_free() {
        return Err(AttestationError::BadSignerKey(SignatureError::TorsionKey));
    }
    Ok(decoded)
}

/// The signature rule of this ledger ([`crate::signature`]) over
/// `CONTEXT || statement`, under the key the statement names.
pub fn verify_signature(
    statement: &Statement,
    statement_bytes: &[u8],
    signature: &[u8; 64],
) -> Result<(), AttestationError> {
    let key = decode_key(&statement.signer.key)?;
    signature::verify(&SignedStatement {
        key: &key,
        statement: statement_bytes,
        signature,
    })
    .map_err(AttestationError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn statement_json(kind: &str, body: &str) -> String {
        let k = BASE64.encode(key().verifying_key().as_bytes());
        format!(
            r#"{{"version":1,"kind":"{kind}","signer":{{"department":"gd.rst","key":"{k}"}},"signed_at":1764201600000,"body":{body}}}"#
        )
    }

    #[test]
    fn parses_and_round_trips_every_kind_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(*k));
        }
        assert_eq!(Kind::ALL.len(), 19);
        let s = Statement::parse(statement_json("approval", r#"{"case":"2026-1"}"#).as_bytes())
            .unwrap();
        assert_eq!(s.kind(), Kind::Approval);
        assert_eq!(Statement::parse(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn refuses_bad_statements() {
        let bad = |kind: &str, body: &str| {
            Statement::parse(statement_json(kind, body).as_bytes()).unwrap_err()
        };
        assert!(matches!(
            bad("approval", r#"{"case":"x","extra":1}"#),
            AttestationError::Body { .. }
        ));
        assert!(matches!(
            bad("approval", r#"{}"#),
            AttestationError::Body { .. }
        ));
        assert!(matches!(
            bad("approval", r#"{"case":"has space"}"#),
            AttestationError::Body { .. }
        ));
        assert!(matches!(
            bad("wiretap", r#"{}"#),
            AttestationError::UnknownKind(_)
        ));
        assert!(matches!(
            bad(
                "reply_extension",
                r#"{"case":"c","working_days":11,"reason":"r"}"#
            ),
            AttestationError::Body { .. }
        ));
        let v2 = statement_json("approval", r#"{"case":"c"}"#)
            .replace(r#""version":1"#, r#""version":2"#);
        assert_eq!(
            Statement::parse(v2.as_bytes()),
            Err(AttestationError::UnsupportedVersion(2))
        );
        let dup = statement_json("approval", r#"{"case":"c","case":"d"}"#);
        assert!(matches!(
            Statement::parse(dup.as_bytes()),
            Err(AttestationError::Json(StrictJsonError::DuplicateKey(_)))
        ));
    }

    #[test]
    fn signature_is_domain_separated_and_strict() {
        let bytes = statement_json("approval", r#"{"case":"c"}"#).into_bytes();
        let st = Statement::parse(&bytes).unwrap();
        let signed = SignedAttestation::sign(bytes.clone(), &key());
        verify_signature(&st, &bytes, &signed.signature).unwrap();
        // A signature over the bare statement (no context) is refused.
        let bare = key().sign(&bytes).to_bytes();
        assert_eq!(
            verify_signature(&st, &bytes, &bare),
            Err(AttestationError::BadSignature(SignatureError::Equation))
        );
        let round = SignedAttestation::from_json(signed.to_json().as_bytes()).unwrap();
        assert_eq!(round, signed);
    }
}
