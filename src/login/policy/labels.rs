//! `labels` and `label_claims`: the Appwrite labels a provider's policy wants on its users,
//! besides the gateway's own ([`is_gateway_label`]), which the mapping always keeps.
//!
//! Claim values are checked against Appwrite's label rule ([`is_valid_label`]); a value that
//! breaks it, or that is one of the gateway's own labels, is dropped and logged with the claim
//! name and the reason, never the value.

use idp_provider_api::Identity;
use serde_json::Value;

use crate::appwrite::is_valid_label;
use crate::login::user_id::is_gateway_label;

/// Why a claim value did not become a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dropped {
    NotAString,
    Invalid,
    Reserved,
}

impl Dropped {
    fn reason(self) -> &'static str {
        match self {
            Self::NotAString => "the claim (or an element of it) is not a string",
            Self::Invalid => "not a valid Appwrite label (1 to 36 ASCII letters or digits)",
            Self::Reserved => "the gateway's own label, never written from a claim",
        }
    }
}

/// The labels the policy wants, in order and each once: the static `labels` (checked at
/// configuration time), then the valid values of each of `label_claims` (a string claim, or an
/// array of strings). A missing claim adds nothing.
pub(super) fn wanted(
    static_labels: &[String],
    label_claims: &[String],
    identity: &Identity,
) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    let mut push = |label: &str| {
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
    };
    static_labels.iter().for_each(|l| push(l));
    for name in label_claims {
        let mut dropped: Vec<Dropped> = Vec::new();
        let mut take = |value: &Value| match value {
            Value::String(text) if !is_valid_label(text) => dropped.push(Dropped::Invalid),
            Value::String(text) if is_gateway_label(text) => dropped.push(Dropped::Reserved),
            Value::String(text) => push(text),
            _ => dropped.push(Dropped::NotAString),
        };
        // Only the provider's own claims: not the identity's name or email, which some
        // providers take from what the user typed (an Appwrite user renames itself at will).
        match identity.claims().get(name.as_str()) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => items.iter().for_each(&mut take),
            Some(value) => take(value),
        }
        dropped.sort_unstable();
        for reason in [Dropped::NotAString, Dropped::Invalid, Dropped::Reserved] {
            let count = dropped.iter().filter(|d| **d == reason).count();
            if count > 0 {
                tracing::warn!(
                    provider = identity.provider(),
                    claim = name.as_str(),
                    count,
                    reason = reason.reason(),
                    "label claim values dropped"
                );
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::login::user_id::OWNER_LABEL;

    fn identity(claims: Value) -> Identity {
        Identity::verified("corp", "https://idp", "alice")
            .with_claims(claims.as_object().cloned().unwrap_or_default())
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn labels_come_from_the_providers_claims_only_never_the_name_or_email() {
        // An existing-user provider's name is the Appwrite user's own, which the user edits.
        let id = Identity::existing_user("typing", "u1")
            .with_name(Some("admin".into()))
            .with_email(Some("admin@example.com".into()), true);
        assert_eq!(
            wanted(&[], &names(&["name", "email", "sub", "iss"]), &id),
            Vec::<String>::new()
        );
    }

    #[test]
    fn static_labels_come_first_then_claim_values_each_once() {
        let claims = json!({
            "roles": ["editor", "staff", "editor"],
            "https://example.com/tier": "gold",
        });
        assert_eq!(
            wanted(
                &names(&["staff"]),
                &names(&["roles", "https://example.com/tier", "absent"]),
                &identity(claims)
            ),
            names(&["staff", "editor", "gold"])
        );
    }

    #[test]
    fn values_that_are_not_labels_are_dropped() {
        let link_shaped = format!("l{}", "a".repeat(35));
        let claims = json!({
            "roles": [
                "ok", "read-only", "a:b", "", "x".repeat(37), "é", 7, true, {"a": 1}, ["nested"],
                OWNER_LABEL, link_shaped,
            ],
            "count": 3,
        });
        assert_eq!(
            wanted(&[], &names(&["roles", "count"]), &identity(claims)),
            names(&["ok"])
        );
    }

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("logs").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dropped_value_is_logged_by_claim_name_and_reason_never_by_value() {
        let logs = Logs::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let claims = json!({"https://example.com/roles": ["hidden-role-value", "kept"]});
        let labels = tracing::subscriber::with_default(subscriber, || {
            wanted(
                &[],
                &names(&["https://example.com/roles"]),
                &identity(claims),
            )
        });
        assert_eq!(labels, names(&["kept"]));
        let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
        assert!(text.contains("https://example.com/roles"), "{text}");
        assert!(text.contains(Dropped::Invalid.reason()), "{text}");
        assert!(text.contains("count=1"), "{text}");
        assert!(!text.contains("hidden-role-value"), "{text}");
    }
}
