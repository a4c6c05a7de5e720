//! `idp-bridge healthcheck`, the container's HEALTHCHECK: it probes `/healthz` on the address
//! the configuration listens on (file, or `IDP_BRIDGE_SERVER__LISTEN`), so it follows the port.

use appwrite_emulator::{Emulator, EmulatorConfig};
use mock_op::MockOp;

use crate::helpers::{Options, Served, config_toml, listening_on, mock_config};
use crate::idp::free_port;

/// Runs `idp-bridge healthcheck --config <path>` with `listen` (if any) as the environment's
/// listen address; returns the exit code and what it printed on stderr.
async fn healthcheck(path: &std::path::Path, listen: Option<u16>) -> (i32, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"));
    command.args(["healthcheck", "--config"]).arg(path);
    command.env_remove("IDP_BRIDGE_SERVER__LISTEN");
    if let Some(port) = listen {
        command.env("IDP_BRIDGE_SERVER__LISTEN", format!("0.0.0.0:{port}"));
    }
    let output = command.output().await.expect("run healthcheck");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn healthcheck_follows_the_configured_listen_address() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let op = MockOp::spawn(mock_config()).await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let config = listening_on(
        port,
        &config_toml(&gateway, &op.issuer(), &emulator, &Options::mock()),
    )
    .replace("format = \"pretty\"", "format = \"json\"");
    // The probe reads its own copy: the served one goes with the process.
    let (served_dir, probe_dir) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let served_path = served_dir.path().join("config.toml");
    let path = probe_dir.path().join("config.toml");
    std::fs::write(&served_path, &config).expect("write config");
    std::fs::write(&path, &config).expect("write config");
    let served = Served::start_file(port, &served_path, served_dir).await;

    assert_eq!(healthcheck(&path, None).await, (0, String::new()));
    // The environment moves the listen address; `0.0.0.0` is probed on loopback.
    let (code, _) = healthcheck(&path, Some(port)).await;
    assert_eq!(code, 0);
    let elsewhere = free_port();
    let (code, stderr) = healthcheck(&path, Some(elsewhere)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{elsewhere}/healthz")),
        "{stderr}"
    );

    served.stop().await;
    let (code, stderr) = healthcheck(&path, None).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no answer from"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "the cause: {stderr}");
}

#[tokio::test]
async fn healthcheck_of_a_missing_config_says_which_file() {
    let (code, stderr) = healthcheck(std::path::Path::new("/nonexistent/config.toml"), None).await;
    assert_eq!(code, 1, "Docker reserves a HEALTHCHECK exit status of 2");
    assert!(stderr.contains("/nonexistent/config.toml"), "{stderr}");
}
