//! Receipts (specs/receipt.md): parsing and full verification against the
//! worked example's policy. No input but the example's receipt verifies.
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
            receipt, example,
            "a receipt other than the example verified"
        );
    }
});
