//! Receipts (specs/receipt.md): parsing and full verification against the
//! worked example's policy. A receipt that verifies proves the example's
//! entry, at its index, and rests on the example's evidence: nothing else
//! can be proven with the example's keys. (Its evidence may be listed in
//! another order: receipt.md does not make the order part of the proof.)
#![no_main]
use ledger::receipt::Receipt;
use libfuzzer_sys::fuzz_target;

mod example;
use example::policy;

fuzz_target!(|data: &[u8]| {
    // Error messages are shown to auditors: formatting them must not panic.
    let receipt = match Receipt::from_json(data) {
        Ok(receipt) => receipt,
        Err(e) => return drop(e.to_string()),
    };
    if receipt.verify(policy()).map_err(|e| e.to_string()).is_ok() {
        let example =
            Receipt::from_json(include_bytes!("../../specs/examples/receipt.json")).unwrap();
        assert_eq!(
            (receipt.index, &receipt.leaf_hash, &receipt.entry),
            (example.index, &example.leaf_hash, &example.entry),
            "a receipt of another entry verified"
        );
        let cited = |r: &Receipt| {
            let mut v: Vec<_> = r.evidence.iter().map(|e| (e.index, e.leaf_hash.0)).collect();
            v.sort();
            v
        };
        assert_eq!(cited(&receipt), cited(&example), "other evidence verified");
    }
});
