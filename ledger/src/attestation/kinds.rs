//! Every kind of statement and its body schema (specs/attestation.md §Kinds),
//! and the rules a schema alone cannot say.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::AttestationError;
use super::fields::*;
use super::schema::{self, FieldSchema};

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

            fn members(self) -> Vec<schema::Member> {
                match self {
                    $( Kind::$variant => vec![ $( (
                        stringify!($field),
                        <$ty as FieldSchema>::schema(),
                        <$ty as FieldSchema>::REQUIRED,
                        <$ty as FieldSchema>::example(),
                    ) ),* ], )*
                }
            }

            /// The JSON Schema (2020-12) of this kind's body.
            pub fn body_schema(self) -> Value {
                let mut schema = schema::body_schema(self.name(), self.members());
                single_member_rules(self, &mut schema);
                schema
            }

            /// A body of this kind that the parser accepts, with every
            /// required member and no optional one: a template to edit.
            pub fn example_body(self) -> Value {
                schema::example_body(self.members())
            }
        }

        impl Body {
            pub fn kind(&self) -> Kind {
                match self { $( Body::$variant(_) => Kind::$variant ),* }
            }

            pub(super) fn parse(kind: Kind, json: &str) -> Result<Body, AttestationError> {
                match kind {
                    $( Kind::$variant => crate::strict_json::from_slice::<$variant>(json.as_bytes())
                        .map(Body::$variant)
                        .map_err(|e| AttestationError::Body { kind: $name, reason: e.within("body") }), )*
                }
            }

            pub(super) fn to_value(&self) -> Value {
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
        /// The department's key this one rotates out: its validity ends
        /// where this key's begins (specs/lifecycle.md §Rules).
        replaces: Option<PublicKey>,
    }
    /// Revokes a department key: it signs no entry after this one (by
    /// index, even in the same batch; specs/lifecycle.md §Rules).
    KeyRevocation = "key_revocation" {
        department: Id, key: PublicKey, reason: Text,
        /// Since when the key is known or feared to be in other hands: the
        /// audit flags what it signed from then on (specs/package.md).
        compromised_since: Option<u64>,
    }
    /// The notary's next checkpoint key (specs/checkpoint.md §Key rotation).
    LogKey = "log_key" { key: PublicKey }

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
        /// The catalog change (a `catalog_change_notice`) this entry answers
        /// (Art. 17).
        change: Option<Id>,
    }
    /// Art. 17: a change of law or mandate requires `provider` to update
    /// its catalog (the items named, or new ones) within 10 working days.
    CatalogChangeNotice = "catalog_change_notice" {
        change: Id, provider: Id,
        /// The items affected; empty when new items are needed.
        items: Vec<Id>,
        /// The law, regulation or mandate that changed.
        basis: Text,
    }
    /// Art. 17: the supervisor allows the catalog update up to 5 more working days.
    CatalogUpdateExtension = "catalog_update_extension" { change: Id, working_days: u64, reason: Text }
    /// Art. 17: the supervisor has reviewed the update and publishes it.
    CatalogPublication = "catalog_publication" { change: Id, items: Vec<Id> }
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
        other: Option<OtherItems>,
    }
    /// Art. 21: one notice listing everything missing from the application.
    MaterialsIncomplete = "materials_incomplete" { case: Id, missing: TextList }
    /// Art. 21: the requester supplies what a materials-incomplete notice
    /// listed; the reply clock starts again from it (specs/findings.md).
    MaterialsSupplement = "materials_supplement" { case: Id, supplied: TextList }
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
    /// Art. 28: negotiation failed; a department brings a dispute with
    /// another to a supervisor (the one at their level).
    Dispute = "dispute" {
        dispute: Id, with: Id, supervisor: Id,
        /// The sharing case the dispute is about, if any.
        case: Option<Id>,
        subject: Text,
    }
    /// Art. 28: the supervisor handling a dispute passes it to a higher one.
    DisputeEscalation = "dispute_escalation" { dispute: Id, to: Id, reason: Text }
    /// Art. 28: the supervisor handling a dispute settles it.
    DisputeResolution = "dispute_resolution" { dispute: Id, outcome: Text }
    /// Art. 24: a lower-level department asks a higher-level one for the
    /// data about its region (回流).
    ReturnFlowRequest = "return_flow_request" {
        request: Id, to: Id, data_items: TextList, region: Text,
    }
    /// Art. 24: the higher-level department returns the data, completely
    /// and with no extra conditions.
    ReturnFlow = "return_flow" { request: Id, data_digest: Digest, description: Option<Text> }
    /// Art. 25: the provider consents to wider use or passing to a third party.
    Consent = "consent" {
        case: Id, scope: ConsentScope, third_party: Option<Id>, description: Text,
    }
}

/// The rules of [`validate`] that bear on one member, in the schema too.
fn single_member_rules(kind: Kind, schema: &mut Value) {
    let properties = &mut schema["properties"];
    match kind {
        Kind::Department => properties["roles"]["minItems"] = 1.into(),
        Kind::ReplyExtension => {
            properties["working_days"]["minimum"] = 1.into();
            properties["working_days"]["maximum"] = 10.into();
        }
        Kind::CatalogUpdateExtension => {
            properties["working_days"]["minimum"] = 1.into();
            properties["working_days"]["maximum"] = 5.into();
        }
        Kind::Application => {
            properties["declaration"]["const"] = true.into();
            properties["other"]["propertyNames"] = serde_json::json!({
                "minLength": 1, "maxLength": super::limits::MAX_ID_LEN, "pattern": "\\S"
            });
        }
        _ => {}
    }
}

/// Rules a schema alone cannot say.
pub(super) fn validate(body: &Body) -> Result<(), AttestationError> {
    let fail = |kind: Kind, reason: &str| {
        Err(AttestationError::Body {
            kind: kind.name(),
            reason: reason.to_owned(),
        })
    };
    match body {
        Body::Department(d) if d.roles.is_empty() => fail(body.kind(), "roles must not be empty"),
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
        Body::CatalogUpdateExtension(r) if !(1..=5).contains(&r.working_days) => fail(
            body.kind(),
            "a catalog update extension is 1 to 5 working days (Art. 17)",
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
