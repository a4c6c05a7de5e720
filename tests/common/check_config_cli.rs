//! `idp-bridge check-config` run as a user runs it: the real binary over a configuration file,
//! with only the environment variables a case sets. Shared by the repository checks
//! (`tests/repository/check_config.rs`) and the integration tests of `--online`.

use std::path::Path;
use std::process::{Command, Output};

/// A configuration with no problem and no warning (loopback URLs, made-up but real-looking
/// values).
pub(crate) const CLEAN: &str = r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:8080"

[appwrite]
endpoint = "http://127.0.0.1:9/v1"
project = "shop-prod"
api_key = "standard_0123456789abcdef"

[redirect]
allowed = ["http://127.0.0.1:3000/auth/"]

[mapping]
id_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

[providers.corp]
type = "oidc"
display_name = "Corporate SSO"
issuer = "http://127.0.0.1:9/"
client_id = "gw"
client_secret = "s3cret-0123456789"
"#;

/// [`command`] over `text`, written to a temporary file.
pub(crate) fn run(text: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    command(&path, args, env)
}

/// `idp-bridge <args> --config <path>` with only the `IDP_BRIDGE_*` variables of `env`.
pub(crate) fn command(path: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idp-bridge"));
    command.args(args).arg("--config").arg(path);
    // Only the variables a case sets: none leaks in from the developer's shell.
    for (name, _) in std::env::vars() {
        if name.starts_with("IDP_BRIDGE_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run idp-bridge")
}

/// Everything the command printed, stdout then stderr.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
