//! Who may read what (specs/reads.md §Who reads what).
//!
//! Entry contents are government data-sharing records: a department reads
//! the registry, the catalog and the cases it is a party to; a supervisor
//! the cases of departments in its jurisdiction; an auditor everything.
//! The rule is a function of the registry as committed, so the notary
//! answers the same whichever of its threads asks.

use crate::attestation::{Body, Id, Role};
use crate::lifecycle::case_of;
use crate::registry::{CaseRecord, DepartmentRecord, RegistryView};

/// A department whose read request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub department: Id,
    pub record: DepartmentRecord,
}

impl Reader {
    pub fn has_role(&self, role: Role) -> bool {
        self.record.roles.contains(&role)
    }

    /// Entry bundles mix cases: only auditors read them.
    pub fn may_read_bundles(&self) -> bool {
        self.has_role(Role::Auditor)
    }

    /// Whether the reader may read entry `index`, whose statement has `body`.
    pub fn may_read_entry<V: RegistryView>(
        &self,
        view: &V,
        body: &Body,
        index: u64,
    ) -> Result<bool, V::Error> {
        match case_of(body) {
            // Registry and catalog: every registered department.
            None => Ok(true),
            Some(case) => self.may_read_case(view, case, Some(index)),
        }
    }

    /// Whether the reader may read case `case` (or, with `index`, that entry
    /// of it). An unknown case is not readable, which answers the same as a
    /// case the reader may not read.
    pub fn may_read_case<V: RegistryView>(
        &self,
        view: &V,
        case: &Id,
        index: Option<u64>,
    ) -> Result<bool, V::Error> {
        let Some(record) = view.get::<CaseRecord>(case)? else {
            return Ok(false);
        };
        if self.has_role(Role::Auditor)
            || record.provider == self.department
            || record.requester == self.department
        {
            return Ok(true);
        }
        // A consented third party reads from its consent on.
        let consented = record
            .third_parties
            .iter()
            .any(|t| t.department == self.department && index.is_none_or(|i| i >= t.index));
        if consented {
            return Ok(true);
        }
        if self.has_role(Role::Supervisor) {
            for party in [&record.provider, &record.requester] {
                if let Some(d) = view.get::<DepartmentRecord>(party)? {
                    if d.jurisdiction == self.record.jurisdiction {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }
}
