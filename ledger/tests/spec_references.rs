//! Every cross-reference between the spec files (`<file>.md §<Section>`)
//! names a file and a section that exist, so that a reader following one
//! lands where it points.

use std::path::PathBuf;

fn specs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

/// The headings of a spec file, without their `#`s.
fn headings(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim().to_owned())
        .collect()
}

#[test]
fn cross_references_resolve() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for entry in std::fs::read_dir(specs()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices(".md §") {
                let file_start = line[..at]
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .map_or(0, |i| i + 1);
                let file = format!("{}.md", &line[file_start..at]);
                let section = &line[at + ".md §".len()..];
                let target = std::fs::read_to_string(specs().join(&file)).unwrap_or_default();
                // The reference is followed by the section's full name and
                // then by something that is not part of a name.
                let found = headings(&target).iter().any(|h| {
                    section.starts_with(h.as_str())
                        && section[h.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| !c.is_alphanumeric())
                });
                checked += 1;
                if !found {
                    broken.push(format!(
                        "{}:{}: {file} §{section}",
                        path.file_name().unwrap().to_string_lossy(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(checked > 10, "only {checked} references found");
    assert!(
        broken.is_empty(),
        "broken references:\n{}",
        broken.join("\n")
    );
}
