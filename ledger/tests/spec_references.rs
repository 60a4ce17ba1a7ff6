//! Every cross-reference between the spec files (`<file>.md §<Section>`),
//! and every citation of a spec in the code and the docs (`specs/<file>.md`,
//! `<file>.md §<Section>`), names a file and a section that exist, so that a
//! reader following one lands where it points.

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

/// The `<file>.md §<Section>` references of `line` that do not resolve to
/// a spec file and one of its headings, and how many were checked. A
/// section name may go on in `next`, the text of the next line.
fn broken_sections(line: &str, next: &str) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut broken = Vec::new();
    for (at, _) in line.match_indices(".md §") {
        let file_start = line[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(0, |i| i + 1);
        let file = format!("{}.md", &line[file_start..at]);
        let section = format!("{} {next}", &line[at + ".md §".len()..]);
        let section = section.as_str();
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
            broken.push(format!("{file} §{section}"));
        }
    }
    (checked, broken)
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
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let next = lines.get(n + 1).copied().unwrap_or_default();
            let (c, b) = broken_sections(line, next);
            checked += c;
            for b in b {
                broken.push(format!(
                    "{}:{}: {b}",
                    path.file_name().unwrap().to_string_lossy(),
                    n + 1
                ));
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

/// Source and documentation files of the workspace, outside build output.
fn workspace_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "specs" {
                workspace_files(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".md") {
            out.push(path);
        }
    }
}

#[test]
fn code_and_docs_cite_specs_that_exist() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    workspace_files(&root, &mut files);
    let mut checked = 0;
    let mut broken = Vec::new();
    for path in files {
        if path.ends_with(file!().rsplit('/').next().unwrap()) {
            continue; // this file writes the patterns themselves
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let shown = path.strip_prefix(&root).unwrap().display().to_string();
        // Comment markers dropped, so that a section name wrapped onto the
        // next comment line reads on.
        let lines: Vec<&str> = text
            .lines()
            .map(|l| {
                l.trim_start()
                    .trim_start_matches(['/', '!', '*'])
                    .trim_start()
            })
            .collect();
        for (n, line) in lines.iter().enumerate() {
            let next = lines.get(n + 1).copied().unwrap_or_default();
            for (at, _) in line.match_indices("specs/") {
                let rest = &line[at + "specs/".len()..];
                let Some(end) = rest.find(".md") else {
                    continue;
                };
                let file = &rest[..end];
                if file.is_empty()
                    || !file
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    continue;
                }
                checked += 1;
                if !specs().join(format!("{file}.md")).is_file() {
                    broken.push(format!("{shown}:{}: specs/{file}.md does not exist", n + 1));
                }
            }
            // Sections of files that are specs (a `README.md §` of the
            // repository's README is not one of them).
            if line.contains("specs/") || !line.contains("README.md §") {
                let (c, b) = broken_sections(line, next);
                checked += c;
                broken.extend(b.into_iter().map(|b| format!("{shown}:{}: {b}", n + 1)));
            }
        }
    }
    assert!(checked > 30, "only {checked} citations found");
    assert!(
        broken.is_empty(),
        "citations of specs that do not exist:\n{}",
        broken.join("\n")
    );
}
