//! The attestation signature rule, and its batch fast path.
//!
//! **Rule** (specs/attestation.md §Signature rule): Ed25519 per RFC 8032
//! §5.1.7 with the *cofactored* group equation, plus every input check of
//! ed25519-dalek's `verify_strict`:
//!
//! 1. `S < ℓ` (canonical scalar);
//! 2. `A` and `R` are canonical encodings (`y < p`) of curve points, and
//!    neither is of small order;
//! 3. `[8]([S]B − R − [k]A) = 𝒪`, with `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
//!
//! **Why cofactored.** A batch check of many signatures is a random linear
//! combination of their equations. With the cofactorless equation
//! (`verify_strict`) the combination cannot see an `R` that carries a small
//! torsion component reliably: it misses it with probability up to 1/2, and
//! ed25519-dalek's `verify_batch` derives its coefficients from the inputs,
//! so a signer can grind until it is missed. Ruling that out exactly needs a
//! per-signature `[ℓ]R` check that costs more than batching saves. With the
//! cofactored equation the batch check and the single check agree exactly
//! (up to the 2^-128 chance of the random combination), so the notary's fast
//! path can never accept what a verifier rejects. The only signatures the two
//! equations judge differently are `(R + T, S)` with `T` a nonzero point of
//! order dividing 8 and `(R, S)` valid: no Ed25519 signer produces them, and
//! nothing in this ledger depends on signature bytes being unique (entries
//! are deduplicated by statement digest).

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand::Rng as _;
use sha2::{Digest, Sha512};

/// Domain separation: every attestation signature covers these bytes first,
/// so no signature made for another protocol (a note, a TLS handshake, …)
/// can be replayed as an attestation, or the other way round
/// (specs/attestation.md §Signature rule).
pub const CONTEXT: &[u8] = b"share-audit/attestation/v1\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("public key is not a canonical encoding of a curve point")]
    BadKeyEncoding,
    #[error("public key is of small order")]
    SmallOrderKey,
    #[error("public key has a torsion component (not made by an Ed25519 key generator)")]
    TorsionKey,
    #[error("signature R is not a canonical encoding of a curve point")]
    BadREncoding,
    #[error("signature R is of small order")]
    SmallOrderR,
    #[error("signature S is not canonical (S >= l)")]
    NonCanonicalS,
    #[error("signature does not verify")]
    Equation,
    #[error("public key is the example key of `dept template`, whose private key anyone can derive; use the department's own key (`dept pubkey`)")]
    PublishedKey,
}

/// A public key decoded once, so that batches do not decode it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedKey {
    bytes: [u8; 32],
    point: EdwardsPoint,
}

/// `y < p = 2^255 − 19`: the encoding is the only one of its point's `y`.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    let high = bytes[31] & 0x7f;
    !(high == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
}

/// Decodes a point, refusing non-canonical encodings and small-order points.
/// (`y = ±1` with the sign bit set, the other non-canonical case, is small order.)
fn decode(bytes: &[u8; 32]) -> Option<Result<EdwardsPoint, ()>> {
    if !canonical_y(bytes) {
        return None;
    }
    let point = CompressedEdwardsY(*bytes).decompress()?;
    Some(if point.is_small_order() {
        Err(())
    } else {
        Ok(point)
    })
}

impl DecodedKey {
    pub fn new(bytes: &[u8; 32]) -> Result<DecodedKey, SignatureError> {
        match decode(bytes) {
            None => Err(SignatureError::BadKeyEncoding),
            Some(Err(())) => Err(SignatureError::SmallOrderKey),
            Some(Ok(point)) => Ok(DecodedKey {
                bytes: *bytes,
                point,
            }),
        }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Whether the key has no torsion component (checked at registration:
    /// honest keys never have one).
    pub fn is_torsion_free(&self) -> bool {
        self.point.is_torsion_free()
    }
}

/// The weak-key rule (specs/checkpoint.md §Keys), the one rule for every key
/// this ledger trusts (department keys at registration, root, log and note
/// keys when read): a canonical encoding of a curve point, not of small
/// order, with no torsion component. Honest key generation never makes
/// anything else.
pub fn usable_key(bytes: &[u8; 32]) -> Result<DecodedKey, SignatureError> {
    let key = DecodedKey::new(bytes)?;
    if !key.is_torsion_free() {
        return Err(SignatureError::TorsionKey);
    }
    Ok(key)
}

/// One signature to check: the key, the statement bytes (the context is
/// prepended here) and the 64 signature bytes.
#[derive(Debug, Clone, Copy)]
pub struct SignedStatement<'a> {
    pub key: &'a DecodedKey,
    pub statement: &'a [u8],
    pub signature: &'a [u8; 64],
}

/// A signature past the per-signature checks, ready for the group equation.
struct Prepared {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
    a: EdwardsPoint,
}

fn prepare(item: &SignedStatement) -> Result<Prepared, SignatureError> {
    prepare_message(item.key, CONTEXT, item.statement, item.signature)
}

fn prepare_message(
    key: &DecodedKey,
    context: &[u8],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<Prepared, SignatureError> {
    let r_bytes: [u8; 32] = signature[..32].try_into().expect("64-byte signature");
    let s_bytes: [u8; 32] = signature[32..].try_into().expect("64-byte signature");
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::NonCanonicalS)?;
    let r = match decode(&r_bytes) {
        None => return Err(SignatureError::BadREncoding),
        Some(Err(())) => return Err(SignatureError::SmallOrderR),
        Some(Ok(r)) => r,
    };
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(key.bytes)
            .chain_update(context)
            .chain_update(message),
    );
    Ok(Prepared {
        r,
        s,
        k,
        a: key.point,
    })
}

/// The rule for one signature.
pub fn verify(item: &SignedStatement) -> Result<(), SignatureError> {
    check(prepare(item)?)
}

/// The same rule for a message signed as it is, with no context prepended:
/// an RFC 9421 signature base, whose own first bytes separate it from every
/// other signature of the ledger (specs/reads.md §The request signature).
pub fn verify_message(
    key: &DecodedKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    check(prepare_message(key, b"", message, signature)?)
}

fn check(p: Prepared) -> Result<(), SignatureError> {
    // [S]B − [k]A − R, then clear the cofactor.
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-p.a, &p.s) - p.r;
    if check.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SignatureError::Equation)
    }
}

/// `[8](Σ zᵢRᵢ + Σ (zᵢkᵢ)Aᵢ − (Σ zᵢSᵢ)B) = 𝒪` for random 128-bit `zᵢ`.
fn batch_equation(items: &[Prepared]) -> bool {
    let mut rng = rand::thread_rng();
    let z: Vec<Scalar> = items
        .iter()
        .map(|_| Scalar::from(rng.gen::<u128>()))
        .collect();
    let b_coefficient: Scalar = items.iter().zip(&z).map(|(p, z)| z * p.s).sum();
    let scalars = std::iter::once(-b_coefficient)
        .chain(z.iter().copied())
        .chain(items.iter().zip(&z).map(|(p, z)| z * p.k));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(items.iter().map(|p| p.r))
        .chain(items.iter().map(|p| p.a));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// Checks many signatures at once; the result for each is exactly what
/// [`verify`] says for it. Per-signature checks first; then one batch
/// equation for the rest; if that fails, halves are checked recursively, so
/// a bad signature costs O(log n) batch checks and never fails its
/// neighbours.
pub fn verify_batch(items: &[SignedStatement]) -> Vec<Result<(), SignatureError>> {
    let mut results: Vec<Result<(), SignatureError>> = Vec::with_capacity(items.len());
    let mut prepared = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match prepare(item) {
            Ok(p) => {
                prepared.push(p);
                positions.push(i);
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    bisect(&prepared, &positions, &mut results);
    results
}

fn bisect(prepared: &[Prepared], positions: &[usize], results: &mut [Result<(), SignatureError>]) {
    if prepared.is_empty() || batch_equation(prepared) {
        return;
    }
    if prepared.len() == 1 {
        results[positions[0]] = Err(SignatureError::Equation);
        return;
    }
    let mid = prepared.len() / 2;
    bisect(&prepared[..mid], &positions[..mid], results);
    bisect(&prepared[mid..], &positions[mid..], results);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    fn signed(seed: u8, statement: &[u8]) -> (DecodedKey, [u8; 64]) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let sig = key.sign(&[CONTEXT, statement].concat()).to_bytes();
        (
            DecodedKey::new(key.verifying_key().as_bytes()).unwrap(),
            sig,
        )
    }

    fn items<'a>(
        signed: &'a [(DecodedKey, [u8; 64])],
        statements: &'a [Vec<u8>],
    ) -> Vec<SignedStatement<'a>> {
        signed
            .iter()
            .zip(statements)
            .map(|((key, signature), statement)| SignedStatement {
                key,
                statement,
                signature,
            })
            .collect()
    }

    #[test]
    fn honest_signatures_verify_singly_and_in_batches() {
        let statements: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        let signed: Vec<_> = statements
            .iter()
            .enumerate()
            .map(|(i, s)| signed(i as u8, s))
            .collect();
        let items = items(&signed, &statements);
        assert!(items.iter().all(|i| verify(i).is_ok()));
        assert!(verify_batch(&items).iter().all(Result::is_ok));
        // ed25519-dalek's verify_strict agrees on honest signatures.
        let vk = SigningKey::from_bytes(&[0; 32]).verifying_key();
        let sig = ed25519_dalek::Signature::from_bytes(&signed[0].1);
        assert!(vk
            .verify_strict(&[CONTEXT, &statements[0]].concat(), &sig)
            .is_ok());
    }

    #[test]
    fn one_bad_signature_does_not_fail_its_neighbours() {
        let statements: Vec<Vec<u8>> = (0..33).map(|i| format!("s{i}").into_bytes()).collect();
        let mut signed: Vec<_> = statements.iter().map(|s| signed(1, s)).collect();
        signed[17].1[40] ^= 1; // corrupt S of one signature
        signed[3].1[0] ^= 1; // and R of another
        let items = items(&signed, &statements);
        let results = verify_batch(&items);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_err(), i == 17 || i == 3, "signature {i}: {r:?}");
            assert_eq!(r.is_err(), verify(&items[i]).is_err());
        }
    }
}
