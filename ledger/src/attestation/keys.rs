//! Department keys as statements name them.

use crate::signature::{self, DecodedKey};

use super::error::AttestationError;
use super::fields::PublicKey;

/// Decodes the signer key: a canonical encoding of a point not of small order.
pub fn decode_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    DecodedKey::new(&key.0).map_err(AttestationError::BadSignerKey)
}

/// A key that may be registered: the weak-key rule of [`signature::usable_key`].
pub fn registrable_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    signature::usable_key(&key.0).map_err(AttestationError::BadSignerKey)
}
