//! `idp-bridge init --provider KIND`: a commented configuration to start from, for one of the
//! providers users ask for first. The keys the gateway makes itself (`[mapping] id_key`) are
//! generated; what only the user knows (the Appwrite project and key, the provider's client,
//! the app's URL) is left as `replace-me`, which `check-config` reports as a warning and `serve`
//! refuses, so a half-filled file never goes live.

use crate::login::user_id::IdKey;

/// The providers `init` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Auth0 (`type = "auth0"`).
    Auth0,
    /// Google (`type = "google"`).
    Google,
    /// Microsoft Entra ID (`type = "entra"`).
    Entra,
    /// Okta (`type = "oidc"`, a custom authorization server).
    Okta,
    /// Keycloak (`type = "oidc"`, a realm).
    Keycloak,
    /// Any OpenID Connect provider (`type = "oidc"`).
    Oidc,
}

impl Preset {
    /// The provider id the file uses (the table name, and the path of its callback).
    pub fn id(self) -> &'static str {
        match self {
            Self::Auth0 => "auth0",
            Self::Google => "google",
            Self::Entra => "entra",
            Self::Okta => "okta",
            Self::Keycloak => "keycloak",
            Self::Oidc => "corp",
        }
    }

    /// The `[providers.<id>]` table, commented.
    fn table(self) -> &'static str {
        match self {
            Self::Auth0 => {
                r#"[providers.auth0]
type = "auth0"
display_name = "Auth0"
# Your tenant's domain (the issuer is https://{domain}/, trailing slash included).
domain = "replace-me.eu.auth0.com"
# The Regular Web Application's credentials (Applications > your app > Settings).
client_id = "replace-me"
client_secret = "replace-me"            # or client_secret_file = "/run/secrets/auth0"
# custom_domains = ["login.your-company.com"]     # more accepted issuers
# organization = "org_..."                         # sent to /authorize; org_id must equal it
# allowed_organizations = ["org_...", "org_..."]
# allowed_connections = ["auth0", "google-oauth2"] # the sub prefix before "|"
# require_mfa = true                               # amr must contain "mfa"
# Back-channel logout (OpenID Connect Back-Channel Logout; Auth0 Enterprise plans): in
# Applications > your app > Settings > "OpenID Connect Back-Channel Logout", set the URI
# {public_url}/v1/auth/auth0/backchannel-logout; Auth0's logout tokens carry sub and sid.
# backchannel_logout = true
"#
            }
            Self::Google => {
                r#"[providers.google]
type = "google"
display_name = "Google"
# Google Cloud console > APIs & Services > Credentials > OAuth client ID (Web application).
client_id = "replace-me.apps.googleusercontent.com"
client_secret = "replace-me"            # or client_secret_file
# Only these Google Workspace domains (the signed token's hd claim):
# hosted_domains = ["your-company.com"]
# Google sends no back-channel logout tokens: leave backchannel_logout off.
"#
            }
            Self::Entra => {
                r#"[providers.entra]
type = "entra"
display_name = "Microsoft"
# "organizations" (work and school accounts), "common" (those and personal accounts),
# "consumers" (personal only), or one tenant id.
tenant = "organizations"
# With organizations or common: the tenant ids (GUIDs) allowed to log in, or ["*"] for all.
# The nil GUID below is a blank to fill (check-config warns until it is replaced).
allowed_tenants = ["00000000-0000-0000-0000-000000000000"]
# Entra admin center > App registrations > your app.
client_id = "replace-me"
client_secret = "replace-me"            # or client_secret_file
# Entra ID sends no back-channel logout tokens (it has front-channel logout only), and this type
# refuses backchannel_logout = true.
"#
            }
            Self::Okta => {
                r#"[providers.okta]
type = "oidc"
display_name = "Okta"
# The authorization server: https://{org}.okta.com/oauth2/default (a custom server), or the
# org server https://{org}.okta.com (no trailing slash).
issuer = "https://replace-me.okta.com/oauth2/default"
client_id = "replace-me"
client_secret = "replace-me"            # or client_secret_file
# Okta's Single Logout for OIDC apps goes through the browser (front-channel); its documentation
# describes no OpenID Connect back-channel logout tokens sent to apps. Leave backchannel_logout
# off unless your app's settings offer a back-channel logout URI.
"#
            }
            Self::Keycloak => {
                r#"[providers.keycloak]
type = "oidc"
display_name = "Keycloak"
# https://{host}/realms/{realm} (before Keycloak 17: https://{host}/auth/realms/{realm}).
issuer = "https://replace-me.your-company.com/realms/replace-me"
client_id = "replace-me"
client_secret = "replace-me"            # or client_secret_file
# Back-channel logout: in Clients > your client > Settings > Logout settings, set "Backchannel
# logout URL" to {public_url}/v1/auth/keycloak/backchannel-logout and keep "Backchannel logout
# session required" on (its tokens then carry sid as well as sub).
# backchannel_logout = true
"#
            }
            Self::Oidc => {
                r#"[providers.corp]
type = "oidc"
display_name = "Corporate SSO"
# The issuer exactly as the provider's discovery document announces it.
issuer = "https://replace-me.your-company.com/"
client_id = "replace-me"
client_secret = "replace-me"            # or client_secret_file
# scopes = ["openid", "email", "profile"]
# allowed_algs = ["RS256"]
# If the provider sends OpenID Connect Back-Channel Logout tokens, register
# {public_url}/v1/auth/corp/backchannel-logout as the client's backchannel_logout_uri, then:
# backchannel_logout = true
"#
            }
        }
    }
}

/// The whole file for `preset`, with a fresh `[mapping] id_key`.
///
/// # Errors
/// When the operating system's random source fails.
pub fn config(preset: Preset) -> Result<String, ring::error::Unspecified> {
    let id_key = IdKey::generate()?;
    Ok(format!(
        r#"# idp-bridge configuration for {name}, written by `idp-bridge init`.
# Fill every "replace-me", then run: idp-bridge check-config --config <this file>
# Every key can also come from the environment: IDP_BRIDGE_<SECTION>__<KEY>.

[server]
listen = "127.0.0.1:8080"
# The URL browsers use to reach the gateway (https in production).
public_url = "http://127.0.0.1:8080"
# GET /metrics (Prometheus) is served on `listen`; to serve it on its own port instead:
# metrics_listen = "127.0.0.1:9090"

[appwrite]
endpoint = "https://cloud.appwrite.io/v1"
project = "replace-me"
# An API key with users.read and users.write (or api_key_file = "/run/secrets/appwrite").
api_key = "replace-me"

[redirect]
# Your app's pages that may receive the login result (exact origin, path prefix).
allowed = ["https://replace-me.your-company.com/auth/"]

[mapping]
# Generated for you: keys the Appwrite user ids. Keep it secret and never change it once
# users exist.
id_key = "{id_key}"

{table}"#,
        name = preset.id(),
        table = preset.table(),
    ))
}

/// What to do next, for the user who just wrote the file to `path`.
pub fn next_steps(preset: Preset, path: &str) -> String {
    format!(
        "Wrote {path}. Next:\n  \
         1. Register this redirect URI at the provider (with your public URL instead of \
         http://127.0.0.1:8080 in production):\n       \
         http://127.0.0.1:8080/v1/auth/{id}/callback\n  \
         2. Fill every \"replace-me\" in {path}, then run:\n       \
         idp-bridge check-config --config {path}",
        id = preset.id(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_holds_its_table_and_a_fresh_key() {
        for preset in [
            Preset::Auth0,
            Preset::Google,
            Preset::Entra,
            Preset::Okta,
            Preset::Keycloak,
            Preset::Oidc,
        ] {
            let a = config(preset).expect("config");
            let b = config(preset).expect("config");
            assert!(a.contains(&format!("[providers.{}]", preset.id())), "{a}");
            assert_ne!(a, b, "every file gets its own id_key");
            assert!(
                next_steps(preset, "c.toml")
                    .contains(&format!("/v1/auth/{}/callback", preset.id()))
            );
            // Each says whether its provider sends back-channel logout tokens, and how.
            assert!(a.to_lowercase().contains("back-channel logout"), "{a}");
            if a.contains("# backchannel_logout = true") {
                let uri = format!("{{public_url}}/v1/auth/{}/backchannel-logout", preset.id());
                assert!(a.contains(&uri), "{a}");
            }
        }
    }
}
