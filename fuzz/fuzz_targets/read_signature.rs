//! The headers of a signed read (specs/reads.md), as any client on the
//! network may send them: parsing, the time rules and verification never
//! panic, and only the signed request verifies.
#![no_main]
use ledger::read_signature::{ReadSignature, Target};
use libfuzzer_sys::fuzz_target;

const TARGET: Target = Target {
    method: "GET",
    authority: "notary.example.gov.cn",
    path: "/v1/receipts/12",
    query: None,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Signature-Input, a line break, Signature.
    let (input, signature) = text.split_once('\n').unwrap_or((text, ""));
    let sig = match ReadSignature::parse(input, signature) {
        Ok(sig) => sig,
        Err(e) => return drop(e.to_string()),
    };
    for (now, started) in [(0, 0), (sig.created, 0), (u64::MAX, u64::MAX), (sig.expires, sig.created)] {
        let _ = sig.check_time(now, started).map_err(|e| e.to_string());
    }
    let _ = sig.verify(&TARGET).map_err(|e| e.to_string());
});
