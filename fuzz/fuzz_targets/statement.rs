//! Statements (specs/attestation.md §Statements): strict JSON, typed schema.
#![no_main]
use ledger::attestation::Statement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Statement::parse(data);
    if let Err(e) = &parsed {
        let _ = e.to_string(); // messages go back to departments: no panic there either
    }
    if let Ok(statement) = parsed {
        // What parses re-encodes to something that parses to the same.
        let again = Statement::parse(&statement.to_bytes()).expect("a re-encoded statement parses");
        assert_eq!(again, statement);
    }
});
