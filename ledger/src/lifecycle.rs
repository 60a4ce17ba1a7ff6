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

use crate::attestation::{Body, Consent, Id, Origin, PublicKey, Role, Statement};
use crate::lang::Lang;
use crate::registry::{
    CaseRecord, CatalogChangeRecord, Change, DepartmentRecord, DisputeRecord, ItemRecord,
    KeyRecord, LogKeyRecord, RecordKind, RegistryView, ReturnFlowRecord, Revocation, ThirdParty,
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
    #[error("key is already a checkpoint key of this log")]
    KeyAlreadyLogKey,
    #[error("the key cannot be declared compromised since {}, after the notarised time {}", cst(*compromised_since), cst(*time))]
    CompromiseInFuture { compromised_since: u64, time: u64 },
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
    #[error("catalog change {0} does not exist (no catalog_change_notice opened it)")]
    UnknownChange(Id),
    #[error("catalog change {0} already exists")]
    ChangeExists(Id),
    #[error("catalog change {change} is for provider {provider}")]
    NotChangeProvider { change: Id, provider: Id },
    #[error("dispute {0} does not exist (no dispute entry opened it)")]
    UnknownDispute(Id),
    #[error("dispute {0} already exists")]
    DisputeExists(Id),
    #[error("dispute {0} is handled by the supervisor it was brought or last escalated to")]
    NotDisputeHandler(Id),
    #[error("dispute {0} cannot be escalated to the supervisor that has it")]
    EscalationToSelf(Id),
    #[error("return-flow request {0} does not exist")]
    UnknownRequest(Id),
    #[error("return-flow request {0} already exists")]
    RequestExists(Id),
    #[error("return-flow request {0} is answered by the department it was made to")]
    NotRequestRecipient(Id),
    #[error("department {0} has the auditor role, which reads the log and signs nothing")]
    AuditorSignsNothing(Id),
    // The message does not name the party: a signer who is not one of the
    // case's parties may not learn who they are (specs/reads.md).
    #[error("{kind} for case {case} must be signed by its {party}")]
    NotCaseParty {
        kind: &'static str,
        case: Id,
        party: &'static str,
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
            Refusal::KeyAlreadyRegistered(_) | Refusal::KeyAlreadyLogKey => {
                ("key_already_registered", Conflict)
            }
            Refusal::CompromiseInFuture { .. } => ("compromise_in_future", Unprocessable),
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
            Refusal::AuditorSignsNothing(_) => ("auditor_signs_nothing", Forbidden),
            Refusal::UnknownChange(_) => ("unknown_change", Unprocessable),
            Refusal::ChangeExists(_) => ("change_exists", Conflict),
            Refusal::NotChangeProvider { .. } => ("not_change_provider", Forbidden),
            Refusal::UnknownDispute(_) => ("unknown_dispute", Unprocessable),
            Refusal::DisputeExists(_) => ("dispute_exists", Conflict),
            Refusal::NotDisputeHandler(_) => ("not_dispute_handler", Forbidden),
            Refusal::EscalationToSelf(_) => ("escalation_to_self", Unprocessable),
            Refusal::UnknownRequest(_) => ("unknown_request", Unprocessable),
            Refusal::RequestExists(_) => ("request_exists", Conflict),
            Refusal::NotRequestRecipient(_) => ("not_request_recipient", Forbidden),
        }
    }

    pub fn code(&self) -> &'static str {
        self.describe().0
    }

    /// Whether the refusal came after the signer was found to be who the
    /// statement says: a root of the policy (name and key), or a department
    /// whose registered key signed. Only then may a log name the signer:
    /// anyone can make a key and sign in any department's name.
    pub fn signer_confirmed(&self) -> bool {
        match self {
            Refusal::WrongLog { .. }
            | Refusal::SignedInFuture { .. }
            | Refusal::SignedTooLongAgo { .. }
            | Refusal::NotRoot { .. }
            | Refusal::RootSignsOnlyRegistry { .. }
            | Refusal::UnknownDepartment(_)
            | Refusal::UnknownKey
            | Refusal::KeyOfOtherDepartment { .. } => false,
            Refusal::KeyRevoked(..)
            | Refusal::KeyNotYetValid { .. }
            | Refusal::KeyExpired { .. }
            | Refusal::KeyAlreadyRegistered(_)
            | Refusal::KeyAlreadyLogKey
            | Refusal::CompromiseInFuture { .. }
            | Refusal::KeyAlreadyRevoked
            | Refusal::ReservedForRoot(_)
            | Refusal::EmptyValidityWindow { .. }
            | Refusal::WeakKey
            | Refusal::MissingRole { .. }
            | Refusal::UnknownItem(_)
            | Refusal::ItemOfOtherProvider { .. }
            | Refusal::UnknownCase(_)
            | Refusal::CaseExists(_)
            | Refusal::SelfApplication
            | Refusal::AuditorSignsNothing(_)
            | Refusal::UnknownChange(_)
            | Refusal::ChangeExists(_)
            | Refusal::NotChangeProvider { .. }
            | Refusal::UnknownDispute(_)
            | Refusal::DisputeExists(_)
            | Refusal::NotDisputeHandler(_)
            | Refusal::EscalationToSelf(_)
            | Refusal::UnknownRequest(_)
            | Refusal::RequestExists(_)
            | Refusal::NotRequestRecipient(_)
            | Refusal::NotCaseParty { .. } => true,
        }
    }

    pub fn class(&self) -> RefusalClass {
        self.describe().1
    }

    /// The refusal as people read it, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => self.zh(),
        }
    }

    fn zh(&self) -> String {
        let party = |p: &str| match p {
            "provider" => "提供部门",
            "requester" => "需求部门",
            _ => "提供部门（或主管部门）",
        };
        match self {
            Refusal::WrongLog { expected, got } => {
                format!("该语句属于日志 {got}，而本日志为 {expected}")
            }
            Refusal::SignedInFuture { signed_at, time } => format!(
                "语句声明的签署时间 {} 比公证时间 {} 晚 5 分钟以上",
                cst(*signed_at),
                cst(*time)
            ),
            Refusal::SignedTooLongAgo { signed_at, time } => format!(
                "语句声明的签署时间 {} 比公证时间 {} 早 24 小时以上；请重新签署",
                cst(*signed_at),
                cst(*time)
            ),
            Refusal::NotRoot { kind } => format!("{kind} 条目必须由信任策略中的根密钥签署"),
            Refusal::RootSignsOnlyRegistry { kind } => {
                format!("根密钥只签署登记类条目，不能签署 {kind}")
            }
            Refusal::UnknownDepartment(d) => format!("部门 {d} 尚未登记"),
            Refusal::UnknownKey => "该密钥未登记给任何部门".to_owned(),
            Refusal::KeyOfOtherDepartment {
                claimed,
                registered_to,
            } => format!("该密钥登记给部门 {registered_to}，而不是 {claimed}"),
            Refusal::KeyRevoked(d, index) => format!("{d} 的签名密钥已由第 {index} 条撤销"),
            Refusal::KeyNotYetValid {
                department,
                valid_from,
            } => format!("{department} 的签名密钥自 {} 起才有效", cst(*valid_from)),
            Refusal::KeyExpired {
                department,
                valid_until,
            } => format!("{department} 的签名密钥已于 {} 失效", cst(*valid_until)),
            Refusal::KeyAlreadyRegistered(d) => format!("该密钥已登记给部门 {d}"),
            Refusal::KeyAlreadyLogKey => "该密钥已是本日志的检查点密钥".to_owned(),
            Refusal::CompromiseInFuture {
                compromised_since,
                time,
            } => format!(
                "密钥泄露时间 {} 晚于公证时间 {}",
                cst(*compromised_since),
                cst(*time)
            ),
            Refusal::KeyAlreadyRevoked => "该密钥已被撤销".to_owned(),
            Refusal::ReservedForRoot(what) => format!(
                "{}属于信任策略中的根，不能登记给部门",
                if *what == "the name" {
                    "该名称"
                } else {
                    "该密钥"
                }
            ),
            Refusal::EmptyValidityWindow {
                valid_from,
                valid_until,
            } => format!(
                "密钥的有效期为空：valid_until {} 不晚于 valid_from {}",
                cst(*valid_until),
                cst(*valid_from)
            ),
            Refusal::WeakKey => {
                "该密钥不是可用的 Ed25519 公钥（无效、小阶或含挠点分量）".to_owned()
            }
            Refusal::MissingRole {
                department,
                role,
                kind,
            } => format!("部门 {department} 没有签署 {kind} 所需的 {role} 角色"),
            Refusal::UnknownItem(item) => format!("目录项 {item} 不存在"),
            Refusal::ItemOfOtherProvider { item, provider } => {
                format!("目录项 {item} 属于提供部门 {provider}")
            }
            Refusal::UnknownCase(case) => format!("案件 {case} 不存在（尚无申请创建该案件）"),
            Refusal::CaseExists(case) => format!("案件 {case} 已存在"),
            Refusal::SelfApplication => "部门不能申请共享本部门自己的数据".to_owned(),
            Refusal::AuditorSignsNothing(d) => {
                format!("部门 {d} 具有审计角色，只能查阅日志，不签署任何语句")
            }
            Refusal::UnknownChange(c) => format!("目录变更 {c} 不存在（尚无目录变更通知）"),
            Refusal::ChangeExists(c) => format!("目录变更 {c} 已存在"),
            Refusal::NotChangeProvider { change, provider } => {
                format!("目录变更 {change} 应由提供部门 {provider} 更新")
            }
            Refusal::UnknownDispute(d) => format!("争议 {d} 不存在"),
            Refusal::DisputeExists(d) => format!("争议 {d} 已存在"),
            Refusal::NotDisputeHandler(d) => {
                format!("争议 {d} 由受理或最后一次移交的主管部门处理")
            }
            Refusal::EscalationToSelf(d) => format!("争议 {d} 不能移交给正在处理它的主管部门"),
            Refusal::UnknownRequest(r) => format!("回流申请 {r} 不存在"),
            Refusal::RequestExists(r) => format!("回流申请 {r} 已存在"),
            Refusal::NotRequestRecipient(request) => {
                format!("回流申请 {request} 只能由被申请的部门答复")
            }
            Refusal::NotCaseParty {
                kind,
                case,
                party: p,
            } => format!("案件 {case} 的 {kind} 必须由该案件的{}签署", party(p)),
        }
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
    /// Findings (specs/findings.md) the entry makes on its own, told to
    /// its submitter at once; the entry is appended all the same.
    pub findings: Vec<ImmediateFinding>,
}

/// A finding an entry makes as soon as it is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImmediateFinding {
    /// A reply (approval, rejection or materials-incomplete notice) in a
    /// case that already has its approval or rejection: entry `first`.
    SecondReply { first: u64 },
}

impl ImmediateFinding {
    /// The code of specs/findings.md.
    pub fn code(&self) -> &'static str {
        match self {
            ImmediateFinding::SecondReply { .. } => "second_reply",
        }
    }

    /// The earlier entry it cites.
    pub fn cites(&self) -> u64 {
        match self {
            ImmediateFinding::SecondReply { first } => *first,
        }
    }
}

/// Who may sign an entry: the "permitted signer" column of
/// specs/lifecycle.md §Rules, with what the signer is judged against (the
/// case or item the entry is about, named by its body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer<'a> {
    /// A root key of the trust policy, for a registry entry.
    Root(RegistryEntry<'a>),
    /// Any department holding the role.
    Role(Role),
    /// A department holding the role, for a step of an existing case.
    RoleInCase(Role, &'a Id),
    /// The provider that published the catalog item.
    ItemProvider(&'a Id),
    /// The provider named when the case was opened.
    CaseProvider(&'a Id),
    /// The requester that opened the case.
    CaseRequester(&'a Id),
    /// The case's provider, or any supervisor.
    CaseProviderOrSupervisor(&'a Id),
    /// Any registered department.
    AnyDepartment,
    /// A department holding the role, about an existing catalog change.
    RoleInChange(Role, &'a Id),
    /// The supervisor an existing dispute is with (the one it was brought
    /// to, or last escalated to).
    DisputeHandler(&'a Id),
    /// The department a return-flow request was made to.
    RequestRecipient(&'a Id),
}

/// The entries only a root of the trust policy signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryEntry<'a> {
    Department(&'a crate::attestation::Department),
    DepartmentKey(&'a crate::attestation::DepartmentKey),
    KeyRevocation(&'a crate::attestation::KeyRevocation),
    LogKey(&'a crate::attestation::LogKey),
}

/// The one table of who may sign what; [`decide`] applies exactly this.
pub fn permitted_signer(body: &Body) -> Signer<'_> {
    match body {
        Body::Department(b) => Signer::Root(RegistryEntry::Department(b)),
        Body::DepartmentKey(b) => Signer::Root(RegistryEntry::DepartmentKey(b)),
        Body::KeyRevocation(b) => Signer::Root(RegistryEntry::KeyRevocation(b)),
        Body::LogKey(b) => Signer::Root(RegistryEntry::LogKey(b)),
        Body::CatalogEntry(_) => Signer::Role(Role::Provider),
        Body::ServiceChangeFiling(b) => Signer::ItemProvider(&b.item),
        Body::Application(_) => Signer::Role(Role::Requester),
        Body::MaterialsIncomplete(b) => Signer::CaseProvider(&b.case),
        Body::Approval(b) => Signer::CaseProvider(&b.case),
        Body::Rejection(b) => Signer::CaseProvider(&b.case),
        Body::Delivery(b) => Signer::CaseProvider(&b.case),
        Body::CorrectionResult(b) => Signer::CaseProvider(&b.case),
        Body::Consent(b) => Signer::CaseProvider(&b.case),
        Body::DeliveryReceipt(b) => Signer::CaseRequester(&b.case),
        Body::MaterialsSupplement(b) => Signer::CaseRequester(&b.case),
        Body::CorrectionRequest(b) => Signer::CaseRequester(&b.case),
        Body::UsageRecord(b) => Signer::CaseRequester(&b.case),
        Body::Disposal(b) => Signer::CaseRequester(&b.case),
        Body::ReplyExtension(b) => Signer::RoleInCase(Role::Supervisor, &b.case),
        Body::Suspension(b) => Signer::CaseProviderOrSupervisor(&b.case),
        Body::Termination(b) => Signer::CaseProviderOrSupervisor(&b.case),
        Body::CatalogChangeNotice(_) => Signer::Role(Role::Supervisor),
        Body::CatalogUpdateExtension(b) => Signer::RoleInChange(Role::Supervisor, &b.change),
        Body::CatalogPublication(b) => Signer::RoleInChange(Role::Supervisor, &b.change),
        Body::Dispute(_) => Signer::AnyDepartment,
        Body::DisputeEscalation(b) => Signer::DisputeHandler(&b.dispute),
        Body::DisputeResolution(b) => Signer::DisputeHandler(&b.dispute),
        Body::ReturnFlowRequest(_) => Signer::AnyDepartment,
        Body::ReturnFlow(b) => Signer::RequestRecipient(&b.request),
    }
}

/// What has a clock of its own: a sharing case, or a catalog change, a
/// dispute or a return-flow request (specs/findings.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubjectKind {
    Case,
    CatalogChange,
    Dispute,
    ReturnFlowRequest,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 4] = [
        SubjectKind::Case,
        SubjectKind::CatalogChange,
        SubjectKind::Dispute,
        SubjectKind::ReturnFlowRequest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SubjectKind::Case => "case",
            SubjectKind::CatalogChange => "catalog_change",
            SubjectKind::Dispute => "dispute",
            SubjectKind::ReturnFlowRequest => "return_flow_request",
        }
    }
}

/// The subject an entry is a step of, with the departments it makes
/// parties to it (for the entry that opens it, or brings a party in).
pub fn subject_of(body: &Body) -> Option<(SubjectKind, &Id, Vec<&Id>)> {
    if let Some(case) = case_of(body) {
        let parties = match body {
            Body::Application(a) => vec![&a.provider],
            _ => vec![],
        };
        return Some((SubjectKind::Case, case, parties));
    }
    Some(match body {
        Body::CatalogChangeNotice(n) => (SubjectKind::CatalogChange, &n.change, vec![&n.provider]),
        Body::CatalogUpdateExtension(x) => (SubjectKind::CatalogChange, &x.change, vec![]),
        Body::CatalogPublication(p) => (SubjectKind::CatalogChange, &p.change, vec![]),
        Body::CatalogEntry(c) => (SubjectKind::CatalogChange, c.change.as_ref()?, vec![]),
        Body::Dispute(d) => (
            SubjectKind::Dispute,
            &d.dispute,
            vec![&d.with, &d.supervisor],
        ),
        Body::DisputeEscalation(x) => (SubjectKind::Dispute, &x.dispute, vec![&x.to]),
        Body::DisputeResolution(r) => (SubjectKind::Dispute, &r.dispute, vec![]),
        Body::ReturnFlowRequest(r) => (SubjectKind::ReturnFlowRequest, &r.request, vec![&r.to]),
        Body::ReturnFlow(f) => (SubjectKind::ReturnFlowRequest, &f.request, vec![]),
        _ => return None,
    })
}

/// The case an entry belongs to, if any.
pub fn case_of(body: &Body) -> Option<&Id> {
    match body {
        Body::Application(b) => Some(&b.case),
        Body::MaterialsIncomplete(b) => Some(&b.case),
        Body::MaterialsSupplement(b) => Some(&b.case),
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
        | Body::LogKey(_)
        | Body::CatalogEntry(_)
        | Body::ServiceChangeFiling(_)
        | Body::CatalogChangeNotice(_)
        | Body::CatalogUpdateExtension(_)
        | Body::CatalogPublication(_)
        | Body::Dispute(_)
        | Body::DisputeEscalation(_)
        | Body::DisputeResolution(_)
        | Body::ReturnFlowRequest(_)
        | Body::ReturnFlow(_) => None,
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
    let kind = statement.kind().name();
    let signer = &statement.signer;
    let trust = view.trust();
    check_statement(trust, statement, time)?;

    let mut evidence = Vec::new();
    match permitted_signer(&statement.body) {
        Signer::Root(entry) => {
            if !trust.is_root_at(signer, index) {
                return Err(Refusal::NotRoot { kind }.into());
            }
            evidence.extend(check_registry_entry(view, entry, time)?);
        }
        permitted => {
            // A root key signs only registry entries, under any name.
            if trust.is_root_key(&signer.key) {
                return Err(Refusal::RootSignsOnlyRegistry { kind }.into());
            }
            let department = check_signing_key(view, &signer.department, &signer.key, time)?;
            if department.record.roles.contains(&Role::Auditor) {
                return Err(Refusal::AuditorSignsNothing(signer.department.clone()).into());
            }
            evidence.extend([department.index, department.key_index]);
            evidence.extend(check_signer(
                view,
                permitted,
                statement,
                &department.record,
            )?);
            evidence.extend(check_conditions(view, statement)?);
        }
    }
    // An entry cited twice is cited once (a named department that is the
    // signer's own): receipt.md refuses evidence given twice.
    let mut cited = std::collections::HashSet::new();
    evidence.retain(|i| cited.insert(*i));
    let findings = immediate_findings(view, statement, index).map_err(DecideError::View)?;
    let changes = effect(view, statement, time, index).map_err(DecideError::View)?;
    Ok(Decision {
        changes,
        evidence,
        findings,
    })
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
                jurisdiction: d.jurisdiction.as_str().to_owned(),
                index,
            },
        )],
        Body::DepartmentKey(k) => {
            let valid_from = k.valid_from.unwrap_or(time);
            let mut changes = vec![Change::new(
                &k.key,
                KeyRecord {
                    department: k.department.clone(),
                    valid_from,
                    valid_until: k.valid_until,
                    index,
                    revoked: None,
                },
            )];
            // Rotation: the replaced key signs nothing from where the new
            // one begins (lifecycle.md §Rules).
            if let Some(old) = &k.replaces {
                if let Some(mut record) = view.get::<KeyRecord>(old)? {
                    let until = record.valid_until.map_or(valid_from, |u| u.min(valid_from));
                    record.valid_until = Some(until);
                    changes.push(Change::new(old, record));
                }
            }
            changes
        }
        Body::KeyRevocation(r) => match view.get::<KeyRecord>(&r.key)? {
            Some(mut record) => {
                record.revoked = Some(Revocation {
                    time,
                    index,
                    compromised_since: r.compromised_since,
                });
                vec![Change::new(&r.key, record)]
            }
            None => vec![],
        },
        Body::LogKey(k) => vec![Change::new(&k.key, LogKeyRecord { index })],
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
                reply: None,
                third_parties: vec![],
            },
        )],
        // The case's first approval or rejection is its reply.
        Body::Approval(b) => first_reply(view, &b.case, index)?,
        Body::Rejection(b) => first_reply(view, &b.case, index)?,
        Body::Consent(Consent {
            case,
            third_party: Some(party),
            ..
        }) => third_party(view, case, party, index)?,
        Body::CatalogChangeNotice(n) => vec![Change::new(
            &n.change,
            CatalogChangeRecord {
                provider: n.provider.clone(),
                supervisor: signer.clone(),
                index,
            },
        )],
        Body::Dispute(d) => vec![Change::new(
            &d.dispute,
            DisputeRecord {
                filer: signer.clone(),
                with: d.with.clone(),
                supervisors: vec![d.supervisor.clone()],
                index,
                handled_since: None,
            },
        )],
        Body::DisputeEscalation(x) => match view.get::<DisputeRecord>(&x.dispute)? {
            Some(mut record) => {
                record.supervisors.push(x.to.clone());
                record.handled_since = Some(index);
                vec![Change::new(&x.dispute, record)]
            }
            None => vec![],
        },
        Body::ReturnFlowRequest(r) => vec![Change::new(
            &r.request,
            ReturnFlowRecord {
                requester: signer.clone(),
                to: r.to.clone(),
                index,
            },
        )],
        _ => vec![],
    })
}

/// A third party named by a consent reads the case from then on
/// (specs/reads.md); its first consent is the one that counts.
fn third_party<V: RegistryView>(
    view: &V,
    case: &Id,
    party: &Id,
    index: u64,
) -> Result<Vec<Change>, V::Error> {
    Ok(match view.get::<CaseRecord>(case)? {
        Some(mut record) if !record.third_parties.iter().any(|t| &t.department == party) => {
            record.third_parties.push(ThirdParty {
                department: party.clone(),
                index,
            });
            vec![Change::new(case, record)]
        }
        _ => vec![],
    })
}

fn first_reply<V: RegistryView>(view: &V, case: &Id, index: u64) -> Result<Vec<Change>, V::Error> {
    Ok(match view.get::<CaseRecord>(case)? {
        Some(mut record) if record.reply.is_none() => {
            record.reply = Some(index);
            vec![Change::new(case, record)]
        }
        _ => vec![],
    })
}

/// The findings an entry makes on its own, judged on the registry before it.
/// `index` is the entry's own index: the first reply submitted again is
/// no second reply.
pub fn immediate_findings<V: RegistryView>(
    view: &V,
    statement: &Statement,
    index: u64,
) -> Result<Vec<ImmediateFinding>, V::Error> {
    let case = match &statement.body {
        Body::Approval(b) => &b.case,
        Body::Rejection(b) => &b.case,
        Body::MaterialsIncomplete(b) => &b.case,
        _ => return Ok(vec![]),
    };
    Ok(match view.get::<CaseRecord>(case)?.and_then(|c| c.reply) {
        Some(first) if first != index => vec![ImmediateFinding::SecondReply { first }],
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

/// The rules of the registry kinds, once a root signed them; gives the
/// entry they relied on, if any, as evidence.
fn check_registry_entry<V: RegistryView>(
    view: &V,
    entry: RegistryEntry,
    time: u64,
) -> Result<Vec<u64>, DecideError<V::Error>> {
    match entry {
        RegistryEntry::Department(d) => {
            // A root's name is its signer "department" in registry entries;
            // a department of that name would be mistaken for it.
            if view.trust().is_root_name(&d.id) {
                return Err(Refusal::ReservedForRoot("the name").into());
            }
            Ok(vec![])
        }
        RegistryEntry::DepartmentKey(k) => {
            let department = view
                .get::<DepartmentRecord>(&k.department)
                .map_err(DecideError::View)?
                .ok_or_else(|| Refusal::UnknownDepartment(k.department.clone()))?;
            if crate::attestation::registrable_key(&k.key).is_err() {
                return Err(Refusal::WeakKey.into());
            }
            if view.trust().is_root_key(&k.key) {
                return Err(Refusal::ReservedForRoot("the key").into());
            }
            check_unregistered(view, &k.key)?;
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
            let mut evidence = vec![department.index];
            if let Some(old) = &k.replaces {
                let record = registered_key(view, &k.department, old)?;
                if record.revoked.is_some() {
                    return Err(Refusal::KeyAlreadyRevoked.into());
                }
                evidence.push(record.index);
            }
            Ok(evidence)
        }
        RegistryEntry::KeyRevocation(r) => {
            let record = registered_key(view, &r.department, &r.key)?;
            if record.revoked.is_some() {
                return Err(Refusal::KeyAlreadyRevoked.into());
            }
            if let Some(since) = r.compromised_since.filter(|&s| s > time) {
                return Err(Refusal::CompromiseInFuture {
                    compromised_since: since,
                    time,
                }
                .into());
            }
            Ok(vec![record.index])
        }
        RegistryEntry::LogKey(k) => {
            if crate::attestation::registrable_key(&k.key).is_err() {
                return Err(Refusal::WeakKey.into());
            }
            if view.trust().is_root_key(&k.key) {
                return Err(Refusal::ReservedForRoot("the key").into());
            }
            check_unregistered(view, &k.key)?;
            Ok(vec![])
        }
    }
}

/// A key is registered once: to one department, or as one of the log's
/// checkpoint keys.
fn check_unregistered<V: RegistryView>(
    view: &V,
    key: &PublicKey,
) -> Result<(), DecideError<V::Error>> {
    if let Some(existing) = view.get::<KeyRecord>(key).map_err(DecideError::View)? {
        return Err(Refusal::KeyAlreadyRegistered(existing.department).into());
    }
    if view
        .get::<LogKeyRecord>(key)
        .map_err(DecideError::View)?
        .is_some()
    {
        return Err(Refusal::KeyAlreadyLogKey.into());
    }
    Ok(())
}

fn registered_key<V: RegistryView>(
    view: &V,
    department: &Id,
    key: &PublicKey,
) -> Result<KeyRecord, DecideError<V::Error>> {
    let record = view
        .get::<KeyRecord>(key)
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

/// A registered department and the key it signs with.
struct SigningDepartment {
    record: DepartmentRecord,
    /// The department's entry.
    index: u64,
    /// The key's registration entry.
    key_index: u64,
}

/// A department key may sign at `time` if it is registered to the claimed
/// department, inside its validity window, and not revoked.
fn check_signing_key<V: RegistryView>(
    view: &V,
    department: &Id,
    key: &PublicKey,
    time: u64,
) -> Result<SigningDepartment, DecideError<V::Error>> {
    let dept = view
        .get::<DepartmentRecord>(department)
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
    Ok(SigningDepartment {
        index: dept.index,
        record: dept,
        key_index: record.index,
    })
}

/// The department a key belongs to, if the key may sign at `time`:
/// registered, inside its validity window and not revoked. This is also who
/// makes an authenticated read signed with the key (specs/reads.md).
pub fn key_holder<V: RegistryView>(
    view: &V,
    key: &PublicKey,
    time: u64,
) -> Result<(Id, DepartmentRecord), DecideError<V::Error>> {
    let record = view
        .get::<KeyRecord>(key)
        .map_err(DecideError::View)?
        .ok_or(Refusal::UnknownKey)?;
    let holder = check_signing_key(view, &record.department, key, time)?;
    Ok((record.department, holder.record))
}

fn existing_item<V: RegistryView>(view: &V, id: &Id) -> Result<ItemRecord, DecideError<V::Error>> {
    view.get::<ItemRecord>(id)
        .map_err(DecideError::View)?
        .ok_or_else(|| Refusal::UnknownItem(id.clone()).into())
}

fn existing_case<V: RegistryView>(view: &V, id: &Id) -> Result<CaseRecord, DecideError<V::Error>> {
    view.get::<CaseRecord>(id)
        .map_err(DecideError::View)?
        .ok_or_else(|| Refusal::UnknownCase(id.clone()).into())
}

/// Whether a registered department may sign the entry, as [`permitted_signer`]
/// says. What the entry is about (its item or case) must exist first; it is
/// the evidence this gives.
fn check_signer<V: RegistryView>(
    view: &V,
    permitted: Signer,
    statement: &Statement,
    department: &DepartmentRecord,
) -> Result<Vec<u64>, DecideError<V::Error>> {
    let kind = statement.kind().name();
    let signer = &statement.signer.department;
    let has_role = |role: Role| department.roles.contains(&role);
    let need_role = |role: Role| -> Result<(), Refusal> {
        if has_role(role) {
            Ok(())
        } else {
            Err(Refusal::MissingRole {
                department: signer.clone(),
                role: role.as_str(),
                kind,
            })
        }
    };
    let not_party = |case: &Id, party: &'static str| Refusal::NotCaseParty {
        kind,
        case: case.clone(),
        party,
    };
    match permitted {
        // Registry entries are decided by `check_registry_entry`; a root
        // kind reaching here was not signed by a root.
        Signer::Root(_) => Err(Refusal::NotRoot { kind }.into()),
        Signer::Role(role) => {
            need_role(role)?;
            Ok(vec![])
        }
        Signer::RoleInCase(role, id) => {
            let case = existing_case(view, id)?;
            need_role(role)?;
            Ok(vec![case.index])
        }
        Signer::ItemProvider(id) => {
            let item = existing_item(view, id)?;
            if &item.provider != signer {
                return Err(Refusal::ItemOfOtherProvider {
                    item: id.clone(),
                    provider: item.provider,
                }
                .into());
            }
            Ok(vec![item.index])
        }
        Signer::CaseProvider(id) => {
            let case = existing_case(view, id)?;
            if &case.provider != signer {
                return Err(not_party(id, "provider").into());
            }
            Ok(vec![case.index])
        }
        Signer::CaseRequester(id) => {
            let case = existing_case(view, id)?;
            if &case.requester != signer {
                return Err(not_party(id, "requester").into());
            }
            Ok(vec![case.index])
        }
        Signer::CaseProviderOrSupervisor(id) => {
            let case = existing_case(view, id)?;
            if &case.provider != signer && !has_role(Role::Supervisor) {
                return Err(not_party(id, "provider (or a supervisor)").into());
            }
            Ok(vec![case.index])
        }
        Signer::AnyDepartment => Ok(vec![]),
        Signer::RoleInChange(role, id) => {
            let change: CatalogChangeRecord = existing(view, id, Refusal::UnknownChange)?;
            need_role(role)?;
            Ok(vec![change.index])
        }
        Signer::DisputeHandler(id) => {
            let dispute: DisputeRecord = existing(view, id, Refusal::UnknownDispute)?;
            if dispute.supervisors.last() != Some(signer) {
                return Err(Refusal::NotDisputeHandler(id.clone()).into());
            }
            // The dispute's entry, and the escalation that brought it to
            // its handler: what the record needs to be rebuilt offline.
            Ok([Some(dispute.index), dispute.handled_since]
                .into_iter()
                .flatten()
                .collect())
        }
        Signer::RequestRecipient(id) => {
            let request: ReturnFlowRecord = existing(view, id, Refusal::UnknownRequest)?;
            if &request.to != signer {
                return Err(Refusal::NotRequestRecipient(id.clone()).into());
            }
            Ok(vec![request.index])
        }
    }
}

/// The record `id` of kind `R`, or the refusal `unknown` names.
fn existing<V: RegistryView, R: RecordKind<Name = Id>>(
    view: &V,
    id: &Id,
    unknown: fn(Id) -> Refusal,
) -> Result<R, DecideError<V::Error>> {
    view.get::<R>(id)
        .map_err(DecideError::View)?
        .ok_or_else(|| unknown(id.clone()).into())
}

/// A department the statement names (not its signer) must be registered,
/// with `role` if given; its `department` entry is evidence.
fn named_department<V: RegistryView>(
    view: &V,
    id: &Id,
    role: Option<Role>,
    kind: &'static str,
) -> Result<u64, DecideError<V::Error>> {
    let record: DepartmentRecord = existing(view, id, Refusal::UnknownDepartment)?;
    match role {
        Some(role) if !record.roles.contains(&role) => Err(Refusal::MissingRole {
            department: id.clone(),
            role: role.as_str(),
            kind,
        }
        .into()),
        _ => Ok(record.index),
    }
}

/// The "further conditions" of specs/lifecycle.md §Rules, after the signer
/// is permitted; gives the entries they relied on, as evidence.
fn check_conditions<V: RegistryView>(
    view: &V,
    statement: &Statement,
) -> Result<Vec<u64>, DecideError<V::Error>> {
    let signer = &statement.signer.department;
    let kind = statement.kind().name();
    match &statement.body {
        Body::CatalogEntry(c) => {
            if let Some(item) = view.get::<ItemRecord>(&c.item).map_err(DecideError::View)? {
                if &item.provider != signer {
                    return Err(Refusal::ItemOfOtherProvider {
                        item: c.item.clone(),
                        provider: item.provider,
                    }
                    .into());
                }
            }
            match &c.change {
                None => Ok(vec![]),
                Some(id) => {
                    let change: CatalogChangeRecord = existing(view, id, Refusal::UnknownChange)?;
                    if &change.provider != signer {
                        return Err(Refusal::NotChangeProvider {
                            change: id.clone(),
                            provider: change.provider,
                        }
                        .into());
                    }
                    Ok(vec![change.index])
                }
            }
        }
        Body::CatalogChangeNotice(n) => {
            if view
                .get::<CatalogChangeRecord>(&n.change)
                .map_err(DecideError::View)?
                .is_some()
            {
                return Err(Refusal::ChangeExists(n.change.clone()).into());
            }
            Ok(vec![named_department(
                view,
                &n.provider,
                Some(Role::Provider),
                kind,
            )?])
        }
        Body::Dispute(d) => {
            if view
                .get::<DisputeRecord>(&d.dispute)
                .map_err(DecideError::View)?
                .is_some()
            {
                return Err(Refusal::DisputeExists(d.dispute.clone()).into());
            }
            Ok(vec![
                named_department(view, &d.with, None, kind)?,
                named_department(view, &d.supervisor, Some(Role::Supervisor), kind)?,
            ])
        }
        Body::DisputeEscalation(x) if &x.to == signer => {
            Err(Refusal::EscalationToSelf(x.dispute.clone()).into())
        }
        Body::DisputeEscalation(x) => Ok(vec![named_department(
            view,
            &x.to,
            Some(Role::Supervisor),
            kind,
        )?]),
        Body::ReturnFlowRequest(r) => {
            if view
                .get::<ReturnFlowRecord>(&r.request)
                .map_err(DecideError::View)?
                .is_some()
            {
                return Err(Refusal::RequestExists(r.request.clone()).into());
            }
            Ok(vec![named_department(view, &r.to, None, kind)?])
        }
        Body::Application(a) => {
            if view
                .get::<CaseRecord>(&a.case)
                .map_err(DecideError::View)?
                .is_some()
            {
                return Err(Refusal::CaseExists(a.case.clone()).into());
            }
            let item = existing_item(view, &a.item)?;
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
            Ok(vec![item.index])
        }
        Body::Department(_)
        | Body::DepartmentKey(_)
        | Body::KeyRevocation(_)
        | Body::LogKey(_)
        | Body::ServiceChangeFiling(_)
        | Body::MaterialsIncomplete(_)
        | Body::MaterialsSupplement(_)
        | Body::Approval(_)
        | Body::Rejection(_)
        | Body::ReplyExtension(_)
        | Body::Delivery(_)
        | Body::DeliveryReceipt(_)
        | Body::CorrectionRequest(_)
        | Body::CorrectionResult(_)
        | Body::UsageRecord(_)
        | Body::Disposal(_)
        | Body::Suspension(_)
        | Body::Termination(_)
        | Body::Consent(_)
        | Body::CatalogUpdateExtension(_)
        | Body::CatalogPublication(_)
        | Body::DisputeResolution(_)
        | Body::ReturnFlow(_) => Ok(vec![]),
    }
}
