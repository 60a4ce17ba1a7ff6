//! The rules of specs/lifecycle.md §Rules and §Evidence, decided on an
//! in-memory registry (no store, no signatures: [`decide`] judges who signed
//! what, the signature rule is tested elsewhere). Every refusal code of the
//! spec is produced here, and checked against the status table of
//! specs/api.md.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use ledger::attestation::{Kind, PublicKey, Statement};
use ledger::lifecycle::{
    decide, DecideError, ImmediateFinding, Refusal, RefusalClass, MAX_SIGNED_AHEAD_MS,
    MAX_SIGNED_BEFORE_MS,
};
use ledger::note::NoteSigner;
use ledger::policy::Policy;
use ledger::registry::{KeyRecord, Overlay, RegistryView, TrustRoots};

const ORIGIN: &str = "rules.example.gov.cn/share-audit/2026";
const ROOT: &str = "gd.zsj.root";
const ROOT_KEY: u8 = 0x22;
/// The notarised time of every entry here.
const T: u64 = 1_764_201_600_000;
const HOUR: u64 = 3_600_000;

fn public_key(byte: u8) -> String {
    BASE64.encode(
        SigningKey::from_bytes(&[byte; 32])
            .verifying_key()
            .as_bytes(),
    )
}

/// An in-memory registry and the next index: entries are decided and, if
/// accepted, their changes applied, as the append path does.
struct Registry {
    view: Overlay<TrustRoots>,
    next: u64,
    /// Indexes of accepted entries, by a name given in the test.
    at: BTreeMap<&'static str, u64>,
}

struct Draft {
    log: String,
    department: String,
    key: u8,
    signed_at: u64,
    kind: &'static str,
    body: String,
}

impl Draft {
    fn statement(&self) -> Statement {
        let json = format!(
            r#"{{"version":1,"kind":"{}","log":"{}","signer":{{"department":"{}","key":"{}"}},"signed_at":{},"body":{}}}"#,
            self.kind,
            self.log,
            self.department,
            public_key(self.key),
            self.signed_at,
            self.body
        );
        Statement::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
    }
}

fn draft(department: &str, key: u8, kind: &'static str, body: &str) -> Draft {
    Draft {
        log: ORIGIN.into(),
        department: department.into(),
        key,
        signed_at: T,
        kind,
        body: body.into(),
    }
}

fn root(kind: &'static str, body: &str) -> Draft {
    draft(ROOT, ROOT_KEY, kind, body)
}

fn department(id: &str, roles: &str) -> Draft {
    root(
        "department",
        &format!(r#"{{"id":"{id}","name":"部门","roles":{roles},"jurisdiction":"广东省"}}"#),
    )
}

fn department_key(id: &str, key: u8, window: &str) -> Draft {
    root(
        "department_key",
        &format!(
            r#"{{"department":"{id}","key":"{}"{window}}}"#,
            public_key(key)
        ),
    )
}

fn revocation(id: &str, key: u8) -> Draft {
    root(
        "key_revocation",
        &format!(
            r#"{{"department":"{id}","key":"{}","reason":"泄露"}}"#,
            public_key(key)
        ),
    )
}

fn catalog(item: &str) -> String {
    format!(
        r#"{{"item":"{item}","name":"n","data_items":["a"],"format":"JSON","update_frequency":"每日","share_attribute":"unconditional","sharing_method":"service_interface","classification":"二级"}}"#
    )
}

fn application(case: &str, item: &str, provider: &str) -> String {
    format!(
        r#"{{"case":"{case}","item":"{item}","provider":"{provider}","data_items":["a"],"legal_basis":"第二十条","use_scenario":"s","scope_of_use":"s","sharing_method":"service_interface","use_until":"2027-12-31","approved_by":"张三","declaration":true}}"#
    )
}

fn case(case: &str) -> String {
    format!(r#"{{"case":"{case}"}}"#)
}

fn reason(case: &str) -> String {
    format!(r#"{{"case":"{case}","reason":"r"}}"#)
}

impl Registry {
    fn new() -> Registry {
        let log = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[0x11; 32])).unwrap();
        let root = NoteSigner::new(ROOT, SigningKey::from_bytes(&[ROOT_KEY; 32])).unwrap();
        let policy = Policy::parse(&format!(
            "log {}\nroot {}\n",
            log.verifier().encode(),
            root.verifier().encode()
        ))
        .unwrap();
        Registry {
            view: Overlay::new(policy.trust_roots()),
            next: 0,
            at: BTreeMap::new(),
        }
    }

    /// Decides on the draft as entry `next`; applies it if accepted and
    /// returns its evidence.
    fn submit(&mut self, draft: &Draft) -> Result<Vec<u64>, Refusal> {
        match decide(&self.view, &draft.statement(), T, self.next) {
            Ok(decision) => {
                for change in decision.changes {
                    self.view.apply(change);
                }
                self.next += 1;
                Ok(decision.evidence)
            }
            Err(DecideError::Refused(r)) => Err(r),
            Err(DecideError::View(never)) => match never {},
        }
    }

    /// Submits a draft that must be accepted, naming its entry.
    fn accept(&mut self, name: &'static str, draft: &Draft) -> Vec<u64> {
        let index = self.next;
        let evidence = self
            .submit(draft)
            .unwrap_or_else(|r| panic!("{name} refused: {r}"));
        self.at.insert(name, index);
        evidence
    }

    fn at(&self, name: &str) -> u64 {
        self.at[name]
    }

    /// The world every refusal below is tried against:
    ///
    /// - `gd.rst` (provider, key 0x31) publishes item `rst/x`;
    /// - `gd.gaj` (requester, key 0x32) opens case `c1` for it;
    /// - `gd.zsj` (supervisor, key 0x33);
    /// - `gd.both` (provider and requester, key 0x34) publishes `both/y`;
    /// - `gd.old` (requester) whose key 0x35 is revoked;
    /// - `gd.late` (requester) whose key 0x36 is valid from T + 1 h;
    /// - `gd.gone` (requester) whose key 0x37 expired at T − 1 h;
    /// - `gd.dead` (requester) whose key 0x38 expired and was revoked.
    fn world() -> Registry {
        let mut r = Registry::new();
        for (name, id, roles, key) in [
            ("rst", "gd.rst", r#"["provider"]"#, 0x31),
            ("gaj", "gd.gaj", r#"["requester"]"#, 0x32),
            ("zsj", "gd.zsj", r#"["supervisor"]"#, 0x33),
            ("both", "gd.both", r#"["provider","requester"]"#, 0x34),
            ("old", "gd.old", r#"["requester"]"#, 0x35),
        ] {
            let evidence = r.accept(name, &department(id, roles));
            assert_eq!(evidence, Vec::<u64>::new(), "a department cites nothing");
            let evidence = r.accept("key", &department_key(id, key, ""));
            assert_eq!(evidence, vec![r.at(name)], "a key cites its department");
        }
        let key_of_old = r.at("key");
        r.accept("late", &department("gd.late", r#"["requester"]"#));
        r.accept(
            "late key",
            &department_key("gd.late", 0x36, &format!(r#","valid_from":{}"#, T + HOUR)),
        );
        r.accept("gone", &department("gd.gone", r#"["requester"]"#));
        r.accept(
            "gone key",
            &department_key(
                "gd.gone",
                0x37,
                &format!(
                    r#","valid_from":{},"valid_until":{}"#,
                    T - 2 * HOUR,
                    T - HOUR
                ),
            ),
        );
        let evidence = r.accept("revocation", &revocation("gd.old", 0x35));
        assert_eq!(evidence, vec![key_of_old], "a revocation cites the key");
        r.accept("dead", &department("gd.dead", r#"["requester"]"#));
        r.accept(
            "dead key",
            &department_key(
                "gd.dead",
                0x38,
                &format!(
                    r#","valid_from":{},"valid_until":{}"#,
                    T - 2 * HOUR,
                    T - HOUR
                ),
            ),
        );
        r.accept("dead revocation", &revocation("gd.dead", 0x38));
        r
    }
}

/// `(department, key)` of the world's departments.
const RST: (&str, u8) = ("gd.rst", 0x31);
const GAJ: (&str, u8) = ("gd.gaj", 0x32);
const ZSJ: (&str, u8) = ("gd.zsj", 0x33);
const BOTH: (&str, u8) = ("gd.both", 0x34);
const SUP2: (&str, u8) = ("gd.sup2", 0x3a);

fn by((department, key): (&str, u8), kind: &'static str, body: &str) -> Draft {
    draft(department, key, kind, body)
}

/// The world with `rst/x` published, `both/y` published and case `c1` open.
fn world_with_case() -> Registry {
    let mut r = Registry::world();
    let evidence = r.accept("item", &by(RST, "catalog_entry", &catalog("rst/x")));
    assert_eq!(evidence, vec![r.at("rst"), r.at("rst") + 1]);
    r.accept("item y", &by(BOTH, "catalog_entry", &catalog("both/y")));
    let evidence = r.accept(
        "case",
        &by(GAJ, "application", &application("c1", "rst/x", "gd.rst")),
    );
    assert_eq!(
        evidence,
        vec![r.at("gaj"), r.at("gaj") + 1, r.at("item")],
        "an application cites the signer's department and key, then the item"
    );
    r
}

#[test]
fn every_kind_is_accepted_from_its_permitted_signer_with_its_evidence() {
    let mut r = world_with_case();
    let signer = |r: &Registry, name: &str| vec![r.at(name), r.at(name) + 1];
    let provider_step = [signer(&r, "rst"), vec![r.at("case")]].concat();
    let requester_step = [signer(&r, "gaj"), vec![r.at("case")]].concat();
    let digest = format!("sha256:{}", "0".repeat(64));
    let steps: Vec<(Draft, Vec<u64>)> = vec![
        (
            by(
                RST,
                "service_change_filing",
                r#"{"item":"rst/x","change":"change","reason":"r","consulted":["gd.gaj"]}"#,
            ),
            [signer(&r, "rst"), vec![r.at("item")]].concat(),
        ),
        (
            by(
                RST,
                "materials_incomplete",
                r#"{"case":"c1","missing":["m"]}"#,
            ),
            provider_step.clone(),
        ),
        (
            by(
                GAJ,
                "materials_supplement",
                r#"{"case":"c1","supplied":["m"]}"#,
            ),
            requester_step.clone(),
        ),
        (by(RST, "approval", &case("c1")), provider_step.clone()),
        (
            by(RST, "rejection", r#"{"case":"c1","reasons":["r"]}"#),
            provider_step.clone(),
        ),
        (
            by(
                ZSJ,
                "reply_extension",
                r#"{"case":"c1","working_days":5,"reason":"r"}"#,
            ),
            [signer(&r, "zsj"), vec![r.at("case")]].concat(),
        ),
        (
            by(
                RST,
                "delivery",
                &format!(r#"{{"case":"c1","method":"batch_exchange","data_digest":"{digest}"}}"#),
            ),
            provider_step.clone(),
        ),
        (
            by(
                GAJ,
                "delivery_receipt",
                &format!(r#"{{"case":"c1","data_digest":"{digest}"}}"#),
            ),
            requester_step.clone(),
        ),
        (
            by(
                GAJ,
                "correction_request",
                r#"{"case":"c1","request":"q1","problems":["p"]}"#,
            ),
            requester_step.clone(),
        ),
        (
            by(
                RST,
                "correction_result",
                r#"{"case":"c1","request":"q1","outcome":"corrected","description":"d"}"#,
            ),
            provider_step.clone(),
        ),
        (
            by(
                GAJ,
                "usage_record",
                r#"{"case":"c1","use_scenario":"s","use_process":"p","outcome":"o","storage_status":"s","destruction_status":"d"}"#,
            ),
            requester_step.clone(),
        ),
        (
            by(
                GAJ,
                "disposal",
                r#"{"case":"c1","method":"deleted","description":"d"}"#,
            ),
            requester_step.clone(),
        ),
        (
            by(
                RST,
                "consent",
                r#"{"case":"c1","scope":"wider_use","description":"d"}"#,
            ),
            provider_step.clone(),
        ),
        (by(RST, "suspension", &reason("c1")), provider_step.clone()),
        (
            by(ZSJ, "suspension", &reason("c1")),
            [signer(&r, "zsj"), vec![r.at("case")]].concat(),
        ),
        (by(RST, "termination", &reason("c1")), provider_step.clone()),
        (
            by(ZSJ, "termination", &reason("c1")),
            [signer(&r, "zsj"), vec![r.at("case")]].concat(),
        ),
    ];
    let mut kinds: BTreeSet<&str> = [
        "department",
        "department_key",
        "key_revocation",
        "catalog_entry",
        "application",
    ]
    .into();
    for (step, evidence) in steps {
        kinds.insert(step.kind);
        assert_eq!(r.submit(&step), Ok(evidence), "{}", step.kind);
    }
    // The matters with a clock of their own (Art. 17, 24, 28): each opened,
    // then its steps cite the entry that opened it.
    let zsj = signer(&r, "zsj");
    let evidence = r.accept(
        "notice",
        &by(
            ZSJ,
            "catalog_change_notice",
            r#"{"change":"ch1","provider":"gd.rst","items":["rst/x"],"basis":"法律修订"}"#,
        ),
    );
    // The named provider's registration is evidence too: the offline
    // verifier checks the rule from the evidence alone.
    assert_eq!(evidence, [zsj.clone(), vec![r.at("rst")]].concat());
    let notice = vec![r.at("notice")];
    r.accept("sup2", &department("gd.sup2", r#"["supervisor"]"#));
    r.accept("sup2 key", &department_key("gd.sup2", 0x3a, ""));
    let evidence = r.accept(
        "dispute",
        &by(
            GAJ,
            "dispute",
            r#"{"dispute":"d1","with":"gd.rst","supervisor":"gd.zsj","subject":"s"}"#,
        ),
    );
    assert_eq!(
        evidence,
        [signer(&r, "gaj"), vec![r.at("rst"), r.at("zsj")]].concat()
    );
    let dispute = vec![r.at("dispute")];
    let evidence = r.accept(
        "request",
        &by(
            GAJ,
            "return_flow_request",
            r#"{"request":"rf1","to":"gd.rst","data_items":["a"],"region":"广州市"}"#,
        ),
    );
    assert_eq!(evidence, [signer(&r, "gaj"), vec![r.at("rst")]].concat());
    let request = vec![r.at("request")];
    // The escalation below is the fourth step from here.
    let escalation = r.next + 3;
    let mut answering_change = catalog("rst/x");
    answering_change.insert_str(answering_change.len() - 1, r#","change":"ch1""#);
    let steps: Vec<(Draft, Vec<u64>)> = vec![
        (
            by(
                ZSJ,
                "catalog_update_extension",
                r#"{"change":"ch1","working_days":3,"reason":"r"}"#,
            ),
            [zsj.clone(), notice.clone()].concat(),
        ),
        (
            by(RST, "catalog_entry", &answering_change),
            [signer(&r, "rst"), notice.clone()].concat(),
        ),
        (
            by(
                ZSJ,
                "catalog_publication",
                r#"{"change":"ch1","items":["rst/x"]}"#,
            ),
            [zsj.clone(), notice].concat(),
        ),
        (
            by(
                ZSJ,
                "dispute_escalation",
                r#"{"dispute":"d1","to":"gd.sup2","reason":"r"}"#,
            ),
            [zsj.clone(), dispute.clone(), vec![r.at("sup2")]].concat(),
        ),
        (
            // The dispute is now with gd.sup2: its entry and the escalation
            // that brought it there are the evidence.
            by(
                SUP2,
                "dispute_resolution",
                r#"{"dispute":"d1","outcome":"o"}"#,
            ),
            [signer(&r, "sup2"), dispute, vec![escalation]].concat(),
        ),
        (
            by(
                RST,
                "return_flow",
                &format!(r#"{{"request":"rf1","data_digest":"{digest}"}}"#),
            ),
            [signer(&r, "rst"), request].concat(),
        ),
    ];
    kinds.extend(["catalog_change_notice", "dispute", "return_flow_request"]);
    for (step, evidence) in steps {
        kinds.insert(step.kind);
        assert_eq!(r.submit(&step), Ok(evidence), "{}", step.kind);
    }
    // The notary's next checkpoint key: a registry entry that cites nothing.
    let log_key = root("log_key", &format!(r#"{{"key":"{}"}}"#, public_key(0x4f)));
    assert_eq!(r.submit(&log_key), Ok(vec![]));
    kinds.insert("log_key");
    // A department re-registered: its roles are replaced.
    r.accept("rst again", &department("gd.rst", r#"["requester"]"#));
    assert_eq!(
        r.submit(&by(RST, "catalog_entry", &catalog("rst/z")))
            .unwrap_err()
            .code(),
        "missing_role"
    );
    assert_eq!(kinds.len(), Kind::ALL.len(), "every kind was decided");
}

/// Every refusal of specs/lifecycle.md; where an entry breaks several rules,
/// the first in the spec's order.
fn refusals() -> Vec<(&'static str, Refusal)> {
    let mut r = world_with_case();
    let mut out = Vec::new();
    let mut refuse = |r: &mut Registry, code: &'static str, draft: Draft| {
        let before = r.next;
        let refusal = r
            .submit(&draft)
            .expect_err(&format!("{code}: {} was accepted", draft.kind));
        assert_eq!(refusal.code(), code, "{refusal}");
        assert_eq!(r.next, before, "a refusal appends nothing");
        out.push((code, refusal));
    };
    let other_log = Draft {
        log: "other.example.gov.cn/share-audit/2026".into(),
        ..by(RST, "approval", &case("c1"))
    };
    refuse(&mut r, "wrong_log", other_log);
    let ahead = Draft {
        signed_at: T + MAX_SIGNED_AHEAD_MS + 1,
        ..by(RST, "approval", &case("c1"))
    };
    refuse(&mut r, "signed_at_out_of_range", ahead);
    let stale = Draft {
        signed_at: T - MAX_SIGNED_BEFORE_MS - 1,
        ..root(
            "department",
            r#"{"id":"gd.x","name":"n","roles":["requester"],"jurisdiction":"j"}"#,
        )
    };
    refuse(&mut r, "signed_at_out_of_range", stale);
    // The window's edges are inside it.
    for signed_at in [T + MAX_SIGNED_AHEAD_MS, T - MAX_SIGNED_BEFORE_MS] {
        let edge = Draft {
            signed_at,
            ..by(RST, "approval", &case("c1"))
        };
        assert!(r.submit(&edge).is_ok());
    }

    // Registry kinds.
    refuse(
        &mut r,
        "not_root",
        by(
            RST,
            "department",
            r#"{"id":"gd.x","name":"n","roles":["requester"],"jurisdiction":"j"}"#,
        ),
    );
    let root_key_other_name = draft(
        "gd.rst",
        ROOT_KEY,
        "department",
        r#"{"id":"gd.x","name":"n","roles":["requester"],"jurisdiction":"j"}"#,
    );
    refuse(&mut r, "not_root", root_key_other_name);
    refuse(
        &mut r,
        "reserved_for_root",
        department(ROOT, r#"["supervisor"]"#),
    );
    refuse(
        &mut r,
        "unknown_department",
        department_key("gd.nobody", 0x40, ""),
    );
    let identity = BASE64.encode({
        let mut k = [0u8; 32];
        k[0] = 1; // y = 1: the identity point, of small order
        k
    });
    refuse(
        &mut r,
        "weak_key",
        root(
            "department_key",
            &format!(r#"{{"department":"gd.rst","key":"{identity}"}}"#),
        ),
    );
    refuse(
        &mut r,
        "reserved_for_root",
        department_key("gd.rst", ROOT_KEY, ""),
    );
    refuse(
        &mut r,
        "key_already_registered",
        department_key("gd.rst", 0x32, ""),
    );
    refuse(
        &mut r,
        "empty_validity_window",
        department_key(
            "gd.rst",
            0x41,
            &format!(r#","valid_from":{T},"valid_until":{T}"#),
        ),
    );
    refuse(
        &mut r,
        "empty_validity_window",
        department_key("gd.rst", 0x41, &format!(r#","valid_until":{}"#, T - 1)),
    );
    refuse(&mut r, "unknown_key", revocation("gd.rst", 0x41));
    refuse(
        &mut r,
        "key_of_other_department",
        revocation("gd.rst", 0x32),
    );
    refuse(&mut r, "key_already_revoked", revocation("gd.old", 0x35));
    refuse(
        &mut r,
        "compromise_in_future",
        root(
            "key_revocation",
            &format!(
                r#"{{"department":"gd.rst","key":"{}","reason":"泄露","compromised_since":{}}}"#,
                public_key(RST.1),
                T + 1
            ),
        ),
    );

    // Who signs.
    refuse(
        &mut r,
        "root_signs_only_registry",
        root("approval", &case("c1")),
    );
    refuse(
        &mut r,
        "root_signs_only_registry",
        draft("gd.rst", ROOT_KEY, "approval", &case("c1")),
    );
    refuse(
        &mut r,
        "unknown_department",
        draft("gd.nobody", 0x31, "approval", &case("c1")),
    );
    refuse(
        &mut r,
        "unknown_key",
        draft("gd.rst", 0x42, "approval", &case("c1")),
    );
    refuse(
        &mut r,
        "key_of_other_department",
        draft("gd.rst", 0x32, "approval", &case("c1")),
    );
    refuse(
        &mut r,
        "key_revoked",
        draft(
            "gd.old",
            0x35,
            "application",
            &application("c9", "rst/x", "gd.rst"),
        ),
    );
    refuse(
        &mut r,
        "key_not_yet_valid",
        draft(
            "gd.late",
            0x36,
            "application",
            &application("c9", "rst/x", "gd.rst"),
        ),
    );
    refuse(
        &mut r,
        "key_expired",
        draft(
            "gd.gone",
            0x37,
            "application",
            &application("c9", "rst/x", "gd.rst"),
        ),
    );

    // What they sign.
    refuse(
        &mut r,
        "missing_role",
        by(GAJ, "catalog_entry", &catalog("gaj/x")),
    );
    refuse(
        &mut r,
        "item_of_other_provider",
        by(BOTH, "catalog_entry", &catalog("rst/x")),
    );
    refuse(
        &mut r,
        "unknown_catalog_item",
        by(
            RST,
            "service_change_filing",
            r#"{"item":"rst/none","change":"stop","reason":"r","consulted":[]}"#,
        ),
    );
    refuse(
        &mut r,
        "item_of_other_provider",
        by(
            BOTH,
            "service_change_filing",
            r#"{"item":"rst/x","change":"stop","reason":"r","consulted":[]}"#,
        ),
    );
    refuse(
        &mut r,
        "missing_role",
        by(RST, "application", &application("c9", "both/y", "gd.both")),
    );
    refuse(
        &mut r,
        "case_exists",
        by(GAJ, "application", &application("c1", "rst/x", "gd.rst")),
    );
    refuse(
        &mut r,
        "unknown_catalog_item",
        by(GAJ, "application", &application("c9", "rst/none", "gd.rst")),
    );
    refuse(
        &mut r,
        "item_of_other_provider",
        by(GAJ, "application", &application("c9", "rst/x", "gd.both")),
    );
    refuse(
        &mut r,
        "self_application",
        by(BOTH, "application", &application("c9", "both/y", "gd.both")),
    );
    refuse(&mut r, "unknown_case", by(RST, "approval", &case("c9")));
    // The case must exist before its signer is judged.
    refuse(
        &mut r,
        "unknown_case",
        by(
            GAJ,
            "reply_extension",
            r#"{"case":"c9","working_days":5,"reason":"r"}"#,
        ),
    );
    refuse(&mut r, "not_case_party", by(BOTH, "approval", &case("c1")));
    refuse(
        &mut r,
        "not_case_party",
        by(
            RST,
            "usage_record",
            r#"{"case":"c1","use_scenario":"s","use_process":"p","outcome":"o","storage_status":"s","destruction_status":"d"}"#,
        ),
    );
    refuse(
        &mut r,
        "not_case_party",
        by(GAJ, "suspension", &reason("c1")),
    );
    refuse(
        &mut r,
        "missing_role",
        by(
            RST,
            "reply_extension",
            r#"{"case":"c1","working_days":5,"reason":"r"}"#,
        ),
    );
    // Catalog changes, disputes and return flows.
    refuse(
        &mut r,
        "missing_role",
        by(
            GAJ,
            "catalog_change_notice",
            r#"{"change":"ch9","provider":"gd.rst","items":[],"basis":"b"}"#,
        ),
    );
    refuse(
        &mut r,
        "missing_role",
        by(
            ZSJ,
            "catalog_change_notice",
            r#"{"change":"ch9","provider":"gd.gaj","items":[],"basis":"b"}"#,
        ),
    );
    refuse(
        &mut r,
        "unknown_department",
        by(
            ZSJ,
            "catalog_change_notice",
            r#"{"change":"ch9","provider":"gd.none","items":[],"basis":"b"}"#,
        ),
    );
    r.accept(
        "notice",
        &by(
            ZSJ,
            "catalog_change_notice",
            r#"{"change":"ch1","provider":"gd.rst","items":[],"basis":"b"}"#,
        ),
    );
    refuse(
        &mut r,
        "change_exists",
        by(
            ZSJ,
            "catalog_change_notice",
            r#"{"change":"ch1","provider":"gd.rst","items":[],"basis":"b"}"#,
        ),
    );
    refuse(
        &mut r,
        "unknown_change",
        by(ZSJ, "catalog_publication", r#"{"change":"ch9","items":[]}"#),
    );
    refuse(
        &mut r,
        "missing_role",
        by(
            RST,
            "catalog_update_extension",
            r#"{"change":"ch1","working_days":2,"reason":"r"}"#,
        ),
    );
    let mut wrong_change = catalog("both/z");
    wrong_change.insert_str(wrong_change.len() - 1, r#","change":"ch1""#);
    refuse(
        &mut r,
        "not_change_provider",
        by(BOTH, "catalog_entry", &wrong_change),
    );
    let mut no_change = catalog("rst/z");
    no_change.insert_str(no_change.len() - 1, r#","change":"ch9""#);
    refuse(
        &mut r,
        "unknown_change",
        by(RST, "catalog_entry", &no_change),
    );
    refuse(
        &mut r,
        "missing_role",
        by(
            GAJ,
            "dispute",
            r#"{"dispute":"d1","with":"gd.rst","supervisor":"gd.both","subject":"s"}"#,
        ),
    );
    r.accept(
        "dispute",
        &by(
            GAJ,
            "dispute",
            r#"{"dispute":"d1","with":"gd.rst","supervisor":"gd.zsj","subject":"s"}"#,
        ),
    );
    refuse(
        &mut r,
        "dispute_exists",
        by(
            RST,
            "dispute",
            r#"{"dispute":"d1","with":"gd.gaj","supervisor":"gd.zsj","subject":"s"}"#,
        ),
    );
    refuse(
        &mut r,
        "unknown_dispute",
        by(
            ZSJ,
            "dispute_resolution",
            r#"{"dispute":"d9","outcome":"o"}"#,
        ),
    );
    refuse(
        &mut r,
        "not_dispute_handler",
        by(
            BOTH,
            "dispute_resolution",
            r#"{"dispute":"d1","outcome":"o"}"#,
        ),
    );
    refuse(
        &mut r,
        "escalation_to_self",
        by(
            ZSJ,
            "dispute_escalation",
            r#"{"dispute":"d1","to":"gd.zsj","reason":"r"}"#,
        ),
    );
    r.accept(
        "request",
        &by(
            GAJ,
            "return_flow_request",
            r#"{"request":"rf1","to":"gd.rst","data_items":["a"],"region":"r"}"#,
        ),
    );
    refuse(
        &mut r,
        "request_exists",
        by(
            GAJ,
            "return_flow_request",
            r#"{"request":"rf1","to":"gd.rst","data_items":["a"],"region":"r"}"#,
        ),
    );
    let digest = format!("sha256:{}", "0".repeat(64));
    refuse(
        &mut r,
        "unknown_request",
        by(
            RST,
            "return_flow",
            &format!(r#"{{"request":"rf9","data_digest":"{digest}"}}"#),
        ),
    );
    refuse(
        &mut r,
        "not_request_recipient",
        by(
            BOTH,
            "return_flow",
            &format!(r#"{{"request":"rf1","data_digest":"{digest}"}}"#),
        ),
    );
    // An auditor reads and signs nothing, whatever other role it has.
    r.accept(
        "audit",
        &department("gd.audit", r#"["auditor","provider"]"#),
    );
    r.accept("audit key", &department_key("gd.audit", 0x39, ""));
    refuse(
        &mut r,
        "auditor_signs_nothing",
        by(("gd.audit", 0x39), "catalog_entry", &catalog("audit/x")),
    );
    out
}

#[test]
fn every_refusal_code_of_the_spec_is_decided() {
    let decided: BTreeSet<&str> = refusals().iter().map(|(code, _)| *code).collect();
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/lifecycle.md"
    ))
    .unwrap();
    let rules = &spec[spec.find("## Rules").unwrap()..spec.find("## Evidence").unwrap()];
    // Codes are written in parentheses after their rule, as are the
    // registry kinds' names once.
    let codes: BTreeSet<&str> = rules
        .split('(')
        .skip(1)
        .filter_map(|s| s.split(')').next())
        .flat_map(|group| group.split('`').skip(1).step_by(2))
        .filter(|w| Kind::from_name(w).is_none())
        .collect();
    assert_eq!(
        decided, codes,
        "codes decided here vs codes of lifecycle.md §Rules"
    );
}

#[test]
fn each_refusal_has_the_status_of_specs_api() {
    let api =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/api.md")).unwrap();
    let row = |status: &str| -> BTreeSet<String> {
        let line = api
            .lines()
            .find(|l| l.starts_with(&format!("| {status} |")))
            .unwrap_or_else(|| panic!("api.md has no {status} row"));
        line.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let rows = [
        (RefusalClass::Forbidden, row("403")),
        (RefusalClass::Conflict, row("409")),
        (RefusalClass::Unprocessable, row("422")),
    ];
    let mut listed = BTreeSet::new();
    for (code, refusal) in refusals() {
        for (class, codes) in &rows {
            assert_eq!(
                codes.contains(code),
                refusal.class() == *class,
                "{code} is {:?}; api.md disagrees",
                refusal.class()
            );
        }
        listed.insert(code.to_owned());
    }
    let all: BTreeSet<String> = rows.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
    assert_eq!(
        all, listed,
        "api.md's 403/409/422 rows list exactly the refusal codes"
    );
}

#[test]
fn a_revoked_key_signs_nothing_from_the_next_entry_on() {
    let mut r = world_with_case();
    r.accept("revoke rst", &revocation("gd.rst", 0x31));
    let refusal = r.submit(&by(RST, "approval", &case("c1"))).unwrap_err();
    assert_eq!(
        refusal,
        Refusal::KeyRevoked("gd.rst".to_owned().try_into().unwrap(), r.at("revoke rst"))
    );
    // A new key registered for the department signs again.
    r.accept("new key", &department_key("gd.rst", 0x43, ""));
    assert!(r
        .submit(&draft("gd.rst", 0x43, "approval", &case("c1")))
        .is_ok());
    let old_key = PublicKey(
        SigningKey::from_bytes(&[0x31; 32])
            .verifying_key()
            .to_bytes(),
    );
    let record = r.view.get::<KeyRecord>(&old_key).unwrap().unwrap();
    assert_eq!(
        record.revoked.map(|rev| (rev.index, rev.time)),
        Some((r.at("revoke rst"), T))
    );
}

#[test]
fn a_second_reply_is_appended_and_found_at_once() {
    let mut r = world_with_case();
    let decide_now =
        |r: &Registry, draft: &Draft| decide(&r.view, &draft.statement(), T, r.next).unwrap();
    let approval = by(RST, "approval", &case("c1"));
    assert_eq!(decide_now(&r, &approval).findings, vec![]);
    r.accept("approval", &approval);
    for second in [
        by(RST, "rejection", r#"{"case":"c1","reasons":["r"]}"#),
        by(
            RST,
            "materials_incomplete",
            r#"{"case":"c1","missing":["m"]}"#,
        ),
        by(RST, "approval", r#"{"case":"c1","conditions":["x"]}"#),
    ] {
        let decision = decide_now(&r, &second);
        assert_eq!(
            decision.findings,
            vec![ImmediateFinding::SecondReply {
                first: r.at("approval")
            }],
            "{}",
            second.kind
        );
        assert_eq!(decision.findings[0].code(), "second_reply");
    }
}
