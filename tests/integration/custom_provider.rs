//! "Adding a provider is one crate and one registration line", proven: a tiny provider defined
//! only here, in the test crate, is registered through the public API (`Registry::with`,
//! `Config::from_toml_with`) and logs a user in through the real gateway and the Appwrite
//! emulator, with no change to `src/`.
//!
//! The provider, `tiny-test`, is a toy "instant" IdP: its authorization URL sends the browser
//! straight back to the gateway's callback with a one-time ticket that it also keeps in the
//! login's opaque `LoginData`; its callback accepts the login only if the ticket matches.

use std::sync::Arc;

use appwrite_emulator::{Emulator, EmulatorConfig};
use async_trait::async_trait;
use idp_bridge::config::Config;
use idp_bridge::registry::{ProviderType, Registry};
use idp_provider_api::{
    Authorization, AuthorizationRequest, CallbackInput, Identity, LoginData, OpenContext,
    OpenError, Provider, ProviderError, ProviderInfo, RedirectFlow,
};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::helpers::{
    Bare, BareGateway, FAILURE, SUCCESS, browser, create_session, get_json, location, param,
};

/// The type name the test registers.
const KIND: &str = "tiny-test";
/// The issuer of the tiny provider's identities.
const ISSUER: &str = "https://tiny.test";

/// The whole provider: no configuration keys, no network.
struct TinyProvider {
    info: ProviderInfo,
}

/// Its `open`, the function the registration line names.
fn open_tiny(
    info: ProviderInfo,
    table: Value,
    _context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    match table.as_object() {
        Some(keys) if keys.is_empty() => Ok(Arc::new(TinyProvider { info })),
        _ => Err(OpenError {
            problems: vec![idp_provider_api::ConfigProblem::new(
                format!("providers.{}", info.id),
                "tiny-test takes no keys",
            )],
        }),
    }
}

#[async_trait]
impl Provider for TinyProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn redirect(&self) -> Option<&dyn RedirectFlow> {
        Some(self)
    }

    async fn ready(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[async_trait]
impl RedirectFlow for TinyProvider {
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Authorization, ProviderError> {
        let user = request.login_hint.unwrap_or("anonymous");
        let ticket = uuid::Uuid::new_v4().to_string();
        let mut url = request.redirect_uri.clone();
        url.query_pairs_mut()
            .append_pair("state", request.state.expose())
            .append_pair("ticket", &ticket)
            .append_pair("user", user);
        Ok(Authorization {
            url,
            data: LoginData::new(ticket),
        })
    }

    async fn callback(&self, input: CallbackInput<'_>) -> Result<Identity, ProviderError> {
        let ticket =
            input
                .params
                .single("ticket")
                .ok_or_else(|| ProviderError::InvalidRequest {
                    param: "ticket",
                    reason: "missing".into(),
                })?;
        if ticket.expose() != input.data.expose() {
            return Err(ProviderError::rejected(
                "tiny_ticket_mismatch",
                "the ticket is not the one issued",
            ));
        }
        let user = input
            .params
            .single("user")
            .map(|u| u.expose().clone())
            .unwrap_or_default();
        Ok(Identity::verified(self.info.id.clone(), ISSUER, user))
    }
}

/// The gateway with only the tiny provider, in front of the emulator.
async fn spawn() -> (String, Emulator, BareGateway) {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let providers = format!(
        r#"
[providers.tiny]
type = "{KIND}"
display_name = "Tiny"
"#
    );
    let gateway = BareGateway::spawn(
        &emulator,
        Bare {
            server_extra: "",
            rate_limit_per_minute: 0,
            providers: &providers,
            // The registration line.
            registry: Registry::default().with(KIND, open_tiny),
        },
    )
    .await;
    (gateway.url.clone(), emulator, gateway)
}

/// Starts a login for `user` and returns the callback URL the tiny provider sends the
/// browser to, with the browser that holds the binding cookie.
async fn started(gateway: &str, user: &str) -> (reqwest::Client, Url) {
    let browser = browser();
    let mut start = Url::parse(&format!("{gateway}/v1/auth/tiny/start")).expect("url");
    start
        .query_pairs_mut()
        .append_pair("success", SUCCESS)
        .append_pair("failure", FAILURE)
        .append_pair("login_hint", user);
    let response = browser.get(start).send().await.expect("start");
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = location(&response);
    assert!(
        callback
            .as_str()
            .starts_with(&format!("{gateway}/v1/auth/tiny/callback?")),
        "{callback}"
    );
    (browser, callback)
}

#[tokio::test]
async fn a_provider_defined_outside_src_logs_a_user_in() {
    let (gateway, emulator, _stop) = spawn().await;
    let listed = get_json(&format!("{gateway}/v1/providers")).await;
    assert!(listed.to_string().contains(KIND), "{listed}");

    let (browser, callback) = started(&gateway, "carol").await;
    let response = browser.get(callback).send().await.expect("callback");
    assert_eq!(response.status(), StatusCode::FOUND);
    let landed = location(&response);
    assert!(landed.as_str().starts_with(SUCCESS), "{landed}");
    let user_id = param(&landed, "userId").expect("userId");
    let secret = param(&landed, "secret").expect("secret");
    let (status, session) = create_session(&emulator, &user_id, &secret).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(emulator.tokens().len(), 1);
}

#[tokio::test]
async fn the_tiny_providers_own_check_fails_closed_through_the_shared_pipeline() {
    let (gateway, emulator, _stop) = spawn().await;
    let (browser, mut callback) = started(&gateway, "carol").await;
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "ticket" {
                "forged".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    callback.query_pairs_mut().clear().extend_pairs(pairs);
    let response = browser.get(callback).send().await.expect("callback");
    let landed = location(&response);
    assert!(landed.as_str().starts_with(FAILURE), "{landed}");
    let error: Value =
        serde_json::from_str(&param(&landed, "error").expect("error")).expect("json");
    assert_eq!(error["type"], "tiny_ticket_mismatch");
    assert!(emulator.tokens().is_empty(), "nothing minted");
    assert_eq!(emulator.users_count(), 0, "no user created");
}

#[tokio::test]
async fn a_reload_knows_the_provider_types_the_program_registered() {
    use idp_bridge::clock::SystemClock;
    use idp_bridge::config::Config;
    use idp_bridge::reload::{ConfigSource, Reloader, RestartOnly};
    use idp_bridge::startup::build_state;

    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let table =
        |name: &str| format!("[providers.tiny]\ntype = \"{KIND}\"\ndisplay_name = \"{name}\"\n");
    let text = |name: &str| {
        format!(
            "[appwrite]\nendpoint = \"{}\"\nproject = \"{}\"\napi_key = \"{}\"\n\
             [mapping]\nid_key = \"{}\"\n[redirect]\nallowed = [\"{}\"]\n{}",
            emulator.endpoint(),
            emulator.project(),
            emulator.api_key(),
            idp_bridge::login::mapping::IdKey::generate().expect("key"),
            crate::helpers::APP,
            table(name),
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let first = text("Tiny");
    std::fs::write(&path, &first).expect("write");
    let registry = Registry::default().with(KIND, open_tiny);
    let config = Config::load_with(&path, &registry).expect("the program's own type loads");
    let started = RestartOnly::of(&config);
    let state = build_state(config, Arc::new(SystemClock)).expect("state");
    let reloader = Reloader::new(
        ConfigSource {
            path: path.clone(),
            allow_warnings: false,
            registry,
        },
        started,
        state.live.clone(),
        state.metrics.clone(),
    );
    // The same file with another display name (the id key kept: it is restart-only).
    let key_line = first
        .lines()
        .find(|l| l.starts_with("id_key"))
        .expect("id_key");
    let second = text("Tiny Two");
    let second = second.replace(
        second
            .lines()
            .find(|l| l.starts_with("id_key"))
            .expect("id_key"),
        key_line,
    );
    std::fs::write(&path, &second).expect("rewrite");
    let reloaded = reloader
        .reload()
        .await
        .unwrap_or_else(|e| panic!("the reload refused the program's own provider type: {e}"));
    assert_eq!(reloaded.providers, 1);
    let live = state.live.load();
    let names: Vec<String> = live
        .login
        .providers()
        .map(|p| p.info().display_name.clone())
        .collect();
    assert_eq!(names, ["Tiny Two"]);
}

/// `keyed-test`: the tiny provider, opened only with the `token` its table must hold.
fn open_keyed(
    info: ProviderInfo,
    table: Value,
    _context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    match table.get("token").and_then(Value::as_str) {
        Some("from-the-file") => Ok(Arc::new(TinyProvider { info })),
        other => Err(OpenError {
            problems: vec![idp_provider_api::ConfigProblem::new(
                format!("providers.{}.token", info.id),
                format!("expected the file's token, got {other:?}"),
            )],
        }),
    }
}

fn keyed(secret_keys: &'static [&'static str]) -> Registry {
    Registry::default().with_type(ProviderType {
        kind: "keyed-test",
        open: open_keyed,
        keys: Some(|| vec!["token"]),
        secret_keys,
    })
}

/// An embedded type declares its secret keys (`Registry::with_type`), and they come from files
/// as the built-in types' do; a type that declares none takes no `_file` key.
#[test]
fn an_embedded_providers_secret_keys_may_come_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "from-the-file\n").expect("write");
    let text = format!(
        r#"
[appwrite]
endpoint = "https://appwrite.example.com/v1"
project = "p"
api_key = "standard_0123456789"
[mapping]
id_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
[redirect]
allowed = ["https://app.example.com/auth/"]
[providers.k]
type = "keyed-test"
token_file = "{}"
"#,
        token.display()
    );
    Config::from_toml_with(&text, &keyed(&["token"])).expect("the token comes from its file");
    let refused = Config::from_toml_with(&text, &keyed(&[]))
        .expect_err("no secret keys declared")
        .to_string();
    assert!(
        refused.contains(
            "providers.k.token_file: unknown key; \"token\" takes no _file form (this table has no secret keys)"
        ),
        "{refused}"
    );
}
