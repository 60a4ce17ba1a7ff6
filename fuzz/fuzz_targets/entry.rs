//! Log entries (specs/entry.md): one encoding, statement inside.
#![no_main]
use ledger::entry::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::parse(data) {
        assert_eq!(entry.encode().expect("a parsed entry encodes"), data);
        match entry.parse_statement() {
            Ok(statement) => drop(
                entry
                    .verify_signature(&statement)
                    .map_err(|e| e.to_string()),
            ),
            Err(e) => drop(e.to_string()),
        }
    }
});
