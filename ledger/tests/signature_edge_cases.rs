//! The signature rule on crafted edge cases (specs/attestation.md §Signature
//! rule): the batch fast path and the single check agree on every one, so
//! the notary (batch) and verifiers (single) accept exactly the same
//! signatures. Small-order keys and R values and non-canonical S and
//! encodings are refused by both; a mixed-order R is where the cofactored
//! rule differs from ed25519-dalek's cofactorless `verify_strict`.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ledger::attestation::CONTEXT;
use ledger::signature::{verify, verify_batch, DecodedKey, SignatureError, SignedStatement};
use sha2::{Digest, Sha512};

const STATEMENT: &[u8] = br#"{"version":1}"#;

/// A point of order 8 (from the well-known list of small-order encodings),
/// checked here rather than trusted.
fn order_8_point() -> EdwardsPoint {
    let bytes: [u8; 32] =
        hex::decode("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
            .unwrap()
            .try_into()
            .unwrap();
    let t = CompressedEdwardsY(bytes).decompress().unwrap();
    let four_t = t + t + t + t;
    assert!(t.mul_by_cofactor().is_identity() && !four_t.is_identity());
    t
}

struct Signer {
    a: Scalar,
    key: DecodedKey,
}

fn signer() -> Signer {
    let expanded = ExpandedSecretKey::from(&[42u8; 32]);
    let a_point = expanded.scalar * B;
    Signer {
        a: expanded.scalar,
        key: DecodedKey::new(a_point.compress().as_bytes()).unwrap(),
    }
}

fn challenge(r: &[u8; 32], a: &[u8; 32]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(a)
            .chain_update(CONTEXT)
            .chain_update(STATEMENT),
    )
}

/// A signature with a chosen R = [r]B + extra, and S = r + k·a.
fn craft(s: &Signer, r: Scalar, extra: EdwardsPoint) -> [u8; 64] {
    let big_r = (r * B + extra).compress().to_bytes();
    let k = challenge(&big_r, s.key.bytes());
    let big_s = r + k * s.a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(big_s.as_bytes());
    sig
}

/// The rule's verdict, asserting that the single check and the batch path
/// (alone and among honest neighbours) agree.
fn judge(key: &DecodedKey, sig: &[u8; 64]) -> Result<(), SignatureError> {
    let item = SignedStatement {
        key,
        statement: STATEMENT,
        signature: sig,
    };
    let single = verify(&item);
    assert_eq!(verify_batch(&[item])[0], single);
    let s = signer();
    let honest = craft(&s, Scalar::from(7u64), EdwardsPoint::default());
    let good = SignedStatement {
        key: &s.key,
        statement: STATEMENT,
        signature: &honest,
    };
    for _ in 0..16 {
        let mixed = verify_batch(&[good, item, good, good]);
        assert_eq!(mixed, vec![Ok(()), single, Ok(()), Ok(())]);
    }
    single
}

fn dalek_verify_strict(key: &DecodedKey, sig: &[u8; 64]) -> bool {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(key.bytes()).unwrap();
    vk.verify_strict(
        &[CONTEXT, STATEMENT].concat(),
        &ed25519_dalek::Signature::from_bytes(sig),
    )
    .is_ok()
}

#[test]
fn honest_signature_is_valid_under_both_rules() {
    let s = signer();
    let sig = craft(&s, Scalar::from(123456789u64), EdwardsPoint::default());
    assert_eq!(judge(&s.key, &sig), Ok(()));
    assert!(dalek_verify_strict(&s.key, &sig));
}

#[test]
fn small_order_r_is_refused() {
    // R = T (order 8) and S = k·a satisfy the cofactored equation; the
    // per-signature check must refuse R anyway, on both paths.
    let s = signer();
    let t = order_8_point();
    let sig = craft(&s, Scalar::ZERO, t);
    assert_eq!(judge(&s.key, &sig), Err(SignatureError::SmallOrderR));
    assert!(!dalek_verify_strict(&s.key, &sig));
}

#[test]
fn small_order_and_mixed_order_keys_are_refused() {
    let t = order_8_point();
    assert_eq!(
        DecodedKey::new(t.compress().as_bytes()),
        Err(SignatureError::SmallOrderKey)
    );
    assert_eq!(
        DecodedKey::new(&[
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0
        ]),
        Err(SignatureError::SmallOrderKey)
    );
    // A key with a torsion component decodes, but registration refuses it
    // (is_torsion_free), so no accepted entry is ever signed by one.
    let mixed = DecodedKey::new((Scalar::from(5u64) * B + t).compress().as_bytes()).unwrap();
    assert!(!mixed.is_torsion_free());
    assert!(signer().key.is_torsion_free());
}

#[test]
fn non_canonical_s_is_refused() {
    let s = signer();
    let mut sig = craft(&s, Scalar::from(99u64), EdwardsPoint::default());
    // S + ℓ: the same scalar mod ℓ, a different encoding.
    let l: [u8; 32] =
        hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let v = sig[32 + i] as u16 + l[i] as u16 + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(judge(&s.key, &sig), Err(SignatureError::NonCanonicalS));
    assert!(!dalek_verify_strict(&s.key, &sig));
}

#[test]
fn non_canonical_encodings_are_refused() {
    // Every y in [p, 2^255) is a non-canonical encoding of y − p.
    let mut enc = [0xffu8; 32];
    enc[31] = 0x7f;
    for low in [0xedu8, 0xee, 0xff] {
        enc[0] = low;
        assert_eq!(DecodedKey::new(&enc), Err(SignatureError::BadKeyEncoding));
        let s = signer();
        let mut sig = craft(&s, Scalar::from(3u64), EdwardsPoint::default());
        sig[..32].copy_from_slice(&enc);
        assert_eq!(judge(&s.key, &sig), Err(SignatureError::BadREncoding));
    }
}

#[test]
fn mixed_order_r_is_where_the_rules_differ_and_both_paths_agree() {
    // R = [r]B + T: valid under the cofactored equation, invalid under
    // verify_strict's cofactorless one. No Ed25519 signer produces it. What
    // matters is that batch and single checks give the same answer every
    // time, whatever the batch's random coefficients.
    let s = signer();
    let sig = craft(&s, Scalar::from(1234u64), order_8_point());
    for _ in 0..64 {
        assert_eq!(judge(&s.key, &sig), Ok(()));
    }
    assert!(!dalek_verify_strict(&s.key, &sig));
    // A wrong S is refused by both paths even with the torsion in R.
    let mut bad = sig;
    bad[32] ^= 1;
    assert_eq!(judge(&s.key, &bad), Err(SignatureError::Equation));
}
