//! `AllowList::check` on arbitrary UTF-8: never panics, and every accepted target re-parses to
//! an allow-list entry's exact origin (scheme, host, port) with the path under the entry's path,
//! without credentials or fragment, and is accepted again unchanged.

#![no_main]

use std::sync::LazyLock;

use idp_bridge::return_urls::{AllowList, MAX_URL_LEN};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/redirect-corpus/oracle.rs"]
mod oracle;

use oracle::{ALLOWED, origin_violation};

static LIST: LazyLock<AllowList> =
    LazyLock::new(|| AllowList::parse(&ALLOWED.map(String::from)).expect("valid allow-list"));

fuzz_target!(|raw: &str| {
    let Ok(target) = LIST.check("success", Some(raw)) else {
        return;
    };
    let s = target.as_str();
    if let Some(violation) = origin_violation(s) {
        panic!("accepted {raw:?}: {violation}");
    }
    if s.len() <= MAX_URL_LEN {
        let again = LIST
            .check("success", Some(s))
            .unwrap_or_else(|e| panic!("{s:?} (from {raw:?}) refused on re-check: {e}"));
        assert_eq!(again.as_str(), s, "re-check of {s:?} changed it");
    }
});
