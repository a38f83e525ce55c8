//! The shape of `src/domain/`, checked from its source so it cannot drift
//! back: the modules import each other along a DAG that follows the layers
//! of the design, `framework` is a leaf, and no domain code does I/O or
//! reaches outside the domain (`Content` loading lives in `src/content.rs`).
//!
//! Only production code counts: each file's trailing `#[cfg(test)] mod tests`
//! block and full-line comments are left out, since tests may load real
//! content and docs may name other modules. The checks run on synthetic
//! sources too, so a broken parser cannot make them pass vacuously.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const DOMAIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/domain");

/// The design's layers, lowest first: a module may import only modules of a
/// strictly lower layer. A new domain module needs a line here, which is the
/// moment to decide where it sits.
const LAYERS: &[(&str, u8)] = &[
    // Framework ids and Discord's limits: everyone's leaf.
    ("framework", 0),
    ("advice", 1),
    ("labels", 1),
    // Data types of responses/: the knowledge base and the questionnaire.
    ("knowledge", 2),
    ("questionnaire", 2),
    ("scoring", 3),
    ("search", 3),
    ("team", 4),
    ("search_eval", 4),
    // The state machine sits on top: nothing in the domain imports it.
    ("session", 5),
];

/// What domain code must not mention: I/O, the clock and randomness (injected
/// by the app), and the crates that do networking or storage.
const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::io",
    "std::net",
    "std::process",
    "std::env",
    "include_str!",
    "include_bytes!",
    "SystemTime",
    "Instant::now",
    "Utc::now",
    "Local::now",
    "rand",
    "serenity",
    "tokio",
    "sled",
    "tokio_postgres",
    "deadpool_postgres",
    "axum",
    "reqwest",
];

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `code` without full-line comments and without the trailing
/// `#[cfg(test)] mod … { … }` block. Refuses a file whose test block is not
/// last (rustfmt puts its closing `}` in column 0), since cutting there would
/// hide production code from the checks.
fn production_code(file: &str, source: &str) -> Result<String, String> {
    let lines: Vec<&str> = source.lines().collect();
    let cut = lines.iter().position(|l| l.trim() == "#[cfg(test)]");
    if let Some(at) = cut {
        let item = lines[at + 1..]
            .iter()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("#["))
            .map_or("", |l| l.trim());
        let is_mod = ["mod ", "pub mod ", "pub(crate) mod "]
            .iter()
            .any(|p| item.starts_with(p))
            && item.ends_with('{');
        let end = lines[at..].iter().position(|l| *l == "}").map(|i| at + i);
        let trailing = end.is_some_and(|end| lines[end + 1..].iter().all(|l| l.trim().is_empty()));
        if !is_mod || !trailing {
            return Err(format!(
                "{file}: `#[cfg(test)]` must mark one `mod tests {{ … }}` at the end of the file \
                 (found {item:?}{}); move it there or teach tests/architecture.rs the new layout",
                if trailing { "" } else { " followed by more code" }
            ));
        }
    }
    Ok(lines[..cut.unwrap_or(lines.len())]
        .iter()
        .filter(|l| !l.trim_start().starts_with("//"))
        .copied()
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The domain modules `code` refers to through `super::X` or
/// `crate::domain::X`, including grouped imports (`super::{a::A, b::B}`).
/// Names that are not domain modules (items of the file itself, reached from
/// an inline module through `super::`) are not edges.
fn references(code: &str, modules: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for prefix in ["super::", "crate::domain::"] {
        for (at, _) in code.match_indices(prefix) {
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => top_level_items(group),
                None => vec![rest],
            };
            for head in heads {
                let name: String = head.trim_start().chars().take_while(|c| is_ident(*c)).collect();
                if modules.contains(name.as_str()) {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// The comma-separated items of a `{ … }` group whose opening brace was
/// already consumed, up to its closing brace.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// Forbidden names that occur as whole tokens (so `sled` is found in
/// `sled::Db` but not in `fiddled`), and paths leaving the domain.
fn forbidden_mentions(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for needle in FORBIDDEN {
        let hit = code.match_indices(needle).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + needle.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(|c| is_ident(c) && !needle.ends_with('!'))
        });
        if hit {
            found.push(needle.to_string());
        }
    }
    // The domain reaches nothing of the crate but itself (content, app,
    // storage, present, the adapters all sit above it).
    for (at, _) in code.match_indices("crate::") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let next: String = code[at + "crate::".len()..]
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if next != "domain" {
            found.push(format!("crate::{next}"));
        }
    }
    if code.contains("super::super") {
        found.push("super::super".to_string());
    }
    found.sort();
    found.dedup();
    found
}

/// A cycle in `graph`, as the path of modules that closes it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

/// The import graph of the domain and every rule it breaks. `files` are
/// (module name, source); `mod` is the domain root, whose `pub mod` lines
/// are declarations rather than imports, so it is only checked for I/O.
fn check(files: &[(String, String)]) -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let mut problems = Vec::new();
    let modules: BTreeSet<&str> = files.iter().map(|(m, _)| m.as_str()).filter(|m| *m != "mod").collect();
    let layer = |m: &str| LAYERS.iter().find(|(name, _)| *name == m).map(|(_, l)| *l);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, source) in files {
        let code = match production_code(&format!("src/domain/{module}.rs"), source) {
            Ok(code) => code,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for mention in forbidden_mentions(&code) {
            problems.push(format!("src/domain/{module}.rs mentions `{mention}` outside its tests"));
        }
        if module == "mod" {
            continue;
        }
        if code.contains("super::*") || code.contains("crate::domain::*") {
            problems.push(format!(
                "src/domain/{module}.rs glob-imports the domain, hiding which modules it uses"
            ));
        }
        let mut uses = references(&code, &modules);
        uses.remove(module);
        if module == "framework" && !uses.is_empty() {
            problems.push(format!("framework must import no domain module, but uses {uses:?}"));
        }
        match layer(module) {
            None => problems.push(format!(
                "src/domain/{module}.rs has no layer in tests/architecture.rs LAYERS; add one"
            )),
            Some(own) => {
                for used in &uses {
                    if layer(used).is_some_and(|l| l >= own) {
                        problems.push(format!(
                            "{module} (layer {own}) imports {used} (layer {}): imports must point to a lower layer",
                            layer(used).unwrap_or_default()
                        ));
                    }
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!("import cycle: {}", cycle.join(" -> ")));
    }
    (graph, problems)
}

fn domain_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(DOMAIN_DIR).expect("src/domain exists") {
        let path = entry.expect("readable directory entry").path();
        assert!(
            !path.is_dir(),
            "{}: a nested domain module changes what `super::` means; extend tests/architecture.rs",
            path.display()
        );
        if path.extension().is_some_and(|e| e == "rs") {
            let module = path.file_stem().and_then(|s| s.to_str()).expect("UTF-8 file name");
            let source = std::fs::read_to_string(&path).expect("readable source");
            files.push((module.to_string(), source));
        }
    }
    files.sort();
    files
}

fn file(module: &str, source: &str) -> (String, String) {
    (module.to_string(), source.to_string())
}

#[test]
fn the_domain_is_a_layered_dag_without_io() {
    let files = domain_files();
    let (graph, problems) = check(&files);
    assert!(problems.is_empty(), "domain architecture:\n  {}", problems.join("\n  "));
    // The parser sees the imports that must be there; an empty graph would
    // pass every rule above.
    for (from, to) in [
        ("session", "questionnaire"),
        ("session", "team"),
        ("team", "scoring"),
        ("scoring", "framework"),
        ("knowledge", "advice"),
        ("search", "knowledge"),
    ] {
        assert!(
            graph.get(from).is_some_and(|uses| uses.contains(to)),
            "expected {from} -> {to} in {graph:?}"
        );
    }
    assert!(Path::new(DOMAIN_DIR).join("framework.rs").exists());
}

/// The cycles and the file reading the domain had before `content` moved
/// out, in miniature: every one of them must be reported.
#[test]
fn the_checks_catch_the_old_cycles_and_io() {
    let files = [
        file(
            "content",
            "use std::path::Path;\nuse super::questionnaire::Questionnaire;\n\
             fn read(p: &Path) -> String { std::fs::read_to_string(p).unwrap() }\n",
        ),
        file(
            "questionnaire",
            "use super::team::{resolve, TeamState};\npub struct Questionnaire;\n",
        ),
        file(
            "team",
            "use super::content::FRAMEWORK_IDS;\nuse super::scoring::WeightedPick;\n",
        ),
        file(
            "scoring",
            "use super::{content::{limits, Content}, questionnaire::Answer};\n",
        ),
        file("framework", "use crate::domain::labels::Labels;\n"),
        file("labels", "use crate::storage::SessionStore;\nfn f(_: sled::Db) {}\n"),
    ];
    let (graph, problems) = check(&files);
    let all = problems.join("\n");
    assert_eq!(
        graph["scoring"],
        BTreeSet::from(["content", "questionnaire"].map(String::from)),
        "grouped imports are read"
    );
    for expected in [
        "import cycle: ",
        "src/domain/content.rs mentions `std::fs`",
        "src/domain/labels.rs mentions `crate::storage`",
        "src/domain/labels.rs mentions `sled`",
        "framework must import no domain module",
        "questionnaire (layer 2) imports team (layer 4)",
        "src/domain/content.rs has no layer",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

#[test]
fn tests_and_comments_are_exempt_but_only_at_the_end() {
    let source = "//! Reads nothing; see crate::content for loading.\nuse super::framework::FRAMEWORK_IDS;\n\n\
                  #[cfg(test)]\nmod tests {\n    use crate::content::Content;\n    fn f() { std::fs::read(\"x\"); }\n}\n";
    let (graph, problems) = check(&[file("search", source), file("framework", "")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(graph["search"], BTreeSet::from(["framework".to_string()]));

    let hiding = "#[cfg(test)]\nmod tests {\n}\n\npub fn load() { std::fs::read(\"x\"); }\n";
    let (_, problems) = check(&[file("search", hiding)]);
    assert!(
        problems.iter().any(|p| p.contains("at the end of the file")),
        "{problems:?}"
    );
    let not_a_module = "#[cfg(test)]\nfn helper() {}\npub fn load() { std::fs::read(\"x\"); }\n";
    let (_, problems) = check(&[file("search", not_a_module)]);
    assert!(
        problems.iter().any(|p| p.contains("at the end of the file")),
        "{problems:?}"
    );
}

#[test]
fn whole_tokens_only() {
    assert!(forbidden_mentions("let fiddled = brand_new; // no").is_empty());
    assert_eq!(forbidden_mentions("use tokio::sync::Mutex;"), vec!["tokio"]);
    assert_eq!(forbidden_mentions("let s = include_str!(\"x\");"), vec!["include_str!"]);
    assert_eq!(forbidden_mentions("crate::domain::team::resolve"), Vec::<String>::new());
    assert_eq!(forbidden_mentions("crate::app::App"), vec!["crate::app"]);
}
