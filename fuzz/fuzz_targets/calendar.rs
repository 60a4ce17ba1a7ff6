//! Calendar files (specs/calendar.md), read by the notary and the verifier
//! from a jurisdiction's folder: parsing, combining with the national years
//! and counting deadlines never panic.
#![no_main]
use ledger::calendar::{Calendar, CalendarFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = match CalendarFile::parse("fuzz.txt", text) {
        Ok(f) => f,
        Err(e) => return drop(e.to_string()),
    };
    if let Ok(calendar) = Calendar::from_files(vec![file]) {
        for from in [0, 1_764_201_600_000, 4_102_444_800_000] {
            let _ = calendar.due_day(from, 10).date();
        }
        let _ = calendar.deadline("delivery");
    }
});
