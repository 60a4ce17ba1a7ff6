//! Who may read what (specs/reads.md §Who reads what).
//!
//! Entry contents are government data-sharing records: a department reads
//! the registry, the catalog and the cases it is a party to; a supervisor
//! the cases of departments in its jurisdiction; an auditor everything.
//! Disputes and return flows are read like cases, by their parties.
//! The rule is a function of the registry as committed, so the notary
//! answers the same whichever of its threads asks.

use crate::attestation::{Body, Id, Role};
use crate::lifecycle::case_of;
use crate::registry::{
    CaseRecord, DepartmentRecord, DisputeRecord, RegistryView, ReturnFlowRecord,
};

/// A dispute's parties: who filed it, with whom, and each supervisor it
/// was brought or escalated to (none if it does not exist).
fn dispute_parties<V: RegistryView>(view: &V, id: &Id) -> Result<Vec<Id>, V::Error> {
    Ok(match view.get::<DisputeRecord>(id)? {
        Some(d) => [vec![d.filer, d.with], d.supervisors].concat(),
        None => vec![],
    })
}

/// A return-flow request's parties: who asked, and who was asked.
fn request_parties<V: RegistryView>(view: &V, id: &Id) -> Result<Vec<Id>, V::Error> {
    Ok(match view.get::<ReturnFlowRecord>(id)? {
        Some(r) => vec![r.requester, r.to],
        None => vec![],
    })
}

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
        if let Some(case) = case_of(body) {
            return self.may_read_case(view, case, Some(index));
        }
        // Disputes and return flows: their parties.
        let parties = match body {
            Body::Dispute(d) => dispute_parties(view, &d.dispute)?,
            Body::DisputeEscalation(d) => dispute_parties(view, &d.dispute)?,
            Body::DisputeResolution(d) => dispute_parties(view, &d.dispute)?,
            Body::ReturnFlowRequest(r) => request_parties(view, &r.request)?,
            Body::ReturnFlow(r) => request_parties(view, &r.request)?,
            // Registry and catalog (its changes included): every registered department.
            _ => return Ok(true),
        };
        self.may_read_matter(view, &parties)
    }

    /// Whether the reader may read what concerns `parties` only: it is one
    /// of them, an auditor, or a supervisor of one's jurisdiction.
    fn may_read_matter<V: RegistryView>(&self, view: &V, parties: &[Id]) -> Result<bool, V::Error> {
        if self.has_role(Role::Auditor) || parties.contains(&self.department) {
            return Ok(true);
        }
        // A jurisdiction that is not known (a department record written
        // before records kept it) matches nothing.
        if self.has_role(Role::Supervisor) && !self.record.jurisdiction.is_empty() {
            for party in parties {
                if let Some(d) = view.get::<DepartmentRecord>(party)? {
                    if d.jurisdiction == self.record.jurisdiction {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Whether the reader may read entry `index` of case `case`, or, with
    /// `None`, the whole case (which a consented third party may not: it
    /// reads from its consent on). An unknown case is not readable, which
    /// answers the same as a case the reader may not read.
    pub fn may_read_case<V: RegistryView>(
        &self,
        view: &V,
        case: &Id,
        index: Option<u64>,
    ) -> Result<bool, V::Error> {
        let Some(record) = view.get::<CaseRecord>(case)? else {
            return Ok(false);
        };
        // A consented third party reads from its consent on.
        let consented = record
            .third_parties
            .iter()
            .any(|t| t.department == self.department && index.is_some_and(|i| i >= t.index));
        Ok(consented || self.may_read_matter(view, &[record.provider, record.requester])?)
    }
}
