//! Who may sign what, and what each accepted entry establishes.
//!
//! The rules (specs/lifecycle.md) are applied by the notary before appending
//! and re-applied by verifiers; both call [`decide`] on a [`RegistryView`]
//! of the registry before the entry:
//!
//! - every statement names this log and was signed shortly before it is
//!   notarised ([`check_statement`]);
//! - registry kinds (`department`, `department_key`, `key_revocation`) are
//!   signed by a root key of the trust policy, and root keys sign nothing else;
//! - every other entry is signed by a registered department with a key
//!   registered to that department, valid at the notarised time and not
//!   revoked;
//! - each kind has a permitted signer: a role (catalog entries by providers,
//!   applications by requesters, reply extensions by the supervisor) or a
//!   party of the case (only the case's provider approves, delivers, …; only
//!   its requester records usage, disposes, …).

use crate::attestation::{Body, Id, Kind, Origin, PublicKey, Role, Statement};
use crate::registry::{
    CaseRecord, Change, DepartmentRecord, ItemRecord, KeyRecord, RegistryView, Revocation,
    TrustRoots,
};
use crate::time::cst;

/// How far after the notarised time a statement may say it was signed:
/// clocks disagree by seconds, not minutes (specs/lifecycle.md §Rules).
pub const MAX_SIGNED_AHEAD_MS: u64 = 5 * 60 * 1000;
/// How long before the notarised time a statement may have been signed: a
/// department submits what it signs the same day; an older statement is
/// signed again, with a fresh `signed_at`.
pub const MAX_SIGNED_BEFORE_MS: u64 = 24 * 60 * 60 * 1000;

/// Why an entry is refused. Each has a stable `code` for the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the statement is for log {got}, and this log is {expected}")]
    WrongLog { expected: Origin, got: Origin },
    #[error("the statement says it was signed at {}, more than 5 minutes after the notarised time {}", cst(*signed_at), cst(*time))]
    SignedInFuture { signed_at: u64, time: u64 },
    #[error("the statement says it was signed at {}, more than 24 hours before the notarised time {}; sign it again", cst(*signed_at), cst(*time))]
    SignedTooLongAgo { signed_at: u64, time: u64 },
    #[error("{kind} entries must be signed by a root key of the trust policy")]
    NotRoot { kind: &'static str },
    #[error("root keys sign only registry entries, not {kind}")]
    RootSignsOnlyRegistry { kind: &'static str },
    #[error("department {0} is not registered")]
    UnknownDepartment(Id),
    #[error("the key is not registered to any department")]
    UnknownKey,
    #[error("the key is registered to department {registered_to}, not {claimed}")]
    KeyOfOtherDepartment { claimed: Id, registered_to: Id },
    #[error("the signing key of {0} was revoked at entry {1}")]
    KeyRevoked(Id, u64),
    #[error("the signing key of {department} is valid only from {}", cst(*valid_from))]
    KeyNotYetValid { department: Id, valid_from: u64 },
    #[error("the signing key of {department} expired at {}", cst(*valid_until))]
    KeyExpired { department: Id, valid_until: u64 },
    #[error("key is already registered to department {0}")]
    KeyAlreadyRegistered(Id),
    #[error("key is already revoked")]
    KeyAlreadyRevoked,
    #[error("{0} belongs to a root of the trust policy and cannot be registered to a department")]
    ReservedForRoot(&'static str),
    #[error("the key would be valid in an empty window: valid_until {} is not after valid_from {}", cst(*valid_until), cst(*valid_from))]
    EmptyValidityWindow { valid_from: u64, valid_until: u64 },
    #[error("key is not a usable Ed25519 public key (invalid, small order or torsion)")]
    WeakKey,
    #[error("department {department} lacks the {role} role needed for {kind}")]
    MissingRole {
        department: Id,
        role: &'static str,
        kind: &'static str,
    },
    #[error("catalog item {0} does not exist")]
    UnknownItem(Id),
    #[error("catalog item {item} belongs to provider {provider}")]
    ItemOfOtherProvider { item: Id, provider: Id },
    #[error("case {0} does not exist (no application opened it)")]
    UnknownCase(Id),
    #[error("case {0} already exists")]
    CaseExists(Id),
    #[error("a department cannot apply for its own data")]
    SelfApplication,
    #[error("{kind} for case {case} must be signed by its {party} {expected}")]
    NotCaseParty {
        kind: &'static str,
        case: Id,
        party: &'static str,
        expected: Id,
    },
}

/// What a refusal says about the entry, which the API shows as its status
/// (specs/api.md): the signer may not sign it (403), it clashes with what the
/// log holds (409), or it is about something missing or invalid (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalClass {
    Forbidden,
    Conflict,
    Unprocessable,
}

impl Refusal {
    /// The stable code (specs/api.md), and the class of refusal: the one
    /// table of both.
    pub fn describe(&self) -> (&'static str, RefusalClass) {
        use RefusalClass::*;
        match self {
            Refusal::WrongLog { .. } => ("wrong_log", Forbidden),
            Refusal::SignedInFuture { .. } | Refusal::SignedTooLongAgo { .. } => {
                ("signed_at_out_of_range", Unprocessable)
            }
            Refusal::NotRoot { .. } => ("not_root", Forbidden),
            Refusal::RootSignsOnlyRegistry { .. } => ("root_signs_only_registry", Forbidden),
            Refusal::UnknownDepartment(_) => ("unknown_department", Forbidden),
            Refusal::UnknownKey => ("unknown_key", Forbidden),
            Refusal::KeyOfOtherDepartment { .. } => ("key_of_other_department", Forbidden),
            Refusal::KeyRevoked(..) => ("key_revoked", Forbidden),
            Refusal::KeyNotYetValid { .. } => ("key_not_yet_valid", Forbidden),
            Refusal::KeyExpired { .. } => ("key_expired", Forbidden),
            Refusal::KeyAlreadyRegistered(_) => ("key_already_registered", Conflict),
            Refusal::KeyAlreadyRevoked => ("key_already_revoked", Conflict),
            Refusal::ReservedForRoot(_) => ("reserved_for_root", Conflict),
            Refusal::EmptyValidityWindow { .. } => ("empty_validity_window", Unprocessable),
            Refusal::WeakKey => ("weak_key", Unprocessable),
            Refusal::MissingRole { .. } => ("missing_role", Forbidden),
            Refusal::UnknownItem(_) => ("unknown_catalog_item", Unprocessable),
            Refusal::ItemOfOtherProvider { .. } => ("item_of_other_provider", Forbidden),
            Refusal::UnknownCase(_) => ("unknown_case", Unprocessable),
            Refusal::CaseExists(_) => ("case_exists", Conflict),
            Refusal::SelfApplication => ("self_application", Forbidden),
            Refusal::NotCaseParty { .. } => ("not_case_party", Forbidden),
        }
    }

    pub fn code(&self) -> &'static str {
        self.describe().0
    }

    pub fn class(&self) -> RefusalClass {
        self.describe().1
    }
}

/// A refusal, or a failure to read the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError<E> {
    Refused(Refusal),
    View(E),
}

impl<E> From<Refusal> for DecideError<E> {
    fn from(r: Refusal) -> Self {
        DecideError::Refused(r)
    }
}

/// An accepted entry: what it establishes and the earlier entries that
/// support the decision (the signer's registration, the case, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub changes: Vec<Change>,
    pub evidence: Vec<u64>,
}

/// Who may sign a kind: the "permitted signer" column of
/// specs/lifecycle.md §Rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// A root key of the trust policy.
    Root,
    /// Any department holding the role.
    Role(Role),
    /// The provider that published the catalog item.
    ItemProvider,
    /// The provider named when the case was opened.
    CaseProvider,
    /// The requester that opened the case.
    CaseRequester,
    /// The case's provider or any supervisor.
    CaseProviderOrSupervisor,
}

/// The one table of who may sign what. [`decide`] applies exactly this.
pub fn permitted_signer(kind: Kind) -> Signer {
    use Kind::*;
    match kind {
        Department | DepartmentKey | KeyRevocation => Signer::Root,
        CatalogEntry => Signer::Role(Role::Provider),
        ServiceChangeFiling => Signer::ItemProvider,
        Application => Signer::Role(Role::Requester),
        MaterialsIncomplete | Approval | Rejection | Delivery | CorrectionResult | Consent => {
            Signer::CaseProvider
        }
        DeliveryReceipt | CorrectionRequest | UsageRecord | Disposal => Signer::CaseRequester,
        ReplyExtension => Signer::Role(Role::Supervisor),
        Suspension | Termination => Signer::CaseProviderOrSupervisor,
    }
}

/// The case an entry belongs to, if any.
pub fn case_of(body: &Body) -> Option<&Id> {
    match body {
        Body::Application(b) => Some(&b.case),
        Body::MaterialsIncomplete(b) => Some(&b.case),
        Body::Approval(b) => Some(&b.case),
        Body::Rejection(b) => Some(&b.case),
        Body::ReplyExtension(b) => Some(&b.case),
        Body::Delivery(b) => Some(&b.case),
        Body::DeliveryReceipt(b) => Some(&b.case),
        Body::CorrectionRequest(b) => Some(&b.case),
        Body::CorrectionResult(b) => Some(&b.case),
        Body::UsageRecord(b) => Some(&b.case),
        Body::Disposal(b) => Some(&b.case),
        Body::Suspension(b) => Some(&b.case),
        Body::Termination(b) => Some(&b.case),
        Body::Consent(b) => Some(&b.case),
        Body::Department(_)
        | Body::DepartmentKey(_)
        | Body::KeyRevocation(_)
        | Body::CatalogEntry(_)
        | Body::ServiceChangeFiling(_) => None,
    }
}

/// Decides on `statement`, notarised at `time`, to become entry `index`,
/// applying specs/lifecycle.md §Rules in the order written there.
pub fn decide<V: RegistryView>(
    view: &V,
    statement: &Statement,
    time: u64,
    index: u64,
) -> Result<Decision, DecideError<V::Error>> {
    let kind = statement.kind();
    let signer = &statement.signer;
    let trust = view.trust();
    check_statement(trust, statement, time)?;

    let mut evidence = Vec::new();
    match permitted_signer(kind) {
        Signer::Root => {
            if !trust.is_root(signer) {
                return Err(Refusal::NotRoot { kind: kind.name() }.into());
            }
            check_registry_entry(view, &statement.body, time, &mut evidence)?;
        }
        required => {
            // A root key signs only registry entries, under any name.
            if trust.is_root_key(&signer.key) {
                return Err(Refusal::RootSignsOnlyRegistry { kind: kind.name() }.into());
            }
            let department =
                check_signing_key(view, &signer.department, &signer.key, time, &mut evidence)?;
            let subject = subject(view, &statement.body)?;
            check_signer(required, statement, &department, &subject)?;
            evidence.extend(subject.index());
            evidence.extend(check_conditions(view, statement)?);
        }
    }
    let changes = effect(view, statement, time, index).map_err(DecideError::View)?;
    Ok(Decision { changes, evidence })
}

/// The records an accepted entry establishes. Verifiers also use this to
/// take evidence entries as facts.
pub fn effect<V: RegistryView>(
    view: &V,
    statement: &Statement,
    time: u64,
    index: u64,
) -> Result<Vec<Change>, V::Error> {
    let signer = &statement.signer.department;
    Ok(match &statement.body {
        Body::Department(d) => vec![Change::new(
            &d.id,
            DepartmentRecord {
                name: d.name.as_str().to_owned(),
                roles: d.roles.clone(),
                index,
            },
        )],
        Body::DepartmentKey(k) => vec![Change::new(
            &k.key,
            KeyRecord {
                department: k.department.clone(),
                valid_from: k.valid_from.unwrap_or(time),
                valid_until: k.valid_until,
                index,
                revoked: None,
            },
        )],
        Body::KeyRevocation(r) => match view.key(&r.key)? {
            Some(mut record) => {
                record.revoked = Some(Revocation { time, index });
                vec![Change::new(&r.key, record)]
            }
            None => vec![],
        },
        Body::CatalogEntry(c) => vec![Change::new(
            &c.item,
            ItemRecord {
                provider: signer.clone(),
                share_attribute: c.share_attribute,
                index,
            },
        )],
        Body::Application(a) => vec![Change::new(
            &a.case,
            CaseRecord {
                requester: signer.clone(),
                provider: a.provider.clone(),
                item: a.item.clone(),
                index,
            },
        )],
        _ => vec![],
    })
}

/// The rules on every statement, before who signed it is looked at: it
/// names this log, and its `signed_at` is close to the notarised time `time`.
///
/// Binding each statement to one log's origin keeps a statement (a key
/// registration, say) from being replayed into another log that trusts the
/// same root; bounding `signed_at` keeps a statement from being held back
/// and notarised long after it was signed.
pub fn check_statement(
    trust: &TrustRoots,
    statement: &Statement,
    time: u64,
) -> Result<(), Refusal> {
    if statement.log != trust.origin {
        return Err(Refusal::WrongLog {
            expected: trust.origin.clone(),
            got: statement.log.clone(),
        });
    }
    let signed_at = statement.signed_at;
    if signed_at > time.saturating_add(MAX_SIGNED_AHEAD_MS) {
        return Err(Refusal::SignedInFuture { signed_at, time });
    }
    if signed_at < time.saturating_sub(MAX_SIGNED_BEFORE_MS) {
        return Err(Refusal::SignedTooLongAgo { signed_at, time });
    }
    Ok(())
}

/// The rules of the registry kinds, once a root signed them.
fn check_registry_entry<V: RegistryView>(
    view: &V,
    body: &Body,
    time: u64,
    evidence: &mut Vec<u64>,
) -> Result<(), DecideError<V::Error>> {
    match body {
        Body::Department(d) => {
            // A root's name is its signer "department" in registry entries;
            // a department of that name would be mistaken for it.
            if view.trust().is_root_name(&d.id) {
                return Err(Refusal::ReservedForRoot("the name").into());
            }
        }
        Body::DepartmentKey(k) => {
            let department = view
                .department(&k.department)
                .map_err(DecideError::View)?
                .ok_or_else(|| Refusal::UnknownDepartment(k.department.clone()))?;
            if crate::attestation::registrable_key(&k.key).is_err() {
                return Err(Refusal::WeakKey.into());
            }
            if view.trust().is_root_key(&k.key) {
                return Err(Refusal::ReservedForRoot("the key").into());
            }
            if let Some(existing) = view.key(&k.key).map_err(DecideError::View)? {
                return Err(Refusal::KeyAlreadyRegistered(existing.department).into());
            }
            let valid_from = k.valid_from.unwrap_or(time);
            if let Some(valid_until) = k.valid_until {
                if valid_until <= valid_from {
                    return Err(Refusal::EmptyValidityWindow {
                        valid_from,
                        valid_until,
                    }
                    .into());
                }
            }
            evidence.push(department.index);
        }
        Body::KeyRevocation(r) => {
            let record = registered_key(view, &r.department, &r.key)?;
            if record.revoked.is_some() {
                return Err(Refusal::KeyAlreadyRevoked.into());
            }
            evidence.push(record.index);
        }
        // `permitted_signer` gives `Root` to the three kinds above only
        // (tested in this module).
        other => unreachable!("{} is not a registry kind", other.kind().name()),
    }
    Ok(())
}

fn registered_key<V: RegistryView>(
    view: &V,
    department: &Id,
    key: &PublicKey,
) -> Result<KeyRecord, DecideError<V::Error>> {
    let record = view
        .key(key)
        .map_err(DecideError::View)?
        .ok_or(Refusal::UnknownKey)?;
    if &record.department != department {
        return Err(Refusal::KeyOfOtherDepartment {
            claimed: department.clone(),
            registered_to: record.department,
        }
        .into());
    }
    Ok(record)
}

/// A department key may sign at `time` if it is registered to the claimed
/// department, inside its validity window, and not revoked.
fn check_signing_key<V: RegistryView>(
    view: &V,
    department: &Id,
    key: &PublicKey,
    time: u64,
    evidence: &mut Vec<u64>,
) -> Result<DepartmentRecord, DecideError<V::Error>> {
    let dept = view
        .department(department)
        .map_err(DecideError::View)?
        .ok_or_else(|| Refusal::UnknownDepartment(department.clone()))?;
    let record = registered_key(view, department, key)?;
    if let Some(r) = record.revoked {
        return Err(Refusal::KeyRevoked(department.clone(), r.index).into());
    }
    if time < record.valid_from {
        return Err(Refusal::KeyNotYetValid {
            department: department.clone(),
            valid_from: record.valid_from,
        }
        .into());
    }
    if let Some(until) = record.valid_until {
        if time >= until {
            return Err(Refusal::KeyExpired {
                department: department.clone(),
                valid_until: until,
            }
            .into());
        }
    }
    evidence.push(dept.index);
    evidence.push(record.index);
    Ok(dept)
}

/// What an entry is about, which must exist before its signer can be
/// judged: the catalog item a filing is for, the case a step belongs to.
enum Subject {
    None,
    Item(Id, ItemRecord),
    Case(Id, CaseRecord),
}

impl Subject {
    /// The entry that established the subject, cited as evidence.
    fn index(&self) -> Option<u64> {
        match self {
            Subject::None => None,
            Subject::Item(_, item) => Some(item.index),
            Subject::Case(_, case) => Some(case.index),
        }
    }
}

fn subject<V: RegistryView>(view: &V, body: &Body) -> Result<Subject, DecideError<V::Error>> {
    if let Body::ServiceChangeFiling(f) = body {
        let item = view
            .item(&f.item)
            .map_err(DecideError::View)?
            .ok_or_else(|| Refusal::UnknownItem(f.item.clone()))?;
        return Ok(Subject::Item(f.item.clone(), item));
    }
    match case_of(body) {
        // An application opens its case; the case's rules are its conditions.
        Some(_) if matches!(body, Body::Application(_)) => Ok(Subject::None),
        Some(id) => {
            let case = view
                .case(id)
                .map_err(DecideError::View)?
                .ok_or_else(|| Refusal::UnknownCase(id.clone()))?;
            Ok(Subject::Case(id.clone(), case))
        }
        None => Ok(Subject::None),
    }
}

/// The "permitted signer" of the kind ([`permitted_signer`]), for a
/// registered department signing about `subject`.
fn check_signer(
    required: Signer,
    statement: &Statement,
    department: &DepartmentRecord,
    subject: &Subject,
) -> Result<(), Refusal> {
    let kind = statement.kind().name();
    let signer = &statement.signer.department;
    let has_role = |role: Role| department.roles.contains(&role);
    let missing_role = |role: Role| Refusal::MissingRole {
        department: signer.clone(),
        role: role.as_str(),
        kind,
    };
    let not_party = |case: &Id, party: &'static str, expected: &Id| Refusal::NotCaseParty {
        kind,
        case: case.clone(),
        party,
        expected: expected.clone(),
    };
    match (required, subject) {
        (Signer::Role(role), _) if !has_role(role) => Err(missing_role(role)),
        (Signer::Role(_), _) => Ok(()),
        (Signer::ItemProvider, Subject::Item(id, item)) if &item.provider != signer => {
            Err(Refusal::ItemOfOtherProvider {
                item: id.clone(),
                provider: item.provider.clone(),
            })
        }
        (Signer::ItemProvider, Subject::Item(..)) => Ok(()),
        (Signer::CaseProvider, Subject::Case(id, case)) if &case.provider != signer => {
            Err(not_party(id, "provider", &case.provider))
        }
        (Signer::CaseRequester, Subject::Case(id, case)) if &case.requester != signer => {
            Err(not_party(id, "requester", &case.requester))
        }
        (Signer::CaseProviderOrSupervisor, Subject::Case(id, case))
            if &case.provider != signer && !has_role(Role::Supervisor) =>
        {
            Err(not_party(id, "provider (or a supervisor)", &case.provider))
        }
        (
            Signer::CaseProvider | Signer::CaseRequester | Signer::CaseProviderOrSupervisor,
            Subject::Case(..),
        ) => Ok(()),
        // Root kinds are decided by `check_registry_entry`, and `subject`
        // finds the item or case of every kind whose signer is judged by one
        // (every kind is decided in this module's tests).
        (Signer::Root | Signer::ItemProvider | Signer::CaseProvider, _)
        | (Signer::CaseRequester | Signer::CaseProviderOrSupervisor, _) => {
            unreachable!("{kind}: no subject for its permitted signer {required:?}")
        }
    }
}

/// The "further conditions" of specs/lifecycle.md §Rules, after the signer
/// is permitted; gives the entry they relied on, if any, as evidence.
fn check_conditions<V: RegistryView>(
    view: &V,
    statement: &Statement,
) -> Result<Option<u64>, DecideError<V::Error>> {
    let signer = &statement.signer.department;
    match &statement.body {
        Body::CatalogEntry(c) => {
            if let Some(item) = view.item(&c.item).map_err(DecideError::View)? {
                if &item.provider != signer {
                    return Err(Refusal::ItemOfOtherProvider {
                        item: c.item.clone(),
                        provider: item.provider,
                    }
                    .into());
                }
            }
            Ok(None)
        }
        Body::Application(a) => {
            if view.case(&a.case).map_err(DecideError::View)?.is_some() {
                return Err(Refusal::CaseExists(a.case.clone()).into());
            }
            let item = view
                .item(&a.item)
                .map_err(DecideError::View)?
                .ok_or_else(|| Refusal::UnknownItem(a.item.clone()))?;
            if item.provider != a.provider {
                return Err(Refusal::ItemOfOtherProvider {
                    item: a.item.clone(),
                    provider: item.provider,
                }
                .into());
            }
            if &a.provider == signer {
                return Err(Refusal::SelfApplication.into());
            }
            Ok(Some(item.index))
        }
        _ => Ok(None),
    }
}
