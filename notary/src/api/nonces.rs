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
    /// The second of the last sweep of expired nonces: at most one a second.
    swept: u64,
}

/// Most nonces remembered at once: 5 minutes of reads at over 3,000/s.
/// Beyond it reads get `503 overloaded` until nonces expire.
const MAX_NONCES: usize = 1 << 20;

pub(super) enum NonceError {
    Replayed,
    Full,
}

impl Nonces {
    pub(super) fn remember(&self, sig: &ReadSignature, now: u64) -> Result<(), NonceError> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.swept < now {
            seen.swept = now;
            seen.nonces.retain(|_, expires| *expires >= now);
        }
        if seen.nonces.len() >= MAX_NONCES {
            return Err(NonceError::Full);
        }
        match seen.nonces.entry((sig.key.0, sig.nonce.clone())) {
            std::collections::hash_map::Entry::Occupied(e) if *e.get() >= now => {
                Err(NonceError::Replayed)
            }
            e => {
                e.insert_entry(sig.expires);
                Ok(())
            }
        }
    }
}
