//! The server's layering, read from its sources: the core knows no API, an API knows no other, and no files import each other in a circle.
//!
//! In the spirit of rust-analyzer's tidy test: it reads every `crate::`,
//! `super::` and `self::` path in `src/` (comments aside), resolves each to the
//! file of the module it names, and checks the graph.
//!
//! - An API module (`actyx`, `atproto`, `fauna`, `fibric`, `pulse`) imports
//!   no other API and nothing of the composition (`app`, `server`, `cli`,
//!   `fuzzing`).
//! - Every other module (the core: `core`, `log`, `store`, `config`, `sse`,
//!   `control`, ...) imports no API and nothing of the composition.
//! - No cycle among files. A module's own children are not edges: a parent
//!   owns them (`mod x; pub use x::Y`), and a child may use its parent.
//! - An API reaches the store only through `Log` (which wakes followers and
//!   keeps the tail true): no API file names `LogStore`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const APIS: &[&str] = &["actyx", "atproto", "fauna", "fibric", "pulse"];
const COMPOSITION: &[&str] = &["app", "server", "cli", "fuzzing", "main"];

/// A module path, `["actyx", "api"]` for `src/actyx/api.rs`; the crate root is empty.
type Module = Vec<String>;

/// Every `.rs` file under `dir`, by module path.
fn sources(dir: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("reading src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(dir).expect("under src");
                let mut module: Module = relative
                    .with_extension("")
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).expect("reading a source");
                out.insert(module, text);
            }
        }
    }
    out
}

/// The code of `text` without `//` comments (doc comments included).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths `from` names, each resolved to the longest module that is a file.
fn imports(from: &Module, text: &str, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let code = code(text);
    let mut out = BTreeSet::new();
    for (anchor, base) in [
        ("crate::", Vec::new()),
        ("super::", parent(from)),
        ("self::", from.clone()),
    ] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(anchor) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + anchor.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for path in expand(rest) {
                let mut module = base.clone();
                let mut parts = path.as_slice();
                // `super::super::x`
                while parts.first().is_some_and(|head| head == "super") {
                    module = parent(&module);
                    parts = &parts[1..];
                }
                // `super::Name` of an item (not a module) names the parent's file.
                let mut best = modules.contains(&module).then(|| module.clone());
                for part in parts {
                    module.push(part.clone());
                    if modules.contains(&module) {
                        best = Some(module.clone());
                    }
                }
                out.extend(best);
            }
        }
    }
    out.remove(from);
    out
}

/// The module paths at the start of `rest`: one, or a `{a, b::c}` group's.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> (String, usize) {
        let n = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (s[..n].to_owned(), n)
    };
    if let Some(group) = rest.strip_prefix('{') {
        let end = matching_brace(group);
        return split_top(&group[..end])
            .into_iter()
            .flat_map(|item| expand(item.trim()))
            .collect();
    }
    let (head, n) = ident(rest);
    if head.is_empty() {
        return Vec::new();
    }
    match rest[n..].strip_prefix("::") {
        Some(tail) => expand(tail)
            .into_iter()
            .map(|mut path| {
                path.insert(0, head.clone());
                path
            })
            .collect(),
        None => vec![vec![head]],
    }
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

/// Splits a group's inside at its top-level commas.
fn split_top(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn parent(module: &Module) -> Module {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// The edges between files, a module's own descendants left out.
fn graph(sources: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules: BTreeSet<Module> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(from, text)| {
            let to = imports(from, text, &modules)
                .into_iter()
                .filter(|to| !to.starts_with(from) && !to.is_empty())
                .collect();
            (from.clone(), to)
        })
        .collect()
}

fn layer(module: &Module) -> &'static str {
    match module.first().map(String::as_str) {
        Some(top) if APIS.contains(&top) => "api",
        Some(top) if COMPOSITION.contains(&top) => "composition",
        None => "root",
        Some(_) => "core",
    }
}

/// Every import that breaks the layering, as `from -> to` lines.
fn violations(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, tos) in graph {
        for to in tos {
            let bad = match (layer(from), layer(to)) {
                ("api", "api") => from[0] != to[0],
                ("api" | "core", "composition") => true,
                ("core", "api") => true,
                _ => false,
            };
            if bad {
                out.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    out
}

/// Every cycle's files, found by Tarjan's strongly connected components.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, (usize, usize)>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g Module) {
            let n = self.index.len();
            self.index.insert(node, (n, n));
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.index[next].1.min(self.index[node].1);
                    self.index.get_mut(node).expect("visited").1 = low;
                } else if self.on_stack.contains(next) {
                    let low = self.index[next].0.min(self.index[node].1);
                    self.index.get_mut(node).expect("visited").1 = low;
                }
            }
            if self.index[node].0 == self.index[node].1 {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.join("::"));
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found.sort();
    walk.found
}

#[test]
fn the_server_keeps_its_layers_and_has_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&sources(&src));
    assert!(graph.len() > 50, "the sources were not found: {graph:?}");
    let violations = violations(&graph);
    assert!(
        violations.is_empty(),
        "imports across layers:\n{}",
        violations.join("\n")
    );
    let cycles = cycles(&graph);
    assert!(cycles.is_empty(), "import cycles among files: {cycles:#?}");
}

#[test]
fn the_apis_reach_the_store_only_through_the_log() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = sources(&src);
    let past_the_log: Vec<String> = sources
        .iter()
        .filter(|(module, _)| layer(module) == "api")
        .filter(|(_, text)| code(text).contains("LogStore"))
        .map(|(module, _)| module.join("::"))
        .collect();
    assert!(
        sources.len() > 50 && past_the_log.is_empty(),
        "these API modules name the raw store: {past_the_log:?}"
    );
}

#[test]
fn the_layering_check_sees_what_it_must_refuse() {
    let tree: BTreeMap<Module, String> = [
        (vec!["core".into()], "use crate::fibric::State;\n".into()),
        (
            vec!["fibric".into()],
            "use crate::{core::Api, pulse::rows};\n// use crate::app;\n".into(),
        ),
        (vec!["pulse".into()], String::new()),
        (
            vec!["pulse".into(), "rows".into()],
            "use super::auth::key;".into(),
        ),
        (
            vec!["pulse".into(), "auth".into()],
            "fn f() { super::rows::g() }".into(),
        ),
        (vec!["app".into()], "use crate::{fibric, pulse};".into()),
    ]
    .into_iter()
    .collect();
    let graph = graph(&tree);
    assert_eq!(
        violations(&graph),
        vec!["core -> fibric", "fibric -> pulse::rows"],
        "the commented-out `crate::app` is not an import; app may import APIs"
    );
    assert_eq!(
        cycles(&graph),
        vec![vec!["core", "fibric"], vec!["pulse::auth", "pulse::rows"]]
    );
}
