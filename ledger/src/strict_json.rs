//! Strict JSON, so that the notary and every verifier read a statement the
//! same way.
//!
//! On top of RFC 8259 (as parsed by `serde_json`: UTF-8 only, no lone
//! surrogates, no trailing data) this refuses what different JSON parsers
//! disagree on:
//! - duplicate object keys (some keep the first, some the last);
//! - numbers that are not integers, or lie outside ±(2^53 − 1), the range in
//!   which every IEEE 754 double parser reads the same value (RFC 7493 §2.2);
//! - nesting deeper than [`MAX_DEPTH`].

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Largest integer every JSON implementation represents exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictJsonError {
    #[error("not JSON: {0}")]
    Syntax(String),
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("number {0} is not an integer within ±(2^53-1)")]
    InexactNumber(String),
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Parses `bytes` as strict JSON into a tree: [`check`], then serde_json.
/// One set of rules, so the two cannot disagree on any input.
pub fn parse(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    check(bytes)?;
    serde_json::from_slice(bytes).map_err(classify)
}

/// Checks that `bytes` are strict JSON without building a value: for
/// documents that are then deserialized straight into typed structs.
pub fn check(bytes: &[u8]) -> Result<(), StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Check { depth: 0 }.deserialize(&mut de).map_err(classify)?;
    de.end().map_err(classify)
}

/// [`check`]'s visitor: the rules of [`parse`], keeping nothing.
#[derive(Clone, Copy)]
struct Check {
    depth: usize,
}

const DEEP: &str = "\u{0}deep:";

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        exact(n as i128)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        exact(n as i128)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        Err(E::custom(format!("{NUM}{n}")))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format!("{DUP}{key}")));
            }
            map.next_value_seed(inner)?;
            seen.insert(key);
        }
        Ok(())
    }
}

/// Numbers every JSON implementation reads the same: integers within
/// ±(2^53 − 1) (RFC 7493 §2.2).
fn exact<E: de::Error>(n: i128) -> Result<(), E> {
    if n.unsigned_abs() > MAX_SAFE_INTEGER as u128 {
        return Err(E::custom(format!("{NUM}{n}")));
    }
    Ok(())
}

impl Check {
    fn nested<E: de::Error>(self) -> Result<Check, E> {
        if self.depth + 1 > MAX_DEPTH {
            return Err(E::custom(DEEP));
        }
        Ok(Check {
            depth: self.depth + 1,
        })
    }
}

/// Our visitor reports its refusals as custom errors carrying a tag, so they
/// can be told apart from syntax errors after `serde_json` wraps them.
const DUP: &str = "\u{0}dup:";
const NUM: &str = "\u{0}num:";

fn classify(e: serde_json::Error) -> StrictJsonError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(DUP) {
        let key = rest.rsplit_once(" at line").map_or(rest, |(k, _)| k);
        return StrictJsonError::DuplicateKey(key.to_owned());
    }
    if let Some(rest) = msg.strip_prefix(NUM) {
        let n = rest.rsplit_once(" at line").map_or(rest, |(k, _)| k);
        return StrictJsonError::InexactNumber(n.to_owned());
    }
    if msg.starts_with(DEEP) || msg.starts_with("recursion limit exceeded") {
        return StrictJsonError::TooDeep;
    }
    StrictJsonError::Syntax(msg)
}

/// Deserializes `T` from bytes that passed [`check`], accepting only the one
/// JSON shape the specs give each type (specs/attestation.md §Strict JSON):
///
/// - a struct only from an object (serde also takes an array of its fields
///   in order);
/// - an enum only from a string naming a variant (serde also takes
///   `{"variant": null}`);
/// - an optional member only when it has a value: absent means absent, and
///   `null` is refused (serde reads it as absent).
///
/// Two readers that follow the specs therefore agree on every document this
/// accepts. Call [`check`] first: this does not repeat its rules.
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ShapeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Shaped(&mut de)).map_err(|e| ShapeError {
        path: e.path().to_string(),
        error: e.into_inner(),
    })?;
    de.end().map_err(|error| ShapeError {
        path: ".".into(),
        error,
    })?;
    Ok(value)
}

/// A document that is not of the expected shape, and where: the JSON path
/// of the member that is wrong (`signer.key`, `data_items[2]`), so that a
/// person can find it in what they wrote.
#[derive(Debug)]
pub struct ShapeError {
    path: String,
    error: serde_json::Error,
}

impl ShapeError {
    /// The member's JSON path, `.` for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl ShapeError {
    /// What is wrong, without serde's line and column: the member's path
    /// says where, and a position would count in text the person may not
    /// have written (a body is parsed apart from its statement; `dept sign`
    /// builds the statement).
    pub fn message(&self) -> String {
        let message = self.error.to_string();
        let position = format!(
            " at line {} column {}",
            self.error.line(),
            self.error.column()
        );
        message
            .strip_suffix(&position)
            .unwrap_or(&message)
            .to_owned()
    }

    /// The error for a document that is the member `parent` of another:
    /// `at \`body.data_items[1]\`: …`.
    pub fn within(&self, parent: &str) -> String {
        match self.path.as_str() {
            "." => format!("at `{parent}`: {}", self.message()),
            path => format!("at `{parent}.{path}`: {}", self.message()),
        }
    }
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path.as_str() {
            "." => write!(f, "{}", self.message()),
            path => write!(f, "at `{path}`: {}", self.message()),
        }
    }
}

impl std::error::Error for ShapeError {}

/// A deserializer that passes on only the canonical shape of each type (see
/// [`from_slice`]). It wraps every nested value the same way, except the
/// contents of newtype structs: `serde_json::value::RawValue` is one, and
/// must see the underlying deserializer. A `RawValue` is parsed again later,
/// through this wrapper, once its schema is known.
struct Shaped<D>(D);

macro_rules! forward_scalars {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Shaped<D> {
    type Error = D::Error;

    forward_scalars! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(ShapedVisitor(visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(PresentVisitor(visitor))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_seq(ShapedVisitor(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, ShapedVisitor(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, ShapedVisitor(visitor))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(ShapedVisitor(visitor))
    }

    /// Objects only: asking for a map refuses arrays.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(ShapedVisitor(visitor))
    }

    /// Strings only: every enum of the specs is a set of names.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(VariantName(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// Passes every value on, wrapping the contents of arrays and objects.
struct ShapedVisitor<V>(V);

macro_rules! forward_visits {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ShapedVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visits! {
        visit_bool(bool) visit_i64(i64) visit_u64(u64) visit_i128(i128) visit_u128(u128)
        visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8])
        visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Shaped(d))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Shaped(d))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(ShapedSeq(seq))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(ShapedMap(map))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(data)
    }
}

/// An optional member that is present: refuses `null`.
struct PresentVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for PresentVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(" (an optional member is omitted when absent, never null)")
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        Err(E::invalid_type(de::Unexpected::Unit, &self))
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        Err(E::invalid_type(de::Unexpected::Unit, &self))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Shaped(d))
    }
}

/// An enum value: a string naming a unit variant.
struct VariantName<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for VariantName<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)?;
        f.write_str(", written as a string")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<V::Value, E> {
        self.0
            .visit_enum(de::IntoDeserializer::<E>::into_deserializer(name))
    }
}

struct ShapedSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for ShapedSeq<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(ShapedSeed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct ShapedMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ShapedMap<A> {
    type Error = A::Error;
    /// Keys are strings in JSON; they need no wrapping.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(ShapedSeed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct ShapedSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ShapedSeed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Shaped(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_json() {
        let v = parse(br#" {"a": [1, -2, "x", true, null, {"b": 9007199254740991}]} "#).unwrap();
        assert_eq!(v["a"][5]["b"], 9007199254740991i64);
    }

    #[test]
    fn check_agrees_with_parse() {
        let deep17 = format!("{}{}", "[".repeat(17), "]".repeat(17));
        let deep16 = format!("{}{}", "[".repeat(16), "]".repeat(16));
        let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(17), "}".repeat(17));
        let cases: Vec<&[u8]> = vec![
            br#"{"a":[1,-2,"x",true,null,{"b":9007199254740991}]}"#,
            br#"{"a":1,"a":2}"#,
            br#"{"x":{"a":1,"a":1}}"#,
            br#"[{"a":1},{"a":1}]"#,
            b"9007199254740992",
            b"1.0",
            b"\"\xff\"",
            br#""\ud800""#,
            b"{} {}",
            deep17.as_bytes(),
            deep16.as_bytes(),
            deep_obj.as_bytes(),
        ];
        for c in cases {
            assert_eq!(
                check(c),
                parse(c).map(drop),
                "{}",
                String::from_utf8_lossy(c)
            );
        }
    }

    #[test]
    fn refuses_what_parsers_disagree_on() {
        assert_eq!(
            parse(br#"{"a":1,"a":2}"#),
            Err(StrictJsonError::DuplicateKey("a".into()))
        );
        assert_eq!(
            parse(br#"{"x":{"a":1,"a":1}}"#),
            Err(StrictJsonError::DuplicateKey("a".into()))
        );
        assert!(matches!(
            parse(b"9007199254740992"),
            Err(StrictJsonError::InexactNumber(_))
        ));
        assert!(matches!(
            parse(b"-9007199254740992"),
            Err(StrictJsonError::InexactNumber(_))
        ));
        assert!(matches!(
            parse(b"1.0"),
            Err(StrictJsonError::InexactNumber(_))
        ));
        assert!(matches!(
            parse(b"1e2"),
            Err(StrictJsonError::InexactNumber(_))
        ));
        assert!(matches!(
            parse(b"\"\xff\""),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(
            parse(br#""\ud800""#),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(parse(b"{} {}"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(
            parse(b"\xef\xbb\xbf{}"),
            Err(StrictJsonError::Syntax(_))
        ));
        let deep = format!("{}{}", "[".repeat(17), "]".repeat(17));
        assert_eq!(parse(deep.as_bytes()), Err(StrictJsonError::TooDeep));
        let ok = format!("{}{}", "[".repeat(16), "]".repeat(16));
        assert!(parse(ok.as_bytes()).is_ok());
    }
}
