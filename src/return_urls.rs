//! The return URLs: where the browser may be sent, the `[redirect].allowed` list, and the
//! success and failure URLs built from an allowed target, with the app's own `state`
//! ([`ReturnState`]) beside the result. (The redirect flow that sends it there is `login`'s.)
//!
//! Owns: parsing candidate URLs with a real URL parser (WHATWG, the one browsers use) and
//! comparing scheme, host and port exactly and the path by prefix. The browser is only ever sent
//! to the *re-serialised* parsed URL, never to the raw text it arrived as.
//!
//! A path (an entry's or a candidate's) whose segments hide a separator or a dot segment behind
//! percent-encoding is refused outright: see [`hidden_separator`].
//! Must not: send anything anywhere; it only decides and builds URLs.

mod return_state;

use idp_provider_api::url_rule::secure_url;
use percent_encoding::percent_decode;
use serde::Deserialize;
use url::Url;
use url::form_urlencoded::{Serializer, Target};

pub use return_state::{MAX_STATE_LEN, ReturnState, TextRefused};

/// Longest success or failure URL accepted, in bytes, both as received and as it will be sent
/// (percent-encoding can make the re-serialised URL longer than the input).
pub const MAX_URL_LEN: usize = 2048;

/// Most percent-decodings [`hidden_separator`] follows in one path segment. A segment that still
/// changes after them is refused: no real URL nests encodings that deep.
pub const MAX_PATH_DECODINGS: usize = 8;

/// Parameters the gateway adds; an app URL that already has them is refused (ambiguous: the
/// app could not tell its own `state` from the one the gateway returns, say).
const RESERVED_PARAMS: [&str; 4] = ["userId", "secret", "error", "state"];

/// How `userId` and `secret` (and the app's `state` beside them, on success and on failure)
/// reach the app. `error` is always in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Added to the success URL's query, like Appwrite's own OAuth2 token flow.
    #[default]
    Query,
    /// Put in the fragment, which browsers never send to servers or in `Referer`.
    Fragment,
}

/// `[redirect]`: where browsers may be sent and how the secret travels (built by `config`).
#[derive(Debug, Clone)]
pub struct RedirectConfig {
    /// Allowed success and failure URLs.
    pub allowed: AllowList,
    /// Query or fragment.
    pub delivery: Delivery,
}

/// One allow-list entry: exact origin and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

/// The parsed `[redirect].allowed` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Entry>,
}

/// Why a success or failure URL is refused. The text is shown on the 400 page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// The parameter is absent.
    #[error("the `{0}` parameter is required")]
    Missing(&'static str),
    /// Not a URL, or a URL of a forbidden form. (Other start parameters are refused with
    /// `StartParamError`, in `login/request.rs`.)
    #[error("the `{param}` parameter is refused: {reason}")]
    Malformed {
        /// `success` or `failure`.
        param: &'static str,
        /// Why.
        reason: String,
    },
    /// A well-formed URL outside the allow-list.
    #[error("the `{0}` URL is not in the gateway's [redirect].allowed list")]
    NotAllowed(&'static str),
}

/// A success or failure URL that passed the allow-list. Only [`AllowList::check`] makes one
/// (and [`RedirectTarget::parse`], for one read back from the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectTarget(Url);

impl RedirectTarget {
    /// The checks of [`AllowList::check`] that are about the URL alone, whatever the list:
    /// present, at most [`MAX_URL_LEN`] bytes before and after percent-encoding, absolute,
    /// http or https, no credentials, no fragment, none of the parameters the gateway adds
    /// (`userId`, `secret`, `error`, `state`), no separator hidden behind percent-encoding in its
    /// path.
    ///
    /// A target read back from a shared store (where `start` put it after
    /// [`AllowList::check`], perhaps on another instance of an older release) is made with this
    /// too; the login pipeline then matches it against the allow-list of the configuration
    /// serving the callback before any use (`Login::still_allowed`, with
    /// [`AllowList::permits`]), so a reload's list applies to stored logins too.
    ///
    /// # Errors
    /// As [`AllowList::check`], but for [`RedirectError::NotAllowed`].
    pub(crate) fn parse(param: &'static str, raw: Option<&str>) -> Result<Self, RedirectError> {
        let raw = raw
            .filter(|r| !r.is_empty())
            .ok_or(RedirectError::Missing(param))?;
        let malformed = |reason: &str| RedirectError::Malformed {
            param,
            reason: reason.to_string(),
        };
        if raw.len() > MAX_URL_LEN {
            return Err(malformed(&format!("longer than {MAX_URL_LEN} bytes")));
        }
        let url = Url::parse(raw).map_err(|e| malformed(&format!("not an absolute URL ({e})")))?;
        if url.as_str().len() > MAX_URL_LEN {
            return Err(malformed(&format!(
                "longer than {MAX_URL_LEN} bytes once percent-encoded"
            )));
        }
        if !matches!(url.scheme(), "https" | "http") {
            return Err(malformed("only http and https URLs are allowed"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(malformed(
                "URLs with credentials (user@host) are not allowed",
            ));
        }
        if url.fragment().is_some() {
            return Err(malformed("URLs with a fragment are not allowed"));
        }
        if url
            .query_pairs()
            .any(|(k, _)| RESERVED_PARAMS.contains(&k.as_ref()))
        {
            return Err(malformed(
                "the URL already carries userId, secret, error or state (the gateway adds them)",
            ));
        }
        if let Some(why) = hidden_separator(url.path()) {
            return Err(malformed(&why));
        }
        Ok(Self(url))
    }

    /// The URL as it will be sent.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The success URL with `userId` and `secret` added by `delivery`, and the app's `state`
    /// (when it sent one) beside them; the URL's own query is kept.
    pub fn with_token(
        &self,
        user_id: &str,
        secret: &str,
        state: Option<&ReturnState>,
        delivery: Delivery,
    ) -> Url {
        let mut url = self.0.clone();
        let result = [("userId", user_id), ("secret", secret)];
        match delivery {
            Delivery::Query => append(&mut url.query_pairs_mut(), &result, state),
            Delivery::Fragment => {
                let mut fragment = Serializer::new(String::new());
                append(&mut fragment, &result, state);
                url.set_fragment(Some(&fragment.finish()));
            }
        }
        url
    }

    /// The failure URL with `error=<JSON>` added to its query, as Appwrite does (the error is
    /// not a secret), and the app's `state` (when it sent one) where `delivery` puts the token:
    /// in the query, or in the fragment, which no server log or `Referer` sees.
    pub fn with_error(
        &self,
        error_json: &str,
        state: Option<&ReturnState>,
        delivery: Delivery,
    ) -> Url {
        let mut url = self.0.clone();
        let error = [("error", error_json)];
        match delivery {
            Delivery::Query => append(&mut url.query_pairs_mut(), &error, state),
            Delivery::Fragment => {
                append(&mut url.query_pairs_mut(), &error, None);
                if let Some(state) = state {
                    let mut fragment = Serializer::new(String::new());
                    fragment.append_pair("state", state.as_str());
                    url.set_fragment(Some(&fragment.finish()));
                }
            }
        }
        url
    }
}

impl AllowList {
    /// Parses the configured entries: each an absolute https URL (http only on loopback hosts),
    /// without query, fragment or credentials.
    ///
    /// # Errors
    /// One message per bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if entries.is_empty() {
            problems.push(
                "must list at least one URL, e.g. \"https://app.example.com/auth/\"".to_string(),
            );
        }
        let mut parsed = Vec::new();
        for text in entries {
            match parse_entry(text) {
                Ok(entry) => parsed.push(entry),
                Err(reason) => problems.push(format!("{text:?}: {reason}")),
            }
        }
        if problems.is_empty() {
            Ok(Self { entries: parsed })
        } else {
            Err(problems)
        }
    }

    /// The origins of the entries (`scheme://host[:port]`), de-duplicated, in entry order: the
    /// default CORS allow-list, since the app that may be redirected to runs there.
    pub fn origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = Vec::new();
        for e in &self.entries {
            // The url crate writes origins as browsers send them (default ports left out,
            // IPv6 hosts bracketed once: `host_str` already holds the brackets).
            let Ok(host) = url::Host::parse(&e.host) else {
                continue;
            };
            let origin = url::Origin::Tuple(e.scheme.clone(), host, e.port).ascii_serialization();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        origins
    }

    /// Checks the `param` (`success` or `failure`) URL.
    ///
    /// # Errors
    /// Why the URL is refused; the browser is then shown a 400 page, never redirected.
    pub fn check(
        &self,
        param: &'static str,
        raw: Option<&str>,
    ) -> Result<RedirectTarget, RedirectError> {
        let target = RedirectTarget::parse(param, raw)?;
        if self.permits(&target) {
            Ok(target)
        } else {
            Err(RedirectError::NotAllowed(param))
        }
    }

    /// Whether an entry allows `target`, a URL that [`check`](Self::check) accepted before,
    /// perhaps against an older list, or that was read back from the store: only
    /// the entry match can change with the list (the other checks are about the URL alone and
    /// every `RedirectTarget` passed them), so a stored login is checked again without parsing
    /// its URLs again.
    pub fn permits(&self, target: &RedirectTarget) -> bool {
        let url = &target.0;
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or_default();
        self.entries.iter().any(|e| {
            e.scheme == url.scheme()
                && e.host == host
                && e.port == port
                && path_matches(&e.path, url.path())
        })
    }
}

/// Appends the result's `pairs`, then `state` when there is one, form-encoded: whatever the
/// state holds, it stays one parameter.
fn append<T: Target>(
    serializer: &mut Serializer<'_, T>,
    pairs: &[(&str, &str)],
    state: Option<&ReturnState>,
) {
    serializer.extend_pairs(pairs);
    if let Some(state) = state {
        serializer.append_pair("state", state.as_str());
    }
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let url = secure_url(text, false).map_err(|e| e.to_string())?;
    if let Some(why) = hidden_separator(url.path()) {
        return Err(why);
    }
    Ok(Entry {
        scheme: url.scheme().to_string(),
        host: url.host_str().unwrap_or_default().to_string(),
        port: url.port_or_known_default().unwrap_or_default(),
        path: url.path().to_string(),
    })
}

/// Why `path` (as the WHATWG parser serialises it) could leave a prefix once a server decodes
/// it, or `None` when it cannot.
///
/// The parser resolves `.`/`..` and `%2e` forms of them, and turns `\` into `/`, but keeps
/// `%2F`, `%5C` and doubly encoded dots as they are, inside one segment. A server (or a proxy in
/// front of it) that decodes the path before routing would see `/auth/..%2Fadmin` as
/// `/auth/../admin`, that is `/admin`; Tomcat also reads `..;x` as `..`. So each segment is
/// percent-decoded again and again (invalid escapes kept), up to [`MAX_PATH_DECODINGS`] times,
/// and no form may hold `/` or `\`, or be `.` or `..` alone or before a `;`. Decoded characters
/// that separate nothing (`a%2Eb` is `a.b`) are fine.
fn hidden_separator(path: &str) -> Option<String> {
    for segment in path.split('/') {
        let mut form = segment.as_bytes().to_vec();
        for round in 0..=MAX_PATH_DECODINGS {
            if form.contains(&b'/') || form.contains(&b'\\') {
                return Some(format!(
                    "the path segment {segment:?} hides a `/` or `\\` behind percent-encoding \
                     (%2F, %5C, or these encoded again)"
                ));
            }
            let name = form.split(|&b| b == b';').next().unwrap_or_default();
            if name == b"." || name == b".." {
                return Some(format!(
                    "the path segment {segment:?} is a dot segment once decoded \
                     (`.` or `..`, percent-encoded or before a `;`)"
                ));
            }
            let next: Vec<u8> = percent_decode(&form).collect();
            if next == form {
                break;
            }
            if round == MAX_PATH_DECODINGS {
                return Some(format!(
                    "the path segment {segment:?} is percent-encoded more than \
                     {MAX_PATH_DECODINGS} levels deep"
                ));
            }
            form = next;
        }
    }
    None
}

/// `/auth/` allows `/auth/` and below; `/auth` allows `/auth` and `/auth/...`, not `/authx`.
fn path_matches(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests;
