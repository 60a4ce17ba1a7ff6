//! Signed notes and checkpoints (specs/checkpoint.md), verified against the
//! worked example's log key.
#![no_main]
use ledger::checkpoint::Checkpoint;
use ledger::note::Note;
use libfuzzer_sys::fuzz_target;

mod example;
use example::policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        let _ = note.verify(&policy().log_keys);
        let _ = Checkpoint::parse_body(&note.text);
    }
    let verified = Checkpoint::verify(data, &policy().origin, &policy().log_keys);
    drop(verified.map_err(|e| e.to_string()));
});
