//! The Dockerfile's dependency layer copies every workspace member's manifest (cargo cannot
//! resolve the workspace without all of them), so adding a crate without updating it breaks
//! `docker build`. No container engine runs here; this keeps the file in step with Cargo.toml.

use std::path::Path;

#[test]
fn the_dockerfile_copies_and_stubs_every_workspace_member() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("TOML");
    let members: Vec<&str> = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != ".")
        .collect();
    assert!(members.len() >= 5, "{members:?}");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let stub_loop = dockerfile
        .lines()
        .skip_while(|l| !l.contains("for dir in ."))
        .take_while(|l| !l.contains("; do"))
        .chain(dockerfile.lines().filter(|l| l.contains("; do")).take(1))
        .collect::<Vec<_>>()
        .join(" ");
    for member in members {
        assert!(
            dockerfile.contains(&format!("COPY {member}/Cargo.toml {member}/")),
            "the Dockerfile does not copy {member}/Cargo.toml"
        );
        assert!(
            stub_loop
                .split_whitespace()
                .any(|w| w.trim_end_matches(';') == member),
            "the Dockerfile's stub loop does not list {member}: {stub_loop}"
        );
    }
}

/// The HEALTHCHECK asks the binary, which reads the configured listen address, instead of a
/// fixed port that a changed `IDP_BRIDGE_SERVER__LISTEN` would leave behind.
#[test]
fn the_healthcheck_follows_the_configured_port() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let healthcheck: String = dockerfile
        .lines()
        .skip_while(|l| !l.starts_with("HEALTHCHECK"))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        healthcheck.contains(r#"CMD ["idp-bridge", "healthcheck"]"#),
        "{healthcheck}"
    );
    assert!(!healthcheck.contains("8080"), "{healthcheck}");
    assert!(
        dockerfile.contains("IDP_BRIDGE_CONFIG=/etc/idp-bridge/config.toml"),
        "serve and healthcheck must read the same configuration"
    );
}

/// The version rules of `build.rs`, which the image build relies on.
#[path = "../../build/version.rs"]
mod build_version;

/// The image reports the version it is tagged with: `VERSION` reaches `build.rs`, which takes
/// only the crate's version (or a pre-release of it), and the build checks the binary's
/// `--version` line against `VERSION` and `COMMIT`.
#[test]
fn the_image_reports_the_version_it_is_tagged_with() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    for line in [
        "ARG VERSION=\"\"",
        "ARG COMMIT=\"\"",
        "IDP_BRIDGE_VERSION=\"${VERSION}\" IDP_BRIDGE_COMMIT=\"${COMMIT}\" \\",
        "expected=\"idp-bridge ${VERSION} (commit ${COMMIT:-unknown})\"; \\",
        "org.opencontainers.image.version=\"${VERSION}\" \\",
        "-t \"idp-bridge:$VERSION\" .",
    ] {
        assert!(dockerfile.contains(line), "the Dockerfile lacks {line:?}");
    }

    use build_version::{reported_commit, reported_version};
    let ok = |v: &str| reported_version(Some(v), "0.4.2");
    assert_eq!(reported_version(None, "0.4.2"), Ok("0.4.2".into()));
    assert_eq!(reported_version(Some(""), "0.4.2"), Ok("0.4.2".into()));
    assert_eq!(ok("0.4.2"), Ok("0.4.2".into()));
    assert_eq!(ok("0.4.2-rc.1"), Ok("0.4.2-rc.1".into()));
    for refused in [
        "0.4.3",
        "v0.4.2",
        "0.4.2-",
        "0.4.20",
        "0.4.2+build",
        "0.4.2-a b",
        "latest",
    ] {
        let error = ok(refused).expect_err(refused);
        assert!(error.contains("this source is version 0.4.2"), "{error}");
    }
    assert_eq!(reported_commit(None), Ok(None));
    assert_eq!(reported_commit(Some("")), Ok(None));
    assert_eq!(
        reported_commit(Some("1a2b3c4d5e6f")),
        Ok(Some("1a2b3c4d5e6f".into()))
    );
    for refused in ["abc", "1A2B3C", "1a2b3c4d5e6f)", "not-a-commit"] {
        assert!(reported_commit(Some(refused)).is_err(), "{refused}");
    }
}
