//! The layout rules of the workspace's library crates: no two modules import
//! each other, directly or through others (a parent and its child included),
//! and each crate's module table (the `lib.rs` doc) lists every module and
//! cites specs that exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library crates whose modules are checked.
const CRATES: [&str; 6] = [
    "ledger",
    "notary",
    "verifier",
    "department",
    "cli",
    "witness",
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each module of a crate's library (`a::b` for `src/a/b.rs` or
/// `src/a/b/mod.rs`, `""` for `lib.rs`) and its source, without its unit
/// tests and comments. Binaries (`main.rs`) are not part of the library.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, src, out);
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("main") if parts.len() == 1 => continue,
                Some("mod" | "lib") => {
                    parts.pop();
                }
                _ => {}
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(parts.join("::"), code);
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The modules `module` refers to: by `crate::` and `super::` paths, and
/// its children by `mod` declarations.
fn references(module: &str, code: &str, all: &BTreeMap<String, String>) -> BTreeSet<String> {
    let parts: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    let mut out = BTreeSet::new();
    for prefix in ["crate::", "super::"] {
        for (at, _) in code.match_indices(prefix) {
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let mut path: Vec<&str> = if prefix == "crate::" {
                Vec::new()
            } else {
                parts[..parts.len().saturating_sub(1)].to_vec()
            };
            let rest = &code[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(is_ident(c) || c == ':'))
                .unwrap_or(rest.len());
            path.extend(rest[..end].split("::").filter(|s| !s.is_empty()));
            // The longest prefix of the path that is a module.
            if let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|m| all.contains_key(m))
            {
                out.insert(target);
            }
        }
    }
    for line in code.lines() {
        let line = line.trim().trim_start_matches("pub ");
        if let Some(name) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) {
            let child = parts
                .iter()
                .copied()
                .chain([name])
                .collect::<Vec<_>>()
                .join("::");
            out.insert(child);
        }
    }
    out.remove(module);
    out
}

/// A cycle of the graph, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_another_that_imports_it() {
    for krate in CRATES {
        let all = modules(&workspace().join(krate).join("src"));
        let graph: BTreeMap<String, BTreeSet<String>> = all
            .iter()
            .map(|(m, code)| (m.clone(), references(m, code, &all)))
            .collect();
        if let Some(cycle) = find_cycle(&graph) {
            let shown: Vec<&str> = cycle
                .iter()
                .map(|m| if m.is_empty() { "<lib>" } else { m.as_str() })
                .collect();
            panic!("{krate}: import cycle {}", shown.join(" → "));
        }
    }
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let all: BTreeMap<String, String> = [
        ("".to_owned(), "mod a;\nmod b;".to_owned()),
        ("a".to_owned(), "use crate::b::X;".to_owned()),
        ("b".to_owned(), "use super::a::Y; // crate::c".to_owned()),
    ]
    .into();
    let graph: BTreeMap<String, BTreeSet<String>> = all
        .iter()
        .map(|(m, code)| (m.clone(), references(m, code, &all)))
        .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}

#[test]
fn each_module_table_lists_every_module() {
    for krate in ["ledger", "notary"] {
        let lib = std::fs::read_to_string(workspace().join(krate).join("src/lib.rs")).unwrap();
        let table: String = lib
            .lines()
            .filter(|l| l.starts_with("//! |"))
            .collect::<Vec<_>>()
            .join("\n");
        // The spec column names spec files that exist.
        for row in table.lines() {
            for word in row.split(|c: char| c == '|' || c == ',' || c.is_whitespace()) {
                if let Some(file) = word.strip_suffix(".md") {
                    assert!(
                        workspace()
                            .join("specs")
                            .join(format!("{file}.md"))
                            .is_file(),
                        "{krate}/src/lib.rs cites specs/{file}.md, which does not exist"
                    );
                }
            }
        }
        for line in lib.lines() {
            let Some(name) = line
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|l| l.strip_suffix(';'))
            else {
                continue;
            };
            assert!(
                table.contains(&format!("[`{name}`]")) || table.contains(&format!("`{name}`")),
                "{krate}/src/lib.rs: module {name} is not in the module table"
            );
        }
    }
}
