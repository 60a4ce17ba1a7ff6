//! Log entries (specs/entry.md): one encoding, statement inside.
#![no_main]
use ledger::entry::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::parse(data) {
        assert_eq!(entry.encode().expect("a parsed entry encodes"), data);
        if let Ok(statement) = entry.parse_statement() {
            let _ = entry.verify_signature(&statement);
        }
    }
});
