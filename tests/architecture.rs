//! The shape of the code: the stages import each other in one direction only. A module's
//! imports are read from its source (`crate::x`, and `super::x` in a submodule), outside its
//! tests and comments; there must be no cycle among the top-level modules nor among the
//! submodules of one module, and the runtime's gates know nothing of the evaluator.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/` but the binary's (`main.rs`, `cli.rs`, `cli/`).
fn library_files() -> Vec<PathBuf> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut stack = vec![root.to_path_buf()];
    let mut out = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == "main.rs" || rel == "cli.rs" || rel == "cli" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file: `src/eval/xpath.rs` is `["eval", "xpath"]`.
fn module_of(path: &Path) -> Vec<String> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let rel = path.strip_prefix(root).unwrap().with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect()
}

/// The source without its test module and its comment lines.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every module path a file names: `crate::a::b` and, in a submodule, `super::b`.
fn imports(path: &Path) -> Vec<Vec<String>> {
    let code = code_of(&std::fs::read_to_string(path).unwrap());
    let module = module_of(path);
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", module[..module.len().saturating_sub(1)].to_vec())] {
        if prefix == "super::" && module.len() < 2 {
            continue;
        }
        for (i, _) in code.match_indices(prefix) {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // The module path: lowercase names joined by `::`, up to a type, a `{` or the end.
            let mut parts = base.clone();
            for part in code[i + prefix.len()..].split("::") {
                let name: String = part.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                let whole = name.len() == part.len();
                if !name.is_empty() {
                    parts.push(name);
                }
                if !whole {
                    break;
                }
            }
            out.push(parts);
        }
    }
    out
}

/// The graph at one depth: `depth` 1 joins top-level modules, 2 their submodules.
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in library_files() {
        let from = module_of(&file);
        let from_key = from.iter().take(depth).cloned().collect::<Vec<_>>().join("::");
        for to in imports(&file) {
            if to.is_empty() {
                continue;
            }
            let to_key = to.iter().take(depth).cloned().collect::<Vec<_>>().join("::");
            // A submodule and its parent (`eval` and `eval::xpath`) are one unit at this depth.
            let same_unit = from_key == to_key || to.len() < depth || from.len() < depth;
            if !same_unit {
                edges.entry(from_key.clone()).or_default().insert(to_key);
            }
        }
    }
    edges
}

/// A cycle in the graph, as the modules along it, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(1) => {
                let start = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let edges = graph(1);
    assert!(edges.contains_key("eval") && edges["eval"].contains("store"), "the reader finds imports: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("an import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_submodules_of_each_module_import_each_other_without_a_cycle() {
    let edges = graph(2);
    if let Some(cycle) = find_cycle(&edges) {
        panic!("an import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_runtime_and_the_model_know_nothing_of_evaluation_or_stores() {
    let edges = graph(1);
    for (module, forbidden) in [("runtime", ["eval", "store", "check"]), ("model", ["eval", "store", "check"])] {
        for f in forbidden {
            assert!(!edges.get(module).is_some_and(|e| e.contains(f)), "{module} imports {f}: {:?}", edges.get(module));
        }
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
