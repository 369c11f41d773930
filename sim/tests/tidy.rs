//! Tidy: bans sources of nondeterminism from the cores and the run path — std
//! `HashMap`/`HashSet` (randomly seeded iteration), wall clocks, unseeded randomness and
//! threads. The CLI, the seed runner and the progress display may read the clock (to
//! report speed, to pace progress lines) and use threads (to run whole seeds in
//! parallel, to print progress); nothing else may.
//!
//! And keeps the simulator's house in order: the model (`sim/model`, what a run is)
//! never uses the tools (`sim/src`, the commands and their outputs), the madsim tier
//! (`sim/madsim`) depends on the model only, and no modules of either import each other
//! in a circle. Modules are files; an import is a `crate::NAME` (or `zkwal_model::NAME`)
//! path in code (comments are not read; a tool's `crate::NAME` that names a model
//! module re-exported by `sim/src/lib.rs` is the model's module).

use std::path::{Path, PathBuf};

const BANNED: [&str; 9] = [
    "HashMap",
    "HashSet",
    "Instant::now",
    "SystemTime",
    "thread_rng",
    "rand::random",
    "std::thread",
    "thread::spawn",
    "from_entropy",
];

/// Files allowed to use threads and the clock: they are outside any single run.
const EXEMPT: [&str; 4] = [
    "sim/src/cli.rs",
    "sim/src/runner.rs",
    "sim/src/main.rs",
    "sim/src/progress.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_nondeterminism_in_cores_and_run_path() {
    let root = root();
    let mut files = Vec::new();
    for dir in [
        "crates/raft/src",
        "crates/zk/src",
        "crates/wal/src",
        "invariants/src",
        "sim/model/src",
        "sim/src",
    ] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 10);
    let mut hits = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXEMPT.contains(&rel.as_str()) {
            continue;
        }
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for b in BANNED {
                if code.contains(b) {
                    hits.push(format!("{rel}:{}: {b}", n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "nondeterminism sources:\n{}",
        hits.join("\n")
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The module files of one crate's `src`, without `lib.rs` and `main.rs`: (module
/// name, code lines). A module folder `x/` (beside `x.rs`) holds child modules of `x`:
/// their code counts as `x`'s, since what they import, `x` imports.
fn modules(src: &Path) -> Vec<(String, Vec<String>)> {
    let code_of = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    let mut children = Vec::new();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            for c in std::fs::read_dir(&p).unwrap() {
                let c = c.unwrap().path();
                assert!(
                    !c.is_dir(),
                    "{}: a nested module folder; teach sim/tests/tidy.rs to read it",
                    c.display()
                );
                if c.extension().is_some_and(|x| x == "rs") {
                    children.push((name.clone(), code_of(&c)));
                }
            }
        } else if p.extension().is_some_and(|x| x == "rs") && name != "lib" && name != "main" {
            out.push((name, code_of(&p)));
        }
    }
    for (parent, code) in children {
        let Some((_, lines)) = out.iter_mut().find(|(n, _)| *n == parent) else {
            panic!(
                "{}/{parent}/: a module folder without {parent}.rs",
                src.display()
            );
        };
        lines.extend(code);
    }
    out.sort();
    out
}

/// The first identifier of `s`.
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The module names a file's code reaches through `prefix` (`crate::` or
/// `zkwal_model::`): `prefix NAME` and each first name of `prefix {A, B::C, ...}`.
fn referenced(code: &[String], prefix: &str) -> Vec<String> {
    let text = code.join("\n");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `foo_crate::`, not a path of ours
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group, up to its matching brace.
            let (mut depth, mut item) = (0usize, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&item).to_string());
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(ident(&item).to_string());
        } else {
            out.push(ident(rest).to_string());
        }
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out.sort();
    out.dedup();
    out
}

/// The module graph of the simulator: nodes `model::NAME` and `sim::NAME`, an edge
/// for every import of another module.
fn sim_graph(root: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let model = modules(&root.join("sim/model/src"));
    let tools = modules(&root.join("sim/src"));
    let is_model = |n: &str| model.iter().any(|(m, _)| m == n);
    let is_tool = |n: &str| tools.iter().any(|(m, _)| m == n);
    let mut g = std::collections::BTreeMap::new();
    for (name, code) in &model {
        let mut to: Vec<String> = referenced(code, "crate::")
            .into_iter()
            .filter(|n| is_model(n))
            .map(|n| format!("model::{n}"))
            .collect();
        to.retain(|n| *n != format!("model::{name}"));
        g.insert(format!("model::{name}"), to);
    }
    for (name, code) in &tools {
        let mut to: Vec<String> = Vec::new();
        for n in referenced(code, "crate::") {
            if is_tool(&n) {
                to.push(format!("sim::{n}"));
            } else if is_model(&n) {
                to.push(format!("model::{n}"));
            }
        }
        for n in referenced(code, "zkwal_model::") {
            if is_model(&n) {
                to.push(format!("model::{n}"));
            }
        }
        to.retain(|n| *n != format!("sim::{name}"));
        to.sort();
        to.dedup();
        g.insert(format!("sim::{name}"), to);
    }
    g
}

/// A circle in `g`, as the path that closes it (`a -> b -> a`), if there is one.
fn find_cycle(g: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    // Depth-first with colours: 0 unvisited, 1 on the current path, 2 done.
    fn visit(
        g: &std::collections::BTreeMap<String, Vec<String>>,
        n: &str,
        colour: &mut std::collections::BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        colour.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match colour.get(m).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == m).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(g, m, colour, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        colour.insert(n.to_string(), 2);
        None
    }
    let mut colour = std::collections::BTreeMap::new();
    for n in g.keys() {
        if colour.get(n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(g, n, &mut colour, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_import_circle_among_sim_modules() {
    let g = sim_graph(&root());
    assert!(g.len() > 20 && g.values().map(Vec::len).sum::<usize>() > 40);
    if let Some(c) = find_cycle(&g) {
        panic!("import circle among sim's modules: {}", c.join(" -> "));
    }
}

#[test]
fn the_model_never_imports_the_tools() {
    let root = root();
    let model = modules(&root.join("sim/model/src"));
    let tools = modules(&root.join("sim/src"));
    assert!(model.len() > 10 && tools.len() > 10);
    let mut hits = Vec::new();
    for (name, code) in &model {
        if code.iter().any(|l| l.contains("zkwal_sim")) {
            hits.push(format!("sim/model/src/{name}.rs uses zkwal_sim"));
        }
        for n in referenced(code, "crate::") {
            let is_model = model.iter().any(|(m, _)| *m == n);
            if !is_model && tools.iter().any(|(t, _)| *t == n) {
                hits.push(format!(
                    "sim/model/src/{name}.rs imports the tool module {n}"
                ));
            }
        }
    }
    // Manifests: the model and the madsim tier below the tools, never on them.
    for manifest in ["sim/model/Cargo.toml", "sim/madsim/Cargo.toml"] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        if text
            .lines()
            .any(|l| l.trim_start().starts_with("zkwal-sim"))
        {
            hits.push(format!("{manifest} depends on zkwal-sim"));
        }
    }
    let mut madsim = Vec::new();
    rust_files(&root.join("sim/madsim"), &mut madsim);
    assert!(!madsim.is_empty());
    for f in madsim {
        if std::fs::read_to_string(&f).unwrap().contains("zkwal_sim") {
            hits.push(format!("{} uses zkwal_sim", f.display()));
        }
    }
    assert!(
        hits.is_empty(),
        "the model (or the madsim tier) reaches up to the tools:\n{}",
        hits.join("\n")
    );
}
