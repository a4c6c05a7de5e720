//! `[server] config_watch_seconds`: the real binary checks its own configuration file and
//! reloads it when its SHA-256 changed, as SIGHUP does (the same rules, log line and metric),
//! so no other process needs to signal it. The file is replaced the ways deployments replace
//! it: a new file renamed over it, a Kubernetes ConfigMap volume's `..data` symlink swapped, a
//! write in place. A refused file is refused once, not at every check; with 0, the default,
//! nothing is watched.

use std::path::Path;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{APP, FAILURE, SUCCESS, browser, param, served_config};
use crate::reload::{Gateway, assert_no_secrets};

/// The `[server]` key that turns watching on, every second.
const WATCH_EVERY_SECOND: &str = "config_watch_seconds = 1";

/// What the gateway logs when it starts watching, and at each check (at trace level).
const WATCHING: &str = "watching the configuration file";
const CHECKED: &str = "configuration file checked";

/// Another allowed app, for a reload that moves `[redirect] allowed` there.
const ELSEWHERE: &str = "http://127.0.0.1:3000/elsewhere/";

/// `text` (from [`Gateway::config`]) as the bytes of the gateway's file.
fn file_bytes(gateway: &Gateway, text: &str) -> String {
    let port = url::Url::parse(&gateway.url)
        .expect("url")
        .port()
        .expect("port");
    served_config(port, text)
}

fn sha256(text: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(text.as_bytes()))
}

/// Waits for the gateway's `n`th reload outcome (`config reloaded` or `config reload
/// refused`): its log line.
async fn outcome(gateway: &Gateway, n: usize) -> String {
    let logs = gateway.served().wait_for_log("config reload", n).await;
    let lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("config reload"))
        .collect();
    assert_eq!(lines.len(), n, "one outcome more than awaited:\n{logs}");
    lines[n - 1].to_string()
}

/// Asserts that the reload outcome `line` is `config reloaded` with the checksum of `bytes`.
#[track_caller]
fn assert_reloaded(line: &str, bytes: &str) {
    assert!(line.contains("config reloaded"), "{line}");
    assert!(line.contains(&sha256(bytes)), "{line}");
}

/// Renames `bytes` over `path` and waits for the gateway's `n`th reload outcome: it is
/// `config reloaded`, with the new file's checksum.
async fn renamed_over_and_reloaded(gateway: &Gateway, path: &Path, bytes: &str, n: usize) {
    rename_over(path, bytes);
    assert_reloaded(&outcome(gateway, n).await, bytes);
}

/// Writes `bytes` to a new file beside `path` and renames it over `path`, as most tools that
/// save a file do: a reader sees the old file or the new one, whole.
fn rename_over(path: &Path, bytes: &str) {
    let staged = path.with_extension("toml.new");
    std::fs::write(&staged, bytes).expect("write the new file");
    std::fs::rename(&staged, path).expect("rename it over the old one");
}

/// Publishes `bytes` as version `version` of a ConfigMap volume in `dir`, the way the kubelet
/// updates one: the files go into a new hidden folder, then a new `..data` symlink to it is
/// renamed over the old one (one atomic step). `config.toml` is a symlink to
/// `..data/config.toml`, made by the first version.
fn configmap_version(dir: &Path, version: &str, bytes: &str) {
    let folder = dir.join(format!("..{version}"));
    std::fs::create_dir(&folder).expect("version folder");
    std::fs::write(folder.join("config.toml"), bytes).expect("write the version");
    let staged = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &staged).expect("symlink ..data_tmp");
    std::fs::rename(&staged, dir.join("..data")).expect("swap ..data");
    let file = dir.join("config.toml");
    if !file.is_symlink() {
        let link = dir.join("config.toml.link");
        std::os::unix::fs::symlink("..data/config.toml", &link).expect("symlink config.toml");
        std::fs::rename(&link, &file).expect("config.toml becomes the symlink");
    }
}

/// Starts a login for `sub` at `provider` and lets it finish: the secret minted.
async fn minted_secret(gateway: &Gateway, provider: &str, sub: &str) -> String {
    let browser = browser();
    let callback = gateway.to_callback(&browser, provider, sub).await;
    let landed = Gateway::finish(&browser, &callback).await;
    gateway.assert_success(&landed).await;
    param(&landed, "secret").expect("secret")
}

/// The status of a login start that returns to `success`.
async fn start_status(gateway: &Gateway, success: &str, failure: &str) -> StatusCode {
    let mut start = url::Url::parse(&format!("{}/v1/auth/corp/start", gateway.url)).expect("url");
    start
        .query_pairs_mut()
        .append_pair("success", success)
        .append_pair("failure", failure);
    browser().get(start).send().await.expect("start").status()
}

#[tokio::test]
async fn a_watched_file_reloads_when_renamed_over_swapped_as_a_configmap_or_written_in_place() {
    let mut gateway = Gateway::start(WATCH_EVERY_SECOND, false).await;
    let path = gateway.served().path().to_path_buf();
    let dir = path.parent().expect("a folder").to_path_buf();
    gateway.served().wait_for_log(WATCHING, 1).await;
    assert_eq!(gateway.providers().await, ["corp"]);

    // A new file renamed over the old one: a new provider, logged with the file's checksum.
    let with_other = file_bytes(&gateway, &gateway.config(true));
    renamed_over_and_reloaded(&gateway, &path, &with_other, 1).await;
    assert_eq!(gateway.providers().await, ["corp", "other"]);
    gateway.login("other", "alice").await;

    // The same bytes as a ConfigMap volume (config.toml now a symlink through ..data): no
    // change, no reload. Then a new version of the ConfigMap moves the redirect elsewhere.
    configmap_version(&dir, "v1", &with_other);
    let elsewhere = file_bytes(&gateway, &gateway.config(true).replace(APP, ELSEWHERE));
    configmap_version(&dir, "v2", &elsewhere);
    assert_reloaded(&outcome(&gateway, 2).await, &elsewhere);
    assert_eq!(
        start_status(&gateway, SUCCESS, FAILURE).await,
        StatusCode::BAD_REQUEST,
        "the old app is no longer allowed"
    );
    let (success, failure) = (format!("{ELSEWHERE}done"), format!("{ELSEWHERE}failed"));
    assert_eq!(
        start_status(&gateway, &success, &failure).await,
        StatusCode::FOUND
    );

    // Written in place, through the symlink: `other` gone, and 80-character secrets.
    let in_place = file_bytes(
        &gateway,
        &gateway.config(false).replace("length = 64", "length = 80"),
    );
    std::fs::write(&path, &in_place).expect("write in place");
    assert_reloaded(&outcome(&gateway, 3).await, &in_place);
    assert_eq!(gateway.providers().await, ["corp"]);
    assert_eq!(minted_secret(&gateway, "corp", "bob").await.len(), 80);
    assert_eq!(gateway.reloads_counted("success").await, 3);
    assert_no_secrets(&gateway.stop().await, &gateway.secrets());
}

#[tokio::test]
async fn a_watched_file_that_is_refused_is_not_retried_until_it_changes() {
    let mut gateway = Gateway::start(WATCH_EVERY_SECOND, false).await;
    let path = gateway.served().path().to_path_buf();
    let good = gateway.config(false);
    let api_key = gateway.emulator.api_key().to_string();

    // Not TOML (a string that never ends): refused once, naming why, never quoting the line.
    let broken = file_bytes(
        &gateway,
        &good.replace(
            &format!("api_key = \"{api_key}\""),
            &format!("api_key = \"{api_key}"),
        ),
    );
    rename_over(&path, &broken);
    let line = outcome(&gateway, 1).await;
    assert!(line.contains("config reload refused"), "{line}");
    assert!(line.contains("cannot read the configuration"), "{line}");
    // Three more checks of the same file: no second refusal.
    let checks = gateway.served().logs().matches(CHECKED).count();
    let logs = gateway.served().wait_for_log(CHECKED, checks + 3).await;
    assert_eq!(
        logs.matches("config reload").count(),
        1,
        "the refused file was tried again:\n{logs}"
    );
    assert_eq!(gateway.reloads_counted("failure").await, 1);
    assert_eq!(gateway.providers().await, ["corp"], "the old one serves");
    gateway.login("corp", "alice").await;

    // A restart-only key changed: refused once, naming the key.
    let restart_only = file_bytes(
        &gateway,
        &gateway
            .config(true)
            .replace(WATCH_EVERY_SECOND, "config_watch_seconds = 2"),
    );
    std::fs::write(&path, &restart_only).expect("write in place");
    let line = outcome(&gateway, 2).await;
    assert!(line.contains("server.config_watch_seconds"), "{line}");

    // Fixed: applied at the next checks.
    let fixed = file_bytes(&gateway, &gateway.config(true));
    renamed_over_and_reloaded(&gateway, &path, &fixed, 3).await;
    assert_eq!(gateway.providers().await, ["corp", "other"]);
    assert_eq!(gateway.reloads_counted("failure").await, 2);
    assert_eq!(gateway.reloads_counted("success").await, 1);
    assert_no_secrets(&gateway.stop().await, &gateway.secrets());
}

#[tokio::test]
async fn without_config_watch_seconds_only_sighup_reloads() {
    let mut gateway = Gateway::start("", false).await;
    let path = gateway.served().path().to_path_buf();
    let with_other = file_bytes(&gateway, &gateway.config(true));
    rename_over(&path, &with_other);
    // The task that would watch is the one that answers SIGHUP; it says so before either.
    gateway.served().signal("HUP");
    let line = outcome(&gateway, 1).await;
    assert!(line.contains(&sha256(&with_other)), "{line}");
    let logs = gateway.stop().await;
    assert!(
        logs.contains("SIGHUP: reloading the configuration"),
        "{logs}"
    );
    assert!(!logs.contains(WATCHING), "{logs}");
    assert!(!logs.contains(CHECKED), "{logs}");
    assert_eq!(logs.matches("config reload").count(), 1, "{logs}");
}
