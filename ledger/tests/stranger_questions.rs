//! Questions the author of an independent verifier, writing from `specs/`
//! alone, had to ask (issue 6). Each is now answered in the spec; each
//! answer is checked here against the code.

use ledger::attestation::Statement;
use ledger::receipt::Receipt;

const KEY: &str = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=";

fn statement(kind: &str, body: &str) -> String {
    format!(
        r#"{{"version":1,"kind":"{kind}","log":"x.gov.cn/log","signer":{{"department":"gd.gaj","key":"{KEY}"}},"signed_at":1764201600000,"body":{body}}}"#
    )
}

fn application(extra: &str, use_scenario: &str) -> String {
    statement(
        "application",
        &format!(
            r#"{{"case":"c1","item":"rst/x","provider":"gd.rst","data_items":["a"],"legal_basis":"第二十条","use_scenario":"{use_scenario}","scope_of_use":"s","sharing_method":"service_interface","use_until":"2027-12-31","approved_by":"张三","declaration":true{extra}}}"#
        ),
    )
}

fn parses(json: &str) -> bool {
    Statement::parse(json.as_bytes()).is_ok()
}

/// attestation.md §Strict JSON: `-0` is a floating-point zero, not an integer.
#[test]
fn minus_zero_is_refused() {
    let ok = statement(
        "reply_extension",
        r#"{"case":"c1","working_days":1,"reason":"r"}"#,
    );
    assert!(parses(&ok));
    assert!(!parses(
        &ok.replace(r#""working_days":1"#, r#""working_days":-0"#)
    ));
    assert!(!parses(&ok.replace("1764201600000", "-0")));
}

/// attestation.md §Field types: a text holds at least one character that
/// is not Unicode White_Space; the ideographic space and NBSP are white space.
#[test]
fn texts_of_white_space_alone_are_refused() {
    assert!(parses(&application("", "企业信用评价")));
    assert!(parses(&application("", " 信用 ")));
    for blank in [
        "",
        " ",
        "\u{3000}",
        "\u{00A0}",
        "\\t\\n",
        "\u{3000}\u{2003}",
    ] {
        assert!(!parses(&application("", blank)), "{blank:?}");
    }
}

/// attestation.md §Kinds: `other` holds 1 to 32 members, each name a text
/// of at most 128 characters, each value a text.
#[test]
fn the_open_list_other_is_bounded() {
    let members = |n: usize| {
        (0..n)
            .map(|i| format!(r#""项目{i}":"值""#))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert!(parses(&application(
        &format!(r#","other":{{{}}}"#, members(1)),
        "s"
    )));
    assert!(parses(&application(
        &format!(r#","other":{{{}}}"#, members(32)),
        "s"
    )));
    assert!(!parses(&application(r#","other":{}"#, "s")));
    assert!(!parses(&application(
        &format!(r#","other":{{{}}}"#, members(33)),
        "s"
    )));
    let long = "名".repeat(129);
    assert!(!parses(&application(
        &format!(r#","other":{{"{long}":"值"}}"#),
        "s"
    )));
    let fits = "名".repeat(128);
    assert!(parses(&application(
        &format!(r#","other":{{"{fits}":"值"}}"#),
        "s"
    )));
    assert!(!parses(&application(r#","other":{"名":1}"#, "s")));
    assert!(!parses(&application(r#","other":{"名":"\u3000"}"#, "s")));
}

/// attestation.md §Kinds: an empty `consulted` is a valid filing (a service
/// no department uses).
#[test]
fn an_empty_consulted_list_is_valid() {
    let filing = |consulted: &str| {
        statement(
            "service_change_filing",
            &format!(r#"{{"item":"rst/x","change":"stop","reason":"r","consulted":{consulted}}}"#),
        )
    };
    assert!(parses(&filing("[]")));
    assert!(parses(&filing(r#"["gd.gaj"]"#)));
    assert!(!parses(&filing("null")));
}

/// receipt.md: `evidence` is omitted when empty; `[]` and `null` are refused.
#[test]
fn empty_evidence_is_written_by_omission() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/examples/receipt.json"
    ))
    .unwrap();
    let mut receipt: serde_json::Value = serde_json::from_str(&example).unwrap();
    assert!(Receipt::from_json(example.as_bytes()).is_ok());
    for empty in [serde_json::json!([]), serde_json::Value::Null] {
        receipt["evidence"] = empty.clone();
        let text = receipt.to_string();
        assert!(Receipt::from_json(text.as_bytes()).is_err(), "{empty}");
    }
}
