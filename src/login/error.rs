//! Why a login failed, and what the browser is told about it.
//!
//! The public part is Appwrite-shaped (`{"message","type","code"}`) and generic; the detail
//! (which check, which call) goes to the log through `Display`, never into a response.

use idp_provider_api::{ProviderError, Rejection, ServiceError};
use serde::Serialize;

use crate::appwrite::AppwriteError;
use crate::store::StoreError;

/// A failed login after the transaction was found: the browser goes to the failure URL.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The provider flow failed (bad token, unreachable provider...).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The callback came without the browser-binding cookie of this login.
    #[error("the callback does not come from the browser that started the login")]
    BindingInvalid,
    /// The transaction was started with another provider (mix-up).
    #[error("the login was started with provider {started:?}, not {called:?}")]
    ProviderMismatch {
        /// Provider of the transaction.
        started: String,
        /// Provider of the callback URL.
        called: String,
    },
    /// The login was started with a provider that a configuration reload has since removed.
    #[error("the login was started with provider {0:?}, which the configuration no longer has")]
    ProviderRemoved(String),
    /// The provider vouches for an email that is not a valid plain address.
    #[error(transparent)]
    EmailInvalid(#[from] crate::login::email::EmailError),
    /// The provider's access policy does not admit this verified identity: `access_denied`
    /// (403), whose public message names `rule` (`email_domains`, `required_claims."groups"`,
    /// `max_age_seconds`...). The `detail` is for the log and never holds a claim value.
    #[error("access denied by the provider's `{rule}` rule: {detail}")]
    AccessDenied {
        /// The configuration key (and claim) that refused.
        rule: String,
        /// Why, in general terms.
        detail: String,
    },
    /// A user with the identity's derived id exists but was not created by the gateway.
    #[error("an Appwrite user with this identity's id exists but was not created by the gateway")]
    UserIdConflict,
    /// The login took longer than its budget.
    #[error("the login took longer than {0:?}")]
    TimedOut(std::time::Duration),
    /// The verified email belongs to another Appwrite user.
    #[error("the email belongs to another Appwrite user")]
    UserEmailConflict,
    /// The Appwrite user is blocked.
    #[error("the Appwrite user is blocked")]
    UserBlocked,
    /// The existing user an assertion provider vouched for is gone.
    #[error("the Appwrite user the provider vouched for no longer exists")]
    ExistingUserGone,
    /// An Appwrite call failed.
    #[error(transparent)]
    Appwrite(#[from] AppwriteError),
    /// The transaction store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The error as the browser (or app) sees it, like Appwrite's error JSON.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublicError {
    /// A sentence for people.
    pub message: String,
    /// A stable machine-readable type.
    #[serde(rename = "type")]
    pub kind: String,
    /// An HTTP status that fits.
    pub code: u16,
}

impl PublicError {
    /// Builds one.
    pub fn new(kind: impl Into<String>, code: u16, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: kind.into(),
            code,
        }
    }

    /// A configured rule refused the login: the message names the rule, nothing else.
    fn rule_refused(kind: &str, code: u16, rule: &str) -> Self {
        Self::new(
            kind,
            code,
            format!("Access denied: this provider's `{rule}` rule does not admit this login."),
        )
    }

    /// As JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"type\":\"{}\"}}", self.kind))
    }
}

impl LoginError {
    /// The configured rule that refused an otherwise valid identity (`access_denied`: the
    /// policy's, or a provider's own such as an Auth0 organization), as its public message
    /// names it.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Self::AccessDenied { rule, .. } => Some(rule),
            Self::Provider(ProviderError::Rejected(Rejection { rule, .. })) => *rule,
            _ => None,
        }
    }

    /// What the failure URL receives.
    pub fn public(&self) -> PublicError {
        match self {
            Self::Provider(ProviderError::Denied(_)) => PublicError::new(
                "provider_access_denied",
                401,
                "The identity provider did not grant the login.",
            ),
            Self::Provider(ProviderError::Rejected(Rejection {
                reason,
                status,
                rule: Some(rule),
                ..
            })) => PublicError::rule_refused(reason, *status, rule),
            Self::AccessDenied { rule, .. } => {
                PublicError::rule_refused("access_denied", 403, rule)
            }
            Self::Provider(ProviderError::Rejected(r)) => PublicError::new(
                r.reason,
                r.status,
                match r.status {
                    403 => "The identity provider does not allow this login yet.",
                    429 => "Too many attempts. Try again later.",
                    503 => "The identity provider cannot be reached. Try again later.",
                    _ => "The identity provider's answer failed verification.",
                },
            ),
            Self::Provider(ProviderError::Service(ServiceError::Store(_))) => PublicError::new(
                "store_unavailable",
                503,
                "The login service is unavailable. Try again later.",
            ),
            Self::Provider(ProviderError::Service(ServiceError::Appwrite(_))) => PublicError::new(
                "appwrite_unavailable",
                503,
                "The account service is unavailable. Try again later.",
            ),
            Self::Provider(ProviderError::Upstream(_)) => PublicError::new(
                "provider_unavailable",
                503,
                "The identity provider cannot be reached. Try again later.",
            ),
            Self::Provider(ProviderError::InvalidRequest { .. }) => PublicError::new(
                "login_callback_invalid",
                400,
                "The identity provider's answer is incomplete.",
            ),
            Self::Provider(_) => PublicError::new(
                "provider_misconfigured",
                500,
                "The identity provider is not configured correctly.",
            ),
            Self::BindingInvalid => PublicError::new(
                "login_binding_invalid",
                400,
                "This login was not started in this browser. Start the login again.",
            ),
            Self::ProviderMismatch { .. } => PublicError::new(
                "login_provider_mismatch",
                400,
                "The login came back from another provider.",
            ),
            Self::ProviderRemoved(_) => PublicError::new(
                "login_provider_removed",
                400,
                "The provider this login was started with is no longer offered. Start the login again.",
            ),
            Self::UserEmailConflict => PublicError::new(
                "user_email_conflict",
                409,
                "An account with this email already exists and is not linked to this login.",
            ),
            Self::UserBlocked => PublicError::new("user_blocked", 403, "This account is blocked."),
            Self::ExistingUserGone => {
                PublicError::new("user_not_found", 404, "This account no longer exists.")
            }
            Self::TimedOut(_) => {
                PublicError::new("login_timeout", 504, "The login took too long. Try again.")
            }
            Self::UserIdConflict => PublicError::new(
                "user_id_conflict",
                409,
                "An account that this login does not own already uses its id.",
            ),
            Self::EmailInvalid(_) => PublicError::new(
                "email_invalid",
                401,
                "The identity provider asserted an email address that is not valid.",
            ),
            Self::Appwrite(e) if e.is_unavailable() => PublicError::new(
                "appwrite_unavailable",
                503,
                "The account service is unavailable. Try again later.",
            ),
            Self::Appwrite(_) => PublicError::new(
                "appwrite_error",
                500,
                "The account service refused the request.",
            ),
            Self::Store(
                StoreError::Full(_) | StoreError::OverBudget(_) | StoreError::LowMemory(_),
            ) => PublicError::new(
                "login_capacity_exceeded",
                503,
                "Too many logins are in progress. Try again later.",
            ),
            Self::Store(_) => PublicError::new(
                "store_unavailable",
                503,
                "The login service is unavailable. Try again later.",
            ),
        }
    }
}
