//! The shape of the code, checked: the domain's modules import one another in one direction only (a DAG), the
//! domain stays pure (no SDK, runtime, environment or wall clock), and no source file outside tests grows past
//! `MAX_LINES` unless its header says why.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Past this, a file is asked to be split along a seam (../shared/STYLE.md), or to say in its `//!` header why not
/// (with the words "long because").
const MAX_LINES: usize = 400;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's product code: test files are left out, and so is everything from the first `#[cfg(test)]` on (tests
/// sit at the end of a file here).
fn product_code(path: &Path) -> Option<String> {
    let is_test_file = path.file_name().is_some_and(|n| n == "tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests");
    if is_test_file {
        return None;
    }
    let text = fs::read_to_string(path).ok()?;
    Some(match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    })
}

/// The top-level domain module a file belongs to, and how deep below `domain/` it sits (`run.rs`: 1,
/// `trigger/mod.rs`: 1, `trigger/path.rs`: 2).
fn module_of(domain: &Path, file: &Path) -> (String, usize) {
    let rel = file.strip_prefix(domain).unwrap();
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let top = parts[0].trim_end_matches(".rs").to_owned();
    let depth = if parts.last().is_some_and(|p| p == "mod.rs") {
        parts.len() - 1
    } else {
        parts.len()
    };
    (top, depth)
}

/// The other top-level domain modules a file's code names.
fn imports(code: &str, depth: usize, own: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let to_top = "super::".repeat(depth);
    let mut found = |rest: &str| {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name != own && modules.contains(&name) {
            out.insert(name);
        }
    };
    for (at, _) in code.match_indices("crate::domain::") {
        found(&code[at + "crate::domain::".len()..]);
    }
    for (at, _) in code.match_indices(&to_top) {
        // `super::super::x` from depth 2 names a top-level module; a longer chain was already counted.
        let before = &code[..at];
        if before.ends_with("super::") {
            continue;
        }
        found(&code[at + to_top.len()..]);
    }
    out
}

fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == node) {
            let mut loop_ = path[start..].to_vec();
            loop_.push(node.to_owned());
            return Some(loop_);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

fn domain_graph() -> BTreeMap<String, BTreeSet<String>> {
    let domain = root().join("shared/src/domain");
    let mut files = Vec::new();
    rust_files(&domain, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(&domain, f).0)
        .filter(|m| m != "mod")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let (module, depth) = module_of(&domain, file);
        if module == "mod" {
            continue;
        }
        let Some(code) = product_code(file) else {
            continue;
        };
        graph
            .entry(module.clone())
            .or_default()
            .extend(imports(&code, depth, &module, &modules));
    }
    graph
}

#[test]
fn domain_modules_import_in_one_direction() {
    let graph = domain_graph();
    assert!(graph.len() > 10, "found the domain's modules: {graph:?}");
    assert!(
        graph["run"].contains("task"),
        "the scan sees imports: {graph:?}"
    );
    if let Some(found) = cycle(&graph) {
        panic!(
            "domain modules import each other in a loop: {} (move the shared vocabulary into a leaf module, or \
             the decision into the module that depends on both)",
            found.join(" -> ")
        );
    }
}

#[test]
fn the_cycle_check_finds_a_loop() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".into(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".into(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&graph), None);
}

#[test]
fn the_domain_is_pure() {
    let domain = root().join("shared/src/domain");
    let mut files = Vec::new();
    rust_files(&domain, &mut files);
    for file in files {
        let Some(code) = product_code(&file) else {
            continue;
        };
        for banned in [
            "aws_sdk",
            "aws_config",
            "tokio",
            "Utc::now",
            "std::env",
            "SystemTime",
        ] {
            assert!(
                !code.contains(banned),
                "{} uses `{banned}`: the domain takes time and settings as parameters and calls nothing outside",
                file.display()
            );
        }
    }
}

#[test]
fn no_source_file_is_too_long_to_read_without_a_reason() {
    let mut files = Vec::new();
    for dir in ["shared/src", "cli/src", "functions", "tests/src", "sim/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut long = Vec::new();
    for file in files {
        let Some(code) = product_code(&file) else {
            continue;
        };
        let lines = code.lines().count();
        let header: String = code.lines().take_while(|l| l.starts_with("//!")).collect();
        if lines > MAX_LINES && !header.contains("long because") {
            long.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines without a reason in their header: {long:?}"
    );
}
