//! The `typingdna` provider of idp-bridge: typing biometrics through TypingDNA's
//! Authentication API, which the gateway calls itself (TypingDNA sends no webhooks, and a
//! result that comes from the browser proves nothing).
//!
//! `POST /v1/auth/{id}/exchange` with:
//! - `step_up`: `{"jwt","tp"}`. Appwrite says whose account JWT it is; TypingDNA enrolls the
//!   user's first three patterns (answer `typingdna_enrolling`, nothing minted) and then
//!   verifies.
//! - `login`: `{"email","tp"}`. Only an existing, active Appwrite user whose email is verified
//!   in Appwrite. Once the email is looked up, every refusal (an unknown or unverified email, a
//!   reused pattern, TypingDNA or the store failing) is the answer of a failed match, after at
//!   least about the time a TypingDNA call takes, so no answer tells whether the email has an
//!   account. Login mode calls TypingDNA's `/verify`, which never stores a pattern, so nobody
//!   can build someone else's profile from the login form; step-up calls `/auto`, which
//!   enrolls, and keeps its specific errors (the caller proved the account with its JWT).
//!
//! The id TypingDNA sees is hex HMAC-SHA256(`id_salt`, Appwrite user id), never personal data.
//! A token is minted only for `action` containing `verify`, `result = 1`, and
//! `high_confidence = 1` when required. Every pattern is accepted once per user (the gateway's
//! replay cache keeps a hash of each, with the user's id and its numbers written one way, for
//! `pattern_reuse_seconds`): per user, so that what the cache holds for one email never
//! changes the answer for another.
//!
//! Layout:
//! - [`config`]: the `[providers.<id>]` keys and their validation.
//! - `body`: the exchange body.
//! - [`api`]: the TypingDNA client and the mapping of its errors.
//! - `limits`: attempts per client IP and per user.
//! - `timing`: the answer time of an unknown email.
//! - `online`: check-config's check of the credentials.

pub mod api;
mod body;
pub mod config;
mod limits;
mod online;
mod timing;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use idp_provider_api::{
    AccountUser, AssertionFlow, AssertionInput, ConfigProblem, Identity, OnlineCheck, OpenContext,
    OpenError, Provider, ProviderError, ProviderInfo, ReplayCache, ReplayKey, Secret,
};
use ring::hmac;
use serde_json::Value;

use api::{Api, AutoAnswer};
use body::{Claimant, Patterns};
pub use config::{Config, Mode};

/// The keys of a `typingdna` table that hold credentials, and so may be given as `<key>_file`.
pub const SECRET_KEYS: &[&str] = &["api_key", "api_secret", "id_salt"];

/// The keys of a `typingdna` table (its [`Config`] fields), for check-config's key lists.
pub fn keys() -> Vec<&'static str> {
    serde_aux::serde_introspection::serde_introspect::<Config>().to_vec()
}
use limits::Limits;
use timing::Latency;

/// The provider `type` this crate registers.
pub const KIND: &str = "typingdna";

/// Public error types of this provider's own refusals (besides [`api::reason`]).
pub mod reason {
    /// Still enrolling: TypingDNA stored the pattern and verified nothing (403).
    pub const ENROLLING: &str = "typingdna_enrolling";
    /// The pattern does not match the user's profile (401). In `login` mode, also every other
    /// refusal after the email is looked up: no such user, or any failure (logged as such).
    pub const NO_MATCH: &str = "typingdna_no_match";
    /// The pattern was used before (401).
    pub const PATTERN_REUSED: &str = "typingdna_pattern_reused";
    /// Appwrite refused the account JWT: expired, forged, of another project (401).
    pub const JWT_INVALID: &str = "appwrite_jwt_invalid";
    /// This client or this user tried too often (429).
    pub const TOO_MANY_ATTEMPTS: &str = "typingdna_too_many_attempts";
    /// The Appwrite user is blocked (403).
    pub const USER_BLOCKED: &str = "user_blocked";
}

/// The id TypingDNA knows a user by: hex HMAC-SHA256(`id_salt`, Appwrite user id).
pub fn user_handle(id_salt: &str, appwrite_user_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, id_salt.as_bytes());
    data_encoding::HEXLOWER.encode(hmac::sign(&key, appwrite_user_id.as_bytes()).as_ref())
}

/// A configured `typingdna` provider.
pub struct TypingDnaProvider {
    info: ProviderInfo,
    mode: Mode,
    require_high_confidence: bool,
    max_pattern_bytes: usize,
    pattern_reuse: Duration,
    id_salt: Secret<String>,
    api: Api,
    limits: Limits,
    latency: Latency,
}

/// Opens a `typingdna` provider: checks the configuration offline. Its HTTP client trusts the
/// CAs of `context.tls`.
///
/// # Errors
/// Every configuration problem, each naming its `providers.<id>.<key>`.
pub fn open(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    Ok(open_typingdna(info, config, context)?)
}

/// As [`open`], returning the concrete type.
///
/// # Errors
/// As [`open`].
pub fn open_typingdna(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<TypingDnaProvider>, OpenError> {
    let prefix = format!("providers.{}", info.id);
    let one = |key: String, reason: String| OpenError {
        problems: vec![ConfigProblem::new(key, reason)],
    };
    let config: Config = OpenError::deserialize(&info.id, config)?;
    let checked = config.check(&info.id)?;
    let api = Api::new(
        &checked.api_url,
        checked.api_key,
        checked.api_secret,
        Duration::from_millis(config.timeout_ms),
        &context.tls,
    )
    .map_err(|e| one(prefix.clone(), e))?;
    // The ranges were checked: neither is 0.
    let per_minute = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Ok(Arc::new(TypingDnaProvider {
        info,
        mode: config.mode,
        require_high_confidence: checked.require_high_confidence,
        max_pattern_bytes: config.max_pattern_bytes,
        pattern_reuse: Duration::from_secs(config.pattern_reuse_seconds),
        id_salt: checked.id_salt,
        api,
        limits: Limits::new(
            per_minute(config.per_user_per_minute),
            per_minute(config.per_ip_per_minute),
        ),
        latency: Latency::new(),
    }))
}

#[async_trait]
impl Provider for TypingDnaProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn assertion(&self) -> Option<&dyn AssertionFlow> {
        Some(self)
    }

    fn online(&self) -> Option<&dyn OnlineCheck> {
        Some(self)
    }

    /// TypingDNA publishes no metadata or keys to load, so there is nothing to wait for; each
    /// exchange reports TypingDNA's own state (`typingdna_unavailable`).
    async fn ready(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[async_trait]
impl AssertionFlow for TypingDnaProvider {
    async fn exchange(&self, input: AssertionInput<'_>) -> Result<Identity, ProviderError> {
        let request = body::parse(input.body, self.mode, self.max_pattern_bytes)?;
        if !self.limits.allow_ip(input.client_ip) {
            return Err(too_many("this client IP"));
        }
        match request.claimant {
            Claimant::Jwt(jwt) => self.step_up(&jwt, &request.patterns, &input).await,
            Claimant::Email(email) => self.login(&email, &request.patterns, &input).await,
        }
    }
}

impl TypingDnaProvider {
    async fn step_up(
        &self,
        jwt: &Secret<String>,
        patterns: &Patterns,
        input: &AssertionInput<'_>,
    ) -> Result<Identity, ProviderError> {
        let Some(user) = input.directory.user_for_jwt(jwt).await? else {
            return Err(ProviderError::rejected(
                reason::JWT_INVALID,
                "Appwrite refused the account JWT (GET /v1/account)",
            ));
        };
        if !user.active {
            return Err(ProviderError::refused(
                reason::USER_BLOCKED,
                403,
                format!("Appwrite user {} is blocked", user.id),
            ));
        }
        if !self.limits.allow_user("user", &user.id) {
            return Err(too_many("this user"));
        }
        self.first_use(&user, patterns, input.replay).await?;
        let answer = self.judge(&user, patterns).await?;
        if answer.did("enroll") && !answer.did("verify") {
            return Err(ProviderError::refused(
                reason::ENROLLING,
                403,
                format!(
                    "TypingDNA enrolled the pattern of Appwrite user {} (enrollment {}); nothing \
                     is verified until three patterns are stored",
                    user.id, answer.enrollment
                ),
            ));
        }
        self.verdict(&answer, user)
    }

    async fn login(
        &self,
        email: &str,
        patterns: &Patterns,
        input: &AssertionInput<'_>,
    ) -> Result<Identity, ProviderError> {
        // Keyed on the email, before looking it up: an unknown email spends its budget like a
        // known one, so the limit reveals nothing either.
        if !self.limits.allow_user("email", email) {
            return Err(too_many("this email"));
        }
        // Appwrite failing here is a 503 for every email alike: nothing about this one is known
        // yet, so the answer cannot tell anything about it.
        let holder = input.directory.user_by_email(email).await?;
        // From here on, every refusal reads like a failed match, after about as long as a
        // TypingDNA call: what a request learns must not depend on whether the email has an
        // account. A holder who never verified the address is no holder: anyone can put any
        // address on their own account through the client API.
        let padded = tokio::time::Instant::now() + self.latency.sample();
        let (result, judged) = match holder.filter(|u| u.active && u.email_verified) {
            Some(user) => self.login_as(user, patterns, input).await,
            None => (
                Err(ProviderError::rejected(
                    reason::NO_MATCH,
                    "login: no active Appwrite user has this email verified; answered as a failed \
                     match",
                )),
                false,
            ),
        };
        let Err(error) = result else { return result };
        // A refusal TypingDNA's own answer gave took TypingDNA's time already; any other one
        // (no user, a pattern used before, TypingDNA or the store failing fast) waits as long.
        if !judged {
            tokio::time::sleep_until(padded).await;
        }
        Err(Self::as_failed_match(error))
    }

    /// `login` mode for the verified holder of the email: the refusal or the identity, and
    /// whether TypingDNA judged the pattern. The patterns are recorded only for a real user, and
    /// for that user only (a pattern recorded for one email must not change the answer for
    /// another), so unknown emails cannot fill the replay cache.
    async fn login_as(
        &self,
        user: AccountUser,
        patterns: &Patterns,
        input: &AssertionInput<'_>,
    ) -> (Result<Identity, ProviderError>, bool) {
        if let Err(error) = self.first_use(&user, patterns, input.replay).await {
            return (Err(error), false);
        }
        let answer = match self.judge(&user, patterns).await {
            Ok(answer) => answer,
            Err(error) => return (Err(error), false),
        };
        if answer.did("enroll") {
            // `/verify` never stores a pattern; if it says it did, nothing it says is trusted.
            tracing::error!(
                provider = %self.info.id,
                user_id = %user.id,
                "typingdna login mode: TypingDNA /verify answered an enrollment; refused"
            );
            let error = ProviderError::rejected(
                reason::NO_MATCH,
                "login: TypingDNA /verify answered an enrollment",
            );
            return (Err(error), true);
        }
        (self.verdict(&answer, user), true)
    }

    /// A `login` refusal as the failed match every email gets, whatever it was. The real cause
    /// (a reused pattern, TypingDNA throttling, failing or refusing the credentials, the store
    /// down) stays in the detail, which only the log sees.
    fn as_failed_match(error: ProviderError) -> ProviderError {
        match error {
            ProviderError::Rejected(r) if r.reason == reason::NO_MATCH => {
                ProviderError::Rejected(r)
            }
            other => ProviderError::rejected(
                reason::NO_MATCH,
                format!("login: {other}; answered as a failed match"),
            ),
        }
    }

    /// Records every pattern as used by `user`; any one this user sent before refuses the
    /// request.
    async fn first_use(
        &self,
        user: &AccountUser,
        patterns: &Patterns,
        replay: &dyn ReplayCache,
    ) -> Result<(), ProviderError> {
        let until = SystemTime::now() + self.pattern_reuse;
        for (index, pattern) in patterns.each().enumerate() {
            // Keyed on the type, not the provider id: a pattern used at one `typingdna`
            // provider (step_up) is refused at every other (login) too. And on the Appwrite
            // user rather than the TypingDNA id, which depends on each provider's `id_salt`:
            // the user is the same whatever the salt. Per user: the same pattern sent for
            // another user is another key, so the cache tells nothing about other accounts
            // (that other user's profile judges it, and a stranger's typing does not match).
            let key = ReplayKey::for_user(KIND, "tp", &user.id, pattern.as_bytes());
            if !replay.first_use(&key, until).await? {
                return Err(ProviderError::rejected(
                    reason::PATTERN_REUSED,
                    format!(
                        "typing pattern {} of the request was used before ({key:?})",
                        index + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sends the patterns to TypingDNA for `user`, learning how long TypingDNA takes: to
    /// `/auto` in step-up (enrolls, then verifies), to `/verify` in login (verifies only).
    async fn judge(
        &self,
        user: &AccountUser,
        patterns: &Patterns,
    ) -> Result<AutoAnswer, ProviderError> {
        let handle = user_handle(self.id_salt.expose(), &user.id);
        let started = Instant::now();
        let (endpoint, answer) = match self.mode {
            Mode::StepUp => ("/auto", self.api.auto(&handle, patterns.expose()).await),
            Mode::Login => ("/verify", self.api.verify(&handle, patterns.expose()).await),
        };
        if answer.is_ok() {
            self.latency.observe(started.elapsed());
        }
        let answer = answer?;
        tracing::debug!(
            provider = %self.info.id,
            user_id = %user.id,
            action = %answer.action,
            result = answer.result,
            high_confidence = answer.high_confidence,
            message_code = ?answer.message_code,
            endpoint,
            "TypingDNA answered"
        );
        Ok(answer)
    }

    /// A verified match (and high confidence when required) is the user; anything else is not.
    fn verdict(&self, answer: &AutoAnswer, user: AccountUser) -> Result<Identity, ProviderError> {
        if !answer.did("verify") {
            return Err(ProviderError::refused(
                api::reason::UNAVAILABLE,
                503,
                format!("TypingDNA answered the unknown action {:?}", answer.action),
            ));
        }
        if answer.result != 1 {
            return Err(ProviderError::rejected(
                reason::NO_MATCH,
                format!("TypingDNA: no match for Appwrite user {}", user.id),
            ));
        }
        if self.require_high_confidence && answer.high_confidence != 1 {
            return Err(ProviderError::rejected(
                reason::NO_MATCH,
                format!(
                    "TypingDNA: a match without high confidence for Appwrite user {} \
                     (require_high_confidence is on)",
                    user.id
                ),
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let email = Some(user.email).filter(|e| !e.is_empty());
        let name = Some(user.name).filter(|n| !n.is_empty());
        Ok(Identity::existing_user(self.info.id.clone(), user.id)
            .with_email(email, user.email_verified)
            .with_name(name)
            .with_auth_time(Some(now)))
    }
}

fn too_many(who: &str) -> ProviderError {
    ProviderError::refused(
        reason::TOO_MANY_ATTEMPTS,
        429,
        format!("typingdna: too many attempts from {who}; TypingDNA was not called"),
    )
}

#[cfg(test)]
mod tests;
