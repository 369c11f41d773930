//! Every relative link in the repository's Markdown resolves.
//!
//! Checks: each `[text](target)` in every `*.md` outside `target/` and `.git`,
//! whose target is not a URL (`http:`, `https:`, `mailto:`) or a pure in-page
//! anchor handled likewise, names a file or directory that exists relative to
//! the `.md` file; and when it carries `#anchor` into a Markdown file (or is
//! `#anchor` alone), that file has a heading with that GitHub slug (lowercase,
//! punctuation other than `-` and `_` dropped, spaces to `-`, `-1`, `-2` ... for
//! repeats). Ignores links inside fenced code blocks and inline code spans, and
//! reference-style links (`[text][ref]`), which the project does not use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The workspace root: `sim/` is this crate's directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sim/ has a parent")
        .to_path_buf()
}

/// Every `*.md` under `dir`, skipping build output, VCS data and hidden folders.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            markdown_files(&p, out);
        } else if name.ends_with(".md") {
            out.push(p);
        }
    }
}

/// The text with fenced code blocks blanked and inline code spans removed, line by line.
fn prose_lines(text: &str) -> Vec<String> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            out.push(String::new());
            continue;
        }
        if in_fence {
            out.push(String::new());
            continue;
        }
        // Drop inline code spans (`...`), which may hold `](` as code.
        let mut kept = String::new();
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
                // Keep a marker so `[`x`](y)` link text stays a link.
                kept.push('x');
            } else if !in_code {
                kept.push(c);
            }
        }
        out.push(kept);
    }
    out
}

/// GitHub's heading anchor: lowercase, keep alphanumerics, `-` and `_`, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c)
            } else if c == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a Markdown file's headings (raw text, code spans included).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let mut s = base.clone();
        let mut n = 0;
        while seen.contains(&s) {
            n += 1;
            s = format!("{base}-{n}");
        }
        seen.insert(s);
    }
    seen
}

/// The targets of inline links `[text](target)` in one line of prose.
fn link_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let target = after[..j].split_whitespace().next().unwrap_or("");
                out.push(target.to_string());
                rest = &after[j..];
            }
            None => break,
        }
    }
    out
}

fn broken_links(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    markdown_files(root, &mut files);
    assert!(
        files.len() >= 5,
        "found only {} .md files under {}",
        files.len(),
        root.display()
    );
    let mut broken = Vec::new();
    let mut links = 0usize;
    for md in &files {
        let text = std::fs::read_to_string(md).expect("read .md");
        for (n, line) in prose_lines(&text).iter().enumerate() {
            for target in link_targets(line) {
                if target.is_empty()
                    || target.starts_with("http://")
                    || target.starts_with("https://")
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                links += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let dest = if path.is_empty() {
                    md.clone()
                } else {
                    md.parent().expect("file has a parent").join(path)
                };
                let at = format!("{}:{}: ({target})", md.display(), n + 1);
                if !dest.exists() {
                    broken.push(format!("{at}: no such file {}", dest.display()));
                    continue;
                }
                if let Some(a) = anchor {
                    if dest.extension().is_some_and(|x| x == "md") {
                        let dest_text = std::fs::read_to_string(&dest).expect("read link target");
                        if !anchors(&dest_text).contains(a) {
                            broken.push(format!("{at}: no heading #{a} in {}", dest.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(links > 0, "no relative link found: the parser is broken");
    broken
}

#[test]
fn slug_follows_github() {
    assert_eq!(
        slug(" Downtime, cost and safety side by side: `report`, `sweep`, `churn`"),
        "downtime-cost-and-safety-side-by-side-report-sweep-churn"
    );
    assert_eq!(
        slug(" Checks of the WAL layer (`invariants/src/wal/`)"),
        "checks-of-the-wal-layer-invariantssrcwal"
    );
}

#[test]
fn every_relative_link_resolves() {
    let broken = broken_links(&root());
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}
