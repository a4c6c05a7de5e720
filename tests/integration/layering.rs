//! The layering that `src/lib.rs` states, checked: which top-level module of the gateway may use
//! which (`use crate::…` and `crate::…` paths outside `#[cfg(test)]` code), and that no module
//! but the registry names a provider crate or an OpenID type.

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
