//! The worked example's trust policy (specs/examples/policy.txt), shared by
//! the targets that verify against it.

use std::sync::OnceLock;

use ledger::policy::Policy;

pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::parse(include_str!("../../specs/examples/policy.txt")).expect("example policy")
    })
}
