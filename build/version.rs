//! The version and commit a build reports (`idp-bridge --version`, the `idp_bridge_build_info`
//! metric), shared by `build.rs` and the tests that check its rules.
//!
//! By default the version is the crate's and the commit is git's. A container build passes
//! both (`IDP_BRIDGE_VERSION`, `IDP_BRIDGE_COMMIT`, from the Dockerfile's `VERSION` and
//! `COMMIT` build arguments): its build context has no `.git`, and its image is tagged with
//! `VERSION`, so `--version` names the tag the image runs under. A version may only add a
//! pre-release suffix to the crate's (`0.1.0-rc.1` on a 0.1.0 crate), so a tag can never claim
//! another release than the code it holds.

/// The version to report: the crate's, or `requested` when it is the crate's version with
/// nothing or a `-<suffix>` after it (letters, digits, `.` and `-`: what an image tag allows).
/// An empty `requested` counts as none.
///
/// # Errors
/// Why `requested` is refused.
pub fn reported_version(requested: Option<&str>, crate_version: &str) -> Result<String, String> {
    let Some(requested) = requested.filter(|v| !v.is_empty()) else {
        return Ok(crate_version.to_string());
    };
    let suffix_ok = |suffix: &str| {
        !suffix.is_empty()
            && suffix.len() <= 64
            && suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    match requested.strip_prefix(crate_version) {
        Some("") => Ok(requested.to_string()),
        Some(rest) if rest.strip_prefix('-').is_some_and(suffix_ok) => Ok(requested.to_string()),
        _ => Err(format!(
            "IDP_BRIDGE_VERSION (the image's VERSION build argument) is {requested:?}, but this \
             source is version {crate_version} (Cargo.toml): give {crate_version}, or \
             {crate_version}-<suffix> for a pre-release"
        )),
    }
}

/// The commit to report: `requested` when given (4 to 40 lower-case hex digits, as `git
/// rev-parse --short` writes them), else none (the caller asks git). An empty `requested`
/// counts as none.
///
/// # Errors
/// Why `requested` is refused.
pub fn reported_commit(requested: Option<&str>) -> Result<Option<String>, String> {
    let Some(requested) = requested.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let hex = requested
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if hex && (4..=40).contains(&requested.len()) {
        Ok(Some(requested.to_string()))
    } else {
        Err(format!(
            "IDP_BRIDGE_COMMIT (the image's COMMIT build argument) is {requested:?}: give a commit \
             id of 4 to 40 lower-case hex digits, e.g. $(git rev-parse --short=12 HEAD)"
        ))
    }
}
