//! `idp-bridge check-config --online` as an operator runs it before going live: the real binary
//! against the node oidc-provider, the Appwrite and TypingDNA emulators, a JWKS URL, and an
//! issuer where nothing listens. One run names every broken part, one line per check, and exits
//! 1; a good configuration passes every check and exits 0; nothing upstream changes.

use appwrite_emulator::{ApiKey, Emulator as Appwrite, EmulatorConfig};
use typingdna_emulator::{Emulator as TypingDna, EmulatorConfig as TdnaConfig};

use crate::check_config_cli::{CLEAN, run, text};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, NodeIdp, free_port};

/// The public URL of the check-config test files (`CLEAN`).
const PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// A key of the emulated project with `users.read` only.
const READ_ONLY_KEY: &str = "read-only-key-0123456789";
/// A key of the emulated project with `users.write` only.
const WRITE_ONLY_KEY: &str = "write-only-key-0123456789";

/// The parts a configuration names: Appwrite, the node IdP and TypingDNA.
struct Parts {
    appwrite: Appwrite,
    idp: NodeIdp,
    tdna: TypingDna,
}

impl Parts {
    /// The emulated Appwrite project (its default key, with `users.read` and `users.write`,
    /// first, [`READ_ONLY_KEY`] and [`WRITE_ONLY_KEY`]), the node IdP whose client authenticates with
    /// `auth_method`, and TypingDNA.
    async fn spawn(auth_method: &str) -> Self {
        let mut config = EmulatorConfig::default();
        for (secret, scope) in [
            (READ_ONLY_KEY, "users.read"),
            (WRITE_ONLY_KEY, "users.write"),
        ] {
            config.keys.push(ApiKey {
                secret: secret.into(),
                scopes: vec![scope.into()],
                expired: false,
            });
        }
        Self {
            appwrite: Appwrite::spawn(config).await,
            idp: NodeIdp::spawn(
                &[format!("{PUBLIC_URL}/v1/auth/corp/callback")],
                auth_method,
            )
            .await,
            tdna: TypingDna::spawn(TdnaConfig::default()).await,
        }
    }

    /// The check-config test file up to its providers, with this Appwrite and `api_key`.
    fn head(&self, project: &str, api_key: &str) -> String {
        let head = CLEAN.split("[providers.corp]").next().unwrap_or(CLEAN);
        head.replace("http://127.0.0.1:9/v1", &self.appwrite.endpoint())
            .replace("\"shop-prod\"", &format!("{project:?}"))
            .replace("standard_0123456789abcdef", api_key)
    }

    /// A configuration of every part, with these secrets: `corp` (the node IdP), `typing`
    /// (TypingDNA) and `backend` (a signed assertion provider with the IdP's JWKS).
    fn config(&self, api_key: &str, client_secret: &str, tdna_secret: &str) -> String {
        format!(
            r#"{head}
[providers.corp]
type = "oidc"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{client_secret}"

[providers.typing]
type = "typingdna"
mode = "login"
api_url = "{tdna_url}"
api_key = "{tdna_key}"
api_secret = "{tdna_secret}"
id_salt = "typingdna-test-salt-0123456789abcdef"

[providers.backend]
type = "signed_assertion"
format = "jwt"
issuer = "https://backend.acme.io"
allowed_algs = ["RS256"]
jwks_url = "{issuer}/jwks"
"#,
            head = self.head(self.appwrite.project(), api_key),
            issuer = self.idp.issuer,
            tdna_url = self.tdna.url(),
            tdna_key = self.tdna.api_key(),
        )
    }

    /// The configuration with every secret right.
    fn good_config(&self) -> String {
        self.config(
            self.appwrite.api_key(),
            CLIENT_SECRET,
            self.tdna.api_secret(),
        )
    }

    /// Nothing changed upstream: no Appwrite user or token; TypingDNA was only read.
    #[track_caller]
    fn assert_nothing_written(&self) {
        assert_eq!(self.appwrite.users_count(), 0);
        assert!(self.appwrite.tokens().is_empty());
        let calls = self.tdna.calls();
        assert!(
            calls
                .iter()
                .all(|c| c.method == "GET" && c.path.starts_with("/user/")),
            "{calls:?}"
        );
    }
}

/// `check-config --online` on `text`: its exit status and everything it printed.
async fn check_online(text_of_config: String) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let out = run(&text_of_config, &["check-config", "--online"], &[]);
        (out.status.code(), text(&out))
    })
    .await
    .expect("check-config")
}

#[track_caller]
fn says(all: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            all.lines().any(|l| l.trim_start().starts_with(line)),
            "expected a line starting {line:?} in:\n{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_run_names_a_wrong_secret_a_key_without_users_write_and_an_unreachable_issuer() {
    let parts = Parts::spawn("client_secret_basic").await;
    let nowhere = free_port();
    let file = format!(
        "{}\n[providers.gone]\ntype = \"oidc\"\nissuer = \"http://127.0.0.1:{nowhere}/\"\n\
         client_id = \"gw\"\nclient_secret = \"s3cret-0123456789\"\n",
        parts.config(
            READ_ONLY_KEY,
            "not-the-client-secret-0123",
            "not-the-typingdna-secret-0123"
        )
    );
    let (code, all) = check_online(file).await;
    assert_eq!(code, Some(1), "an online check failed: {all}");
    says(
        &all,
        &[
            "ok      appwrite endpoint:",
            "ok      appwrite project:",
            "ok      appwrite users.read:",
            "FAILED  appwrite users.write: the API key lacks the users.write scope",
            "ok      providers.corp discovery:",
            "ok      providers.corp algorithms:",
            "ok      providers.corp signing keys:",
            "FAILED  providers.corp client credentials: the token endpoint refused the client (HTTP 401 invalid_client); check providers.corp.client_id, client_secret",
            "FAILED  providers.gone discovery:",
            "FAILED  providers.typing credentials:",
            "ok      providers.backend signing keys:",
        ],
    );
    let gone = all
        .lines()
        .find(|l| l.contains("providers.gone discovery"))
        .unwrap_or("");
    assert!(
        gone.contains(&format!("127.0.0.1:{nowhere}")) && gone.contains("reachable"),
        "{gone}"
    );
    assert!(all.contains("4 online check(s) failed"), "{all}");
    for secret in [
        "not-the-client-secret",
        READ_ONLY_KEY,
        "not-the-typingdna-secret",
        CLIENT_SECRET,
    ] {
        assert!(!all.contains(secret), "{secret} was printed: {all}");
    }
    parts.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_configuration_passes_every_online_check() {
    let parts = Parts::spawn("client_secret_basic").await;
    let (code, all) = check_online(parts.good_config()).await;
    assert_eq!(code, Some(0), "{all}");
    says(
        &all,
        &[
            "ok      appwrite users.write:",
            "ok      providers.corp client credentials: the token endpoint authenticated the client",
            "ok      providers.typing credentials:",
            "ok      providers.backend signing keys:",
        ],
    );
    let checks = all.lines().filter(|l| l.starts_with("  ok ")).count();
    assert_eq!(checks, 10, "every check passed:\n{all}");
    assert!(!all.contains("FAILED") && !all.contains("unknown"), "{all}");
    parts.assert_nothing_written();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wrong_client_authentication_method_is_a_credentials_failure() {
    let parts = Parts::spawn("client_secret_post").await;
    let (code, all) = check_online(parts.good_config()).await;
    assert_eq!(code, Some(1), "{all}");
    says(
        &all,
        &[
            "FAILED  providers.corp client credentials: the token endpoint refused the client (HTTP 401 invalid_client); check providers.corp.client_id, client_secret and token_endpoint_auth_method (now client_secret_basic)",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_appwrite_mistake_is_named_where_the_call_stopped() {
    let parts = Parts::spawn("client_secret_basic").await;
    let hook = "[providers.hook]\ntype = \"signed_assertion\"\nformat = \"hmac\"\n\
                hmac_secrets = [\"hook-secret-0123456789abcdef0123\"]\n";
    let file = |project: &str, key: &str| format!("{}{hook}", parts.head(project, key));
    let (project, key) = (parts.appwrite.project(), parts.appwrite.api_key());
    let cases = [
        (
            file("no-such-project", key),
            "FAILED  appwrite project: Appwrite has no project \"no-such-project\"",
        ),
        (
            file(project, WRITE_ONLY_KEY),
            "FAILED  appwrite users.read: the API key lacks the users.read scope",
        ),
        (
            file(project, WRITE_ONLY_KEY),
            "ok      appwrite users.write:",
        ),
        (
            file(project, "unknown-key-0123456789"),
            "FAILED  appwrite api key: Appwrite does not know this API key",
        ),
        (
            file(project, key),
            "ok      providers.hook signing keys: in the configuration; nothing to fetch",
        ),
    ];
    for (config, line) in cases {
        let (code, all) = check_online(config).await;
        says(&all, &[line]);
        let failed = all.contains("FAILED");
        assert_eq!(code, Some(if failed { 1 } else { 0 }), "{all}");
        for secret in ["unknown-key-0123456789", WRITE_ONLY_KEY, key] {
            assert!(!all.contains(secret), "{secret} was printed: {all}");
        }
    }
    parts.assert_nothing_written();
}
