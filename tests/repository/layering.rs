//! The layering that `src/lib.rs` states, checked: which top-level module of the gateway may use
//! which (`use crate::…` and `crate::…` paths outside `#[cfg(test)]` code), that the submodules
//! of a folder module (`http/state.rs`, `http/rate_limit.rs`, …) never use each other in a
//! circle, and that no module but the registry names a provider crate or an OpenID type.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Who may use whom, top to bottom (src/lib.rs). `startup` may use everything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("telemetry", &["audit", "config"]),
    (
        "reload",
        &[
            "appwrite", "audit", "clock", "config", "http", "login", "metrics", "registry", "store",
        ],
    ),
    ("init", &["login"]),
    ("healthcheck", &[]),
    ("online", &["appwrite", "config", "login"]),
    (
        "config",
        &[
            "appwrite",
            "audit",
            "key_names",
            "login",
            "metrics",
            "registry",
            "return_urls",
            "store",
        ],
    ),
    ("registry", &["key_names", "login"]),
    ("http", &["login", "metrics", "return_urls"]),
    (
        "login",
        &[
            "appwrite",
            "audit",
            "clock",
            "metrics",
            "return_urls",
            "store",
        ],
    ),
    ("store", &["clock", "return_urls"]),
    ("appwrite", &["metrics"]),
    ("audit", &[]),
    ("metrics", &[]),
    ("return_urls", &[]),
    ("clock", &[]),
    ("key_names", &[]),
];

/// Every `.rs` file under `dir`.
pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_with_extension(dir, "rs", out);
}

/// Every file under `dir` whose name ends in `.{extension}`, depth first.
pub(crate) fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_with_extension(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The file's code before its unit tests, without comment lines.
pub(crate) fn production_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read");
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text.as_str(),
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `src/login/mapping.rs` → `login`; `src/lib.rs` → `lib`.
fn module_of(src: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::<module>` a text names.
fn crate_modules(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if matches!(module.as_str(), "lib" | "main" | "startup") {
            continue;
        }
        let rules = allowed.get(module.as_str()).unwrap_or_else(|| {
            panic!("module {module} is not in the layering table: add it to ALLOWED and src/lib.rs")
        });
        for used in crate_modules(&production_code(file)) {
            if used != module && !rules.contains(&used.as_str()) {
                violations.push(format!("{} uses crate::{used}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn only_the_registry_names_a_provider_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        if file.ends_with("registry.rs") {
            continue;
        }
        let code = production_code(&file);
        for name in [
            "idp_provider_oidc",
            "idp_provider_auth0",
            "idp_provider_google",
            "idp_provider_entra",
            "openidconnect",
        ] {
            assert!(
                !code.contains(name),
                "{} names {name}: only src/registry.rs may name a provider crate",
                file.display()
            );
        }
    }
}

/// The HTTP crates a module that speaks HTTP names; the login pipeline names none of them (its
/// callers in `http/` extract, set cookies and render; `BrowserBinding` is all it asks of a
/// browser).
const HTTP_CRATES: [&str; 5] = ["axum", "axum_extra", "hyper", "tower_http", "Cookie"];

#[test]
fn the_login_pipeline_speaks_no_http() {
    let login = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/login");
    let mut files = Vec::new();
    rust_files(&login, &mut files);
    assert!(files.len() > 10, "{}: {files:?}", login.display());
    for file in files {
        let code = production_code(&file);
        for name in HTTP_CRATES {
            assert!(
                !names(&code, name),
                "{} names {name}: HTTP (cookies, extractors, responses) belongs in src/http/",
                file.display()
            );
        }
    }
    // The check can fail.
    assert!(names("use axum_extra::extract::cookie::Cookie;", "Cookie"));
    assert!(!names("let cookies_secure = true;", "Cookie"));
}

/// Whether `code` names `name` as a whole identifier.
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn the_checker_sees_a_violation() {
    // The checks above must be able to fail: a line that breaks the layering is found.
    let used = crate_modules("use crate::http::AppState;\nlet x = crate::login::LOGIN_BUDGET;");
    assert!(used.contains("http") && used.contains("login"));
    assert!(
        !ALLOWED
            .iter()
            .find(|(m, _)| *m == "store")
            .is_some_and(|(_, rules)| rules.contains(&"login"))
    );
}

/// The submodules of `module` (a folder of `src/`) that `code` names, as `super::<name>` (when
/// `code` sits directly in the folder) or `crate::<module>::<name>`, grouped imports
/// (`super::{a::X, b}`) included. Only names in `siblings` count: `super::not_found` is an
/// item of the parent, not a submodule.
fn sibling_uses(
    code: &str,
    module: &str,
    direct: bool,
    siblings: &BTreeSet<String>,
) -> BTreeSet<String> {
    let absolute = format!("crate::{module}::");
    let mut prefixes = vec![absolute.as_str()];
    if direct {
        prefixes.push("super::");
    }
    let ident = |text: &str| {
        text.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    let mut used = BTreeSet::new();
    for prefix in prefixes {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            let names: Vec<String> = match rest.strip_prefix('{') {
                // `{a::X, b::{Y, Z}}`: the first segment of each top-level entry.
                Some(group) => {
                    let mut depth = 0;
                    let mut entries = vec![String::new()];
                    for c in group.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => entries.push(String::new()),
                            _ => {}
                        }
                        if let Some(last) = entries.last_mut() {
                            last.push(c);
                        }
                    }
                    entries
                        .iter()
                        .map(|e| ident(e.trim_start_matches([',', ' ', '\n'])))
                        .collect()
                }
                None => vec![ident(rest)],
            };
            used.extend(names.into_iter().filter(|n| siblings.contains(n)));
        }
    }
    used
}

/// For each folder module of `src/`: which of its submodules uses which (production code),
/// e.g. `http` → `state` → {`rate_limit`, `readiness`}.
fn submodule_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut graphs = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src") {
        let folder = entry.expect("entry").path();
        if !folder.is_dir() {
            continue;
        }
        let module = folder
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let mut siblings = BTreeSet::new();
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("entry").path();
            let name = path
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .to_string();
            if name != "mod" && (path.is_dir() || path.extension().is_some_and(|e| e == "rs")) {
                siblings.insert(name);
            }
        }
        let mut files = Vec::new();
        rust_files(&folder, &mut files);
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in files {
            let relative = file.strip_prefix(&folder).expect("under the folder");
            let mut parts = relative.components();
            let first = parts
                .next()
                .expect("a component")
                .as_os_str()
                .to_string_lossy()
                .to_string();
            let node = first.trim_end_matches(".rs").to_string();
            if node == "mod" {
                // The folder's own file composes its submodules: it is their parent, not one
                // of them.
                continue;
            }
            // `super::` means the folder only in `<node>.rs` and `<node>/mod.rs`.
            let direct = parts.next().is_none_or(|p| p.as_os_str() == "mod.rs");
            let used = sibling_uses(&production_code(&file), &module, direct, &siblings);
            let targets = graph.entry(node.clone()).or_default();
            targets.extend(used.into_iter().filter(|u| *u != node));
        }
        graphs.insert(module, graph);
    }
    graphs
}

/// A circle in `graph` (`a → b → a`), if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_has_a_circle_among_its_submodules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let circles: Vec<String> = submodule_graph(&src)
        .iter()
        .filter_map(|(module, graph)| {
            find_circle(graph).map(|circle| format!("{module}: {}", circle.join(" → ")))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "submodules that use each other in a circle (move what both need into a leaf module):\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_circle_finder_sees_a_circle() {
    // The check above must be able to fail: the circle `http` had (`state` held the limiter,
    // whose middleware read `state::Live`), written as code, is found.
    let siblings: BTreeSet<String> = ["state", "rate_limit", "readiness", "error"]
        .map(String::from)
        .into();
    let state = "use super::rate_limit::RateLimit;\nuse super::{readiness::Readiness, error};";
    let rate_limit = "use crate::http::state::Live;\nsuper::not_found();";
    let mut graph = BTreeMap::new();
    graph.insert(
        "state".to_string(),
        sibling_uses(state, "http", true, &siblings),
    );
    graph.insert(
        "rate_limit".to_string(),
        sibling_uses(rate_limit, "http", true, &siblings),
    );
    assert_eq!(
        graph["state"],
        ["error", "rate_limit", "readiness"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        find_circle(&graph),
        Some(
            ["rate_limit", "state", "rate_limit"]
                .map(String::from)
                .to_vec()
        )
    );
    graph.insert("rate_limit".to_string(), BTreeSet::new());
    assert_eq!(find_circle(&graph), None);
}
