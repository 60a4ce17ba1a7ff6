//! Statements (specs/attestation.md §Statements): strict JSON, typed schema.
#![no_main]
use ledger::attestation::Statement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(statement) = Statement::parse(data) {
        // What parses re-encodes to something that parses to the same.
        let again = Statement::parse(&statement.to_bytes()).expect("a re-encoded statement parses");
        assert_eq!(again, statement);
    }
});
