//! The nonces of accepted read signatures (specs/reads.md, rule 3), each
//! kept until its signature expires, so that no read is answered twice.

use std::collections::HashMap;
use std::sync::Mutex;

use ledger::read_signature::ReadSignature;

/// Nonces of accepted reads, kept until their signature expires.
#[derive(Default)]
pub struct Nonces(Mutex<Seen>);

#[derive(Default)]
struct Seen {
    /// (key, nonce) → `expires` of the signature that used it.
    nonces: HashMap<([u8; 32], String), u64>,
    /// Nonces remembered for each key.
    per_key: HashMap<[u8; 32], usize>,
    /// The second of the last sweep of expired nonces: at most one a second.
    swept: u64,
}

/// Most nonces remembered at once: 5 minutes of reads at over 3,000/s.
/// Beyond it reads get `503 overloaded` until nonces expire.
const MAX_NONCES: usize = 1 << 20;
/// Most nonces remembered for one key (5 minutes at over 200 reads/s), so
/// that one department cannot take every reader's share.
const MAX_NONCES_PER_KEY: usize = 1 << 16;

pub(super) enum NonceError {
    Replayed,
    Full,
}

impl Nonces {
    pub(super) fn remember(&self, sig: &ReadSignature, now: u64) -> Result<(), NonceError> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let seen = &mut *seen;
        if seen.swept < now {
            seen.swept = now;
            let per_key = &mut seen.per_key;
            seen.nonces.retain(|(key, _), expires| {
                let keep = *expires >= now;
                if !keep {
                    if let Some(n) = per_key.get_mut(key) {
                        *n -= 1;
                    }
                }
                keep
            });
            per_key.retain(|_, n| *n > 0);
        }
        let of_key = seen.per_key.get(&sig.key.0).copied().unwrap_or(0);
        if seen.nonces.len() >= MAX_NONCES || of_key >= MAX_NONCES_PER_KEY {
            return Err(NonceError::Full);
        }
        match seen.nonces.entry((sig.key.0, sig.nonce.clone())) {
            std::collections::hash_map::Entry::Occupied(e) if *e.get() >= now => {
                Err(NonceError::Replayed)
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                // Expired and not yet swept: used again, as if new.
                e.insert(sig.expires);
                Ok(())
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(sig.expires);
                *seen.per_key.entry(sig.key.0).or_default() += 1;
                Ok(())
            }
        }
    }
}
