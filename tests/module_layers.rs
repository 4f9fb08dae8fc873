//! The modules of each crate form a DAG (issue 9): a module may use the modules below it, never
//! one that uses it back. New modules land every week; this test keeps the layering true
//! without anyone re-reading the imports.
//!
//! A crate's top-level modules are `src/NAME.rs` and `src/NAME/…`; a module depends on another
//! when its source names `crate::OTHER` (in a path or in a `use crate::{…}` group). Reading
//! the source text is enough here: our crates do not re-export modules under other names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose modules are checked, relative to the workspace root.
const CRATES: [&str; 5] = ["eryx-rt/src", "eryx-rt/cli/src", "eryx-rt/python/src", "eryx-build/src", "libs/src"];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The names that follow `crate::` in `source`, including every item of a `crate::{…}` group.
fn crate_references(source: &str) -> BTreeSet<String> {
    let ident = |text: &str| -> String { text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut names = BTreeSet::new();
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        // The first identifier of each comma-separated item at the group's own depth.
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && (c.is_alphanumeric() || c == '_') => {
                    names.insert(ident(&group[i..]));
                    item_start = false;
                }
                _ => {}
            }
        }
    }
    names
}

/// The module graph of the crate whose sources are in `src`.
fn module_graph(src: &Path) -> Graph {
    let module_of = |file: &Path| -> String {
        let relative = file.strip_prefix(src).expect("a file under src");
        let first = relative.components().next().expect("a path").as_os_str().to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let mut graph = Graph::new();
    let files = rust_files(src);
    for file in &files {
        graph.entry(module_of(file)).or_default();
    }
    for file in &files {
        let module = module_of(file);
        let source = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let uses = crate_references(&source).into_iter().filter(|name| *name != module && graph.contains_key(name));
        let uses: Vec<String> = uses.collect();
        graph.get_mut(&module).expect("inserted above").extend(uses);
    }
    // The crate root declares every module; the binary's `main` dispatches to them.
    graph.remove("lib");
    graph.remove("main");
    graph
}

/// A cycle of `graph`, if it has one, as the list of modules around it.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        graph: &Graph,
        node: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let start = path.iter().position(|n| n == next).expect("an open node is on the path");
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(cycle) = visit(graph, next, marks, path) {
                        return Some(cycle);
                    }
                }
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if !marks.contains_key(node)
            && let Some(cycle) = visit(graph, node, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_modules_of_every_crate_form_a_dag() {
    let root = workspace_root();
    for krate in CRATES {
        let src = root.join(krate);
        assert!(src.is_dir(), "{krate} is not a folder (was the crate moved? update CRATES)");
        let graph = module_graph(&src);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{krate}: the modules {} import each other; move what both need into a lower module",
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn the_reader_sees_groups_and_cycles() {
    let names = crate_references("use crate::{a::{B, C}, d, e::f};\nlet x = crate::g::h();");
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a", "d", "e", "g"]);
    let graph: Graph = [("x", ["y"]), ("y", ["z"]), ("z", ["x"])]
        .into_iter()
        .map(|(from, to)| (from.to_string(), to.iter().map(|t| t.to_string()).collect()))
        .collect();
    assert_eq!(find_cycle(&graph).expect("a cycle"), ["x", "y", "z", "x"]);
}
