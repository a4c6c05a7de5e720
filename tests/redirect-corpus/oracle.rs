//! The allow-list of the open-redirect corpus and an independent check of accepted targets,
//! shared by `tests/integration/redirect_corpus.rs` and `fuzz/fuzz_targets/redirect.rs`
//! (included with `#[path]`). Written out by hand so that the check does not depend on how the
//! implementation parses its own entries.

use url::Url;

/// The allow-list the corpus was written against (also in the TSV header).
pub const ALLOWED: [&str; 4] = [
    "https://app.example.com/auth/",
    "https://app.example.com:8443/cb",
    "http://127.0.0.1:3000/app/",
    "https://xn--bcher-kva.example/",
];

/// The same entries as (scheme, host, port, path prefix).
pub const ORIGINS: [(&str, &str, u16, &str); 4] = [
    ("https", "app.example.com", 443, "/auth/"),
    ("https", "app.example.com", 8443, "/cb"),
    ("http", "127.0.0.1", 3000, "/app/"),
    ("https", "xn--bcher-kva.example", 443, "/"),
];

/// `/auth/` covers `/auth/...`; `/cb` covers `/cb` and `/cb/...`, not `/cbx`.
pub fn under(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Why an accepted target breaks the invariant (a fresh parse of the string the browser is sent
/// to has no credentials, no fragment, no raw whitespace or controls, and sits on one entry's
/// scheme, host and port, under its path), or `None` when it holds.
pub fn origin_violation(target: &str) -> Option<String> {
    let url = match Url::parse(target) {
        Ok(url) => url,
        Err(e) => return Some(format!("target {target:?} does not re-parse: {e}")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Some(format!("target {target:?} has credentials"));
    }
    if url.fragment().is_some() {
        return Some(format!("target {target:?} has a fragment"));
    }
    if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some(format!(
            "target {target:?} contains raw whitespace or controls"
        ));
    }
    let (scheme, path) = (url.scheme(), url.path());
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or_default();
    let on_entry = ORIGINS
        .iter()
        .any(|&(s, h, p, prefix)| s == scheme && h == host && p == port && under(prefix, path));
    (!on_entry).then(|| {
        format!(
            "target {target:?} ({scheme}, {host}, {port}, {path}) is on no entry's origin and path"
        )
    })
}
