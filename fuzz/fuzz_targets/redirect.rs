//! `AllowList::check` on arbitrary UTF-8: never panics, and every accepted target re-parses to
//! an allow-list entry's exact origin (scheme, host, port) with the path under the entry's path,
//! without credentials or fragment, and is accepted again unchanged.

#![no_main]

use std::sync::LazyLock;

use idp_bridge::login::redirect::{AllowList, MAX_URL_LEN};
use libfuzzer_sys::fuzz_target;
use url::Url;

/// The same list as the corpus test (tests/redirect-corpus/corpus.tsv).
const ALLOWED: [&str; 4] = [
    "https://app.example.com/auth/",
    "https://app.example.com:8443/cb",
    "http://127.0.0.1:3000/app/",
    "https://xn--bcher-kva.example/",
];

/// (scheme, host, port, path) of each entry, written out by hand.
const ORIGINS: [(&str, &str, u16, &str); 4] = [
    ("https", "app.example.com", 443, "/auth/"),
    ("https", "app.example.com", 8443, "/cb"),
    ("http", "127.0.0.1", 3000, "/app/"),
    ("https", "xn--bcher-kva.example", 443, "/"),
];

static LIST: LazyLock<AllowList> =
    LazyLock::new(|| AllowList::parse(&ALLOWED.map(String::from)).expect("valid allow-list"));

fn under(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|r| r.starts_with('/'))
    }
}

fuzz_target!(|raw: &str| {
    let Ok(target) = LIST.check("success", Some(raw)) else {
        return;
    };
    let s = target.as_str();
    let url = Url::parse(s)
        .unwrap_or_else(|e| panic!("accepted {raw:?} -> {s:?} does not re-parse: {e}"));
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "credentials in {s:?}"
    );
    assert!(url.fragment().is_none(), "fragment in {s:?}");
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or_default();
    assert!(
        ORIGINS.iter().any(|&(sc, h, p, prefix)| sc == url.scheme()
            && h == host
            && p == port
            && under(prefix, url.path())),
        "accepted {raw:?} -> {s:?} is outside every entry"
    );
    if s.len() <= MAX_URL_LEN {
        let again = LIST
            .check("success", Some(s))
            .unwrap_or_else(|e| panic!("{s:?} (from {raw:?}) refused on re-check: {e}"));
        assert_eq!(again.as_str(), s, "re-check of {s:?} changed it");
    }
});
