//! Department keys as statements name them.

use crate::signature::{self, DecodedKey};

use super::error::AttestationError;
use super::fields::PublicKey;

/// Decodes the signer key: a canonical encoding of a point not of small order.
pub fn decode_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    DecodedKey::new(&key.0).map_err(AttestationError::BadSignerKey)
}

/// The key of the templates' example bodies: the public key of the seed
/// `0x01…01`, so anyone can sign with it. It is refused at registration.
pub const EXAMPLE_KEY: &str = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=";

/// A key that may be registered: the weak-key rule of
/// [`signature::usable_key`], and not the templates' example key.
pub fn registrable_key(key: &PublicKey) -> Result<DecodedKey, AttestationError> {
    if key.to_string() == EXAMPLE_KEY {
        return Err(AttestationError::BadSignerKey(
            signature::SignatureError::PublishedKey,
        ));
    }
    signature::usable_key(&key.0).map_err(AttestationError::BadSignerKey)
}
