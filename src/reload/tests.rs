//! The restart-only rule and the rebuild of the reloadable state.

use super::*;

const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[appwrite]
endpoint = "http://127.0.0.1:9/v1"
project = "p1"
api_key = "standard_0123456789abcdef0123456789abcdef"
[redirect]
allowed = ["http://127.0.0.1:3000/app/"]
[mapping]
id_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
[providers.corp]
type = "oidc"
issuer = "http://127.0.0.1:9/"
client_id = "c"
client_secret = "0123456789abcdef0123456789abcdef"
"#;

fn restart_only(text: &str) -> RestartOnly {
    let config = Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
    RestartOnly::of(&config)
}

#[test]
fn reloadable_changes_name_no_key() {
    let before = restart_only(BASE);
    let after = restart_only(&BASE.replace("client_id = \"c\"", "client_id = \"d\""));
    assert!(before.changed(&after).is_empty());
    let with_limit = format!("{BASE}\n[rate_limit]\nper_ip_per_minute = 5\n");
    assert!(before.changed(&restart_only(&with_limit)).is_empty());
}

#[test]
fn each_restart_only_key_is_named() {
    let before = restart_only(BASE);
    let dir = tempfile::tempdir().expect("tempdir");
    let audit_file = dir.path().join("audit.jsonl");
    let cases = [
        (
            BASE.replace("127.0.0.1:8080", "127.0.0.1:8081"),
            vec!["server.listen", "server.public_url"],
        ),
        (
            BASE.replace("project = \"p1\"", "project = \"p2\""),
            vec!["appwrite.project"],
        ),
        (
            BASE.replace("id_key = \"AAEC", "id_key = \"AQEC"),
            vec!["mapping.id_key"],
        ),
        (
            format!("{BASE}\n[store]\ntransaction_ttl_seconds = 60\n"),
            vec!["store.transaction_ttl_seconds"],
        ),
        (
            format!("{BASE}\n[log]\nformat = \"pretty\"\n"),
            vec!["log.format"],
        ),
        (
            format!("{BASE}\n[audit]\ninclude_email = true\n"),
            vec!["audit.include_email"],
        ),
        (
            format!("{BASE}\n[audit]\nfile = \"{}\"\n", audit_file.display()),
            vec!["audit.file"],
        ),
        (
            format!(
                "{BASE}\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n\
                 encryption_keys = [\"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"]\n"
            ),
            vec!["store.backend"],
        ),
    ];
    // `[server]` keys, each set to a value other than its default.
    let server = [
        (
            "shutdown_grace_seconds = 3",
            "server.shutdown_grace_seconds",
        ),
        ("worker_threads = 0", "server.worker_threads"),
        (
            "header_read_timeout_seconds = 3",
            "server.header_read_timeout_seconds",
        ),
        ("max_connections = 50", "server.max_connections"),
        ("metrics_listen = \"127.0.0.1:0\"", "server.metrics_listen"),
        ("config_watch_seconds = 10", "server.config_watch_seconds"),
    ]
    .map(|(line, key)| {
        (
            BASE.replace("[appwrite]", &format!("{line}\n[appwrite]")),
            vec![key],
        )
    });
    for (text, keys) in cases.into_iter().chain(server) {
        assert_eq!(before.changed(&restart_only(&text)), keys, "{text}");
    }
    // Between two Redis configurations, each store key by its name (a key rotation too).
    let redis = |keys: &str, prefix: &str| {
        format!(
            "{BASE}\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n\
             key_prefix = \"{prefix}\"\nencryption_keys = [{keys}]\n"
        )
    };
    let k1 = "\"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"";
    let k2 = "\"k2:AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"";
    let before = restart_only(&redis(k1, "a:"));
    assert!(before.changed(&restart_only(&redis(k1, "a:"))).is_empty());
    assert_eq!(
        before.changed(&restart_only(&redis(&format!("{k2}, {k1}"), "a:"))),
        ["store.encryption_keys"]
    );
    assert_eq!(
        before.changed(&restart_only(&redis(k1, "b:"))),
        ["store.key_prefix"]
    );
}

#[test]
fn a_rebuild_keeps_the_rate_limiter_only_while_its_budget_is_unchanged() {
    let build = |text: &str, previous: Option<&Live>| {
        let config = Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let store = Arc::new(crate::store::memory::MemoryStore::new(
            config.store.transaction_ttl,
            config.store.max_open_transactions,
            clock.clone(),
        ));
        let metrics = Arc::new(Metrics::new());
        build_live(config, store, clock, &metrics, previous).expect("built")
    };
    let limited = format!("{BASE}\n[rate_limit]\nper_ip_per_minute = 5\n");
    let first = build(&limited, None);
    let same = build(&limited, Some(&first));
    let limiter = |live: &Live| live.rate_limit.clone().expect("limits on");
    assert!(
        Arc::ptr_eq(&limiter(&first), &limiter(&same)),
        "counts kept"
    );
    let changed = build(&limited.replace("= 5", "= 6"), Some(&same));
    assert!(!Arc::ptr_eq(&limiter(&same), &limiter(&changed)));
    assert_eq!(limiter(&changed).per_minute(), 6);
    let off = build(&limited.replace("= 5", "= 0"), Some(&changed));
    assert!(off.rate_limit.is_none());
}

#[test]
fn the_same_id_key_written_otherwise_is_no_change() {
    // Base64 without padding decodes to the same key: not a change.
    let before = restart_only(BASE);
    let after = restart_only(&BASE.replace("Hh8=\"", "Hh8\""));
    assert!(before.changed(&after).is_empty());
}
