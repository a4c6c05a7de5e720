//! `required_claims`: how a claim of a verified identity is found and matched against the values
//! a provider's configuration lists.
//!
//! A claim name is a plain key of the assertion (namespaced URLs such as
//! `https://example.com/roles` included), never a path. Matching is exact and typed: a listed
//! string matches only an equal string, a listed boolean only an equal boolean; an array claim
//! matches when one of its elements does. Numbers, objects, `null` and absent claims never match.
//! Must not: say what the value of a claim was (the reasons are fixed sentences).

use std::borrow::Cow;

use idp_provider_api::Identity;
use serde_json::Value;

/// One value a required claim may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimValue {
    /// A string, compared exactly (case and whitespace included).
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl ClaimValue {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::Text(listed), Value::String(found)) => listed == found,
            (Self::Bool(listed), Value::Bool(found)) => listed == found,
            _ => false,
        }
    }
}

/// A claim that must hold one of the listed values (`required_claims = { name = [...] }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredClaim {
    name: String,
    values: Vec<ClaimValue>,
}

impl RequiredClaim {
    /// The rule for claim `name` with its allowed `values`.
    pub fn new(name: impl Into<String>, values: Vec<ClaimValue>) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }

    /// The rule as a refusal names it: `required_claims."<claim>"`.
    pub fn rule_name(&self) -> String {
        format!("required_claims.{:?}", self.name)
    }

    /// Whether the identity's claim holds one of the values.
    ///
    /// # Errors
    /// Why not, in words that never include the claim's value.
    pub fn check(&self, identity: &Identity) -> Result<(), &'static str> {
        let listed = |v: &Value| self.values.iter().any(|l| l.matches(v));
        match claim(identity, &self.name).as_deref() {
            None | Some(Value::Null) => Err("the claim is missing"),
            Some(Value::Array(items)) if items.iter().any(listed) => Ok(()),
            Some(Value::Array(_)) => Err("the array claim holds none of the listed values"),
            Some(value @ (Value::String(_) | Value::Bool(_))) if listed(value) => Ok(()),
            Some(Value::String(_) | Value::Bool(_)) => {
                Err("the claim is none of the listed values")
            }
            Some(Value::Number(_) | Value::Object(_)) => {
                Err("the claim is a number or an object, which no listed value matches")
            }
        }
    }
}

/// The claim `name` of a verified identity: from the provider's claims, or else from the
/// identity's own fields for the standard names that providers keep out of the claims (`sub`,
/// `iss`, `email` (only when verified), `email_verified`, `name`). An identity that names an
/// existing Appwrite user has no `name` here: that is the user's own, which the user can change
/// through Appwrite's client API.
pub(super) fn claim<'a>(identity: &'a Identity, name: &str) -> Option<Cow<'a, Value>> {
    if let Some(value) = identity.claims().get(name) {
        return Some(Cow::Borrowed(value));
    }
    let text = |s: &str| Some(Cow::Owned(Value::String(s.to_string())));
    match name {
        "sub" => text(identity.subject()),
        "iss" => text(identity.issuer()),
        "email" => identity.verified_email().and_then(text),
        "email_verified" => Some(Cow::Owned(Value::Bool(identity.email_verified()))),
        "name" if identity.existing_user_id().is_none() => identity.name().and_then(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_users_self_chosen_name_is_no_claim() {
        let provider =
            Identity::verified("corp", "https://idp", "alice").with_name(Some("Alice".into()));
        assert_eq!(
            claim(&provider, "name").as_deref(),
            Some(&Value::String("Alice".into()))
        );
        let existing = Identity::existing_user("typing", "u1").with_name(Some("admin".into()));
        assert_eq!(claim(&existing, "name"), None);
        assert_eq!(
            claim(&existing, "sub").as_deref(),
            Some(&Value::String("u1".into()))
        );
    }
}
