//! JSON Schemas and example bodies of the kinds, derived from the field
//! types the parser itself uses (specs/attestation.md §Field types), so that
//! neither can say something the parser does not.
//!
//! The schemas say each member's type and shape; rules between members
//! (conditional sharing lists its conditions, a consent to a third party
//! names it, …) are the parser's alone, and the schema's description says so.

use serde_json::{json, Map, Value};

use super::fields::*;
use super::limits::MAX_ID_LEN;

/// A field type's JSON Schema and an example value.
pub trait FieldSchema {
    /// Whether a body must carry the member (everything but `Option`).
    const REQUIRED: bool = true;
    fn schema() -> Value;
    /// A valid value, for templates; `None` for optional members, which
    /// templates leave out.
    fn example() -> Option<Value>;
}

fn string_enum(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

impl FieldSchema for Id {
    fn schema() -> Value {
        json!({ "type": "string", "pattern": format!("^[A-Za-z0-9._:/-]{{1,{MAX_ID_LEN}}}$") })
    }
    fn example() -> Option<Value> {
        Some(json!("gd.example"))
    }
}

impl FieldSchema for Text {
    fn schema() -> Value {
        json!({ "type": "string", "minLength": 1, "pattern": "\\S",
                "description": "text with at least one character that is not white space" })
    }
    fn example() -> Option<Value> {
        Some(json!("说明"))
    }
}

impl FieldSchema for TextList {
    fn schema() -> Value {
        json!({ "type": "array", "minItems": 1, "items": Text::schema() })
    }
    fn example() -> Option<Value> {
        Some(json!(["说明"]))
    }
}

impl FieldSchema for PublicKey {
    fn schema() -> Value {
        json!({ "type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$",
                "description": "base64 of an Ed25519 public key (32 bytes), as `dept pubkey` prints it" })
    }
    fn example() -> Option<Value> {
        // The key of the seed 0x01…01: its private key is public, so the
        // notary refuses to register it (`registrable_key`); replace it.
        Some(json!(super::keys::EXAMPLE_KEY))
    }
}

impl FieldSchema for Digest {
    fn schema() -> Value {
        json!({ "type": "string", "pattern": "^sha256:[0-9a-f]{64}$",
                "description": "SHA-256 of data that stays with the departments (`dept digest`)" })
    }
    fn example() -> Option<Value> {
        Some(json!(format!("sha256:{}", "0".repeat(64))))
    }
}

impl FieldSchema for Date {
    fn schema() -> Value {
        json!({ "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "description": "a calendar day YYYY-MM-DD that exists" })
    }
    fn example() -> Option<Value> {
        Some(json!("2027-12-31"))
    }
}

impl FieldSchema for u64 {
    fn schema() -> Value {
        json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
    }
    fn example() -> Option<Value> {
        Some(json!(5))
    }
}

impl FieldSchema for bool {
    fn schema() -> Value {
        json!({ "type": "boolean" })
    }
    fn example() -> Option<Value> {
        Some(json!(true))
    }
}

impl FieldSchema for OtherItems {
    fn schema() -> Value {
        json!({ "type": "object", "minProperties": 1, "maxProperties": MAX_OTHER_ITEMS,
                "additionalProperties": Text::schema() })
    }
    fn example() -> Option<Value> {
        Some(json!({ "其他事项": "说明" }))
    }
}

impl<T: FieldSchema> FieldSchema for Vec<T> {
    fn schema() -> Value {
        json!({ "type": "array", "items": T::schema() })
    }
    fn example() -> Option<Value> {
        Some(Value::Array(T::example().into_iter().collect()))
    }
}

impl<T: FieldSchema> FieldSchema for Option<T> {
    const REQUIRED: bool = false;
    fn schema() -> Value {
        T::schema()
    }
    fn example() -> Option<Value> {
        None
    }
}

/// Enums are written as their snake_case names; the example is the first.
macro_rules! enum_schema {
    ($($ty:ident: $($name:literal)|*;)*) => {
        $(
            impl FieldSchema for $ty {
                fn schema() -> Value {
                    string_enum(&[$($name),*])
                }
                fn example() -> Option<Value> {
                    [$($name),*].first().map(|n| json!(n))
                }
            }
        )*
    };
}

enum_schema! {
    Role: "provider" | "requester" | "supervisor" | "source";
    ShareAttribute: "unconditional" | "conditional" | "not_shareable";
    SharingMethod: "service_interface" | "batch_exchange" | "file_download";
    CorrectionOutcome: "corrected" | "verified_correct" | "cannot_correct";
    DisposalMethod: "deleted" | "destroyed" | "returned";
    ServiceChange: "change" | "stop";
    ConsentScope: "wider_use" | "third_party";
}

/// One member of a body: its name, schema, whether required, example.
pub(super) type Member = (&'static str, Value, bool, Option<Value>);

/// The schema of a body with these members (no others).
pub(super) fn body_schema(kind: &str, members: Vec<Member>) -> Value {
    let required: Vec<&str> = members
        .iter()
        .filter(|(_, _, required, _)| *required)
        .map(|(name, ..)| *name)
        .collect();
    let properties: Map<String, Value> = members
        .into_iter()
        .map(|(name, schema, ..)| (name.to_owned(), schema))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://share-audit.example/schema/v1/{kind}.json"),
        "title": format!("body of a `{kind}` statement (specs/attestation.md §Kinds)"),
        "description": "Members and their shapes, derived from the parser; rules between members are checked by the parser (dept sign, the notary) as well.",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// An example body with every required member.
pub(super) fn example_body(members: Vec<Member>) -> Value {
    Value::Object(
        members
            .into_iter()
            .filter_map(|(name, _, _, example)| example.map(|e| (name.to_owned(), e)))
            .collect(),
    )
}
