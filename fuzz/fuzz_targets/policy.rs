//! Trust policies (specs/policy.md).
#![no_main]
use ledger::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Policy::parse(text);
    if let Err(e) = &parsed {
        let _ = e.to_string();
    }
    if let Ok(policy) = parsed {
        // A policy written back reads the same.
        assert_eq!(
            Policy::parse(&policy.encode()).expect("re-encoded policy"),
            policy
        );
        let _ = policy.trust_roots();
    }
});
