//! Bulk submissions (specs/api.md §POST /v1/attestations/batch): a JSON
//! array of submissions, read one item at a time.
//!
//! The body is never turned into a tree: each item is borrowed as raw JSON
//! from the body, counted, and parsed on its own with the strict rules of a
//! single submission. A bad item is that item's error only; too many items
//! stop the reading at the first one over the limit.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::error::AttestationError;
use super::submission::SignedAttestation;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BulkError {
    /// Not JSON at all (a syntax error or a truncated body).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an array of 1 to `max` items.
    #[error("{0}")]
    NotABatch(String),
}

/// Each item of a bulk body, parsed on its own, in order.
pub type BulkItems = Vec<Result<SignedAttestation, AttestationError>>;

/// Reads a bulk submission body of 1 to `max_items` submissions. An item
/// longer than `max_item_bytes` (what a submission may be when posted
/// alone) is refused as it would be alone.
pub fn parse_bulk(
    body: &[u8],
    max_items: usize,
    max_item_bytes: usize,
) -> Result<BulkItems, BulkError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = de
        .deserialize_seq(Items {
            max_items,
            max_item_bytes,
        })
        .and_then(|items| de.end().map(|()| items))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => BulkError::NotABatch(e.to_string()),
            _ => BulkError::NotJson(e.to_string()),
        })?;
    if items.is_empty() {
        return Err(BulkError::NotABatch(format!(
            "a batch holds 1 to {max_items} submissions, not 0"
        )));
    }
    Ok(items)
}

struct Items {
    max_items: usize,
    max_item_bytes: usize,
}

impl<'de> Visitor<'de> for Items {
    type Value = BulkItems;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON array of 1 to {} submissions", self.max_items)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BulkItems, A::Error> {
        let mut items = Vec::new();
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            if items.len() == self.max_items {
                return Err(de::Error::custom(format!(
                    "a batch holds 1 to {} submissions, and this one has more",
                    self.max_items
                )));
            }
            let item = raw.get().as_bytes();
            items.push(if item.len() > self.max_item_bytes {
                Err(AttestationError::SubmissionTooLarge {
                    bytes: item.len(),
                    limit: self.max_item_bytes,
                })
            } else {
                SignedAttestation::from_json(item)
            });
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission() -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        SignedAttestation::sign(b"{}".to_vec(), &key).to_json()
    }

    #[test]
    fn items_are_parsed_one_by_one() {
        let s = submission();
        let body = format!(r#"[{s}, {{"statement":"x"}}, 1.5, {{"a":1,"a":2}}, {s}]"#);
        let items = parse_bulk(body.as_bytes(), 8, 1 << 20).unwrap();
        assert_eq!(items.len(), 5);
        assert!(items[0].is_ok() && items[4].is_ok());
        assert!(matches!(items[1], Err(AttestationError::Schema(_))));
        assert!(matches!(items[2], Err(AttestationError::Json(_))));
        assert!(matches!(items[3], Err(AttestationError::Json(_))));
    }

    #[test]
    fn an_item_longer_than_a_lone_submission_is_refused_as_alone() {
        let s = submission();
        let padded = s.replacen('{', &format!("{{{}", " ".repeat(200)), 1);
        let items = parse_bulk(format!("[{s},{padded}]").as_bytes(), 8, s.len() + 100).unwrap();
        assert!(items[0].is_ok());
        assert!(matches!(
            items[1],
            Err(AttestationError::SubmissionTooLarge { .. })
        ));
    }

    #[test]
    fn the_body_must_be_an_array_of_1_to_max() {
        let s = submission();
        let not_batch = |b: &str| {
            matches!(
                parse_bulk(b.as_bytes(), 2, 1 << 20),
                Err(BulkError::NotABatch(_))
            )
        };
        let not_json = |b: &str| {
            matches!(
                parse_bulk(b.as_bytes(), 2, 1 << 20),
                Err(BulkError::NotJson(_))
            )
        };
        assert!(not_batch("[]"));
        assert!(not_batch(&format!(r#"{{"items":[{s}]}}"#)));
        assert!(not_batch(&format!("[{s},{s},{s}]")));
        assert!(not_json(&format!("[{s}")));
        assert!(not_json(&format!("[{s}] x")));
        assert!(not_json("\u{feff}[]"));
        assert_eq!(
            parse_bulk(format!("[{s},{s}]").as_bytes(), 2, 1 << 20)
                .unwrap()
                .len(),
            2
        );
    }
}
