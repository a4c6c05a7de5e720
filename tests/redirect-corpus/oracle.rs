//! The allow-list of the open-redirect corpus and an independent check of accepted targets,
//! shared by `tests/repository/redirect_corpus.rs` and `fuzz/fuzz_targets/redirect.rs`
//! (included with `#[path]`). Written out by hand so that the check does not depend on how the
//! implementation parses its own entries.
//!
//! The oracle is a second, independent statement of the rule, not a copy of the code under test:
//! the implementation compares paths as strings (`path_matches`) and decodes with the
//! `percent-encoding` crate; the oracle splits both paths into segments and compares the lists,
//! and percent-decodes with its own few lines. A bug in one is then not repeated in the other.

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

/// Whether `path` lies under the entry path `prefix`, judged segment by segment (independently
/// of the implementation's string prefix): `/auth/` covers `/auth/` and `/auth/...` (its last,
/// empty segment stands for "anything below"); `/cb` covers `/cb`, `/cb/` and `/cb/...`, never
/// `/cbx`. Segments are compared exactly as serialised. Every segment of `path` must also be
/// [`plain`].
pub fn under(prefix: &str, path: &str) -> bool {
    let (Some(prefix), Some(path)) = (prefix.strip_prefix('/'), path.strip_prefix('/')) else {
        return false;
    };
    let mut want: Vec<&str> = prefix.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    // "/auth/" is ["auth", ""]: "auth" and then at least one more segment, whatever it is.
    let needs_more = want.last() == Some(&"");
    if needs_more {
        want.pop();
    }
    let long_enough = if needs_more {
        got.len() > want.len()
    } else {
        got.len() >= want.len()
    };
    long_enough && want.iter().zip(&got).all(|(w, g)| w == g) && got.iter().all(|s| plain(s))
}

/// Most percent-decodings followed in one segment; one that still changes after them is not plain.
pub const MAX_DECODINGS: usize = 8;

/// Whether a path segment, percent-decoded again and again (the way layered servers may decode
/// it), never holds `/` or `\`, never is `.` or `..` (alone or before a `;parameter`), and is
/// stable after at most [`MAX_DECODINGS`] decodings.
pub fn plain(segment: &str) -> bool {
    let mut bytes = segment.as_bytes().to_vec();
    for round in 0..=MAX_DECODINGS {
        if bytes.contains(&b'/') || bytes.contains(&b'\\') {
            return false;
        }
        let name = bytes.split(|&b| b == b';').next().unwrap_or_default();
        if name == b"." || name == b".." {
            return false;
        }
        let next = decode_once(&bytes);
        if next == bytes {
            return true;
        }
        if round == MAX_DECODINGS {
            return false;
        }
        bytes = next;
    }
    false
}

/// One percent-decoding, written out by hand for the oracle: `%` and two hex digits become that
/// byte; anything else, invalid escapes included, is kept.
fn decode_once(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)),
            _ => None,
        };
        match escape {
            Some((h, l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
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
    (!on_entry(&url)).then(|| {
        format!(
            "target {target:?} ({scheme}, {host}, {port}, {path}) is on no entry's origin and path"
        )
    })
}

/// Whether the parsed `url` sits on one entry's scheme, host and port, [`under`] its path.
pub fn on_entry(url: &Url) -> bool {
    let (scheme, path) = (url.scheme(), url.path());
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or_default();
    ORIGINS
        .iter()
        .any(|&(s, h, p, prefix)| s == scheme && h == host && p == port && under(prefix, path))
}
