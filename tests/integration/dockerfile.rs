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
