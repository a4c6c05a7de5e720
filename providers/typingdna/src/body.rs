//! The exchange body: `{"jwt","tp"}` in `step_up` mode, `{"email","tp"}` in `login` mode.
//! Every refusal names the field and why, never its value (a JWT and a typing pattern are
//! secrets, and an email is personal data).

use idp_provider_api::{ProviderError, Secret};
use serde_json::{Map, Value};

use crate::config::Mode;

/// Most patterns one `step_up` request may carry (`;`-separated, for enrollment in one go).
pub const MAX_PATTERNS: usize = 5;
/// Longest Appwrite account JWT accepted, in bytes.
pub const MAX_JWT_BYTES: usize = 4096;
/// Longest email accepted (RFC 5321 path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Who the request says the user is.
#[derive(Debug)]
pub(crate) enum Claimant {
    /// An Appwrite account JWT (`step_up`).
    Jwt(Secret<String>),
    /// An email, trimmed and lowercased as Appwrite stores it (`login`).
    Email(String),
}

/// One or more typing patterns, as sent (`;`-separated). Never printed.
#[derive(Debug)]
pub(crate) struct Patterns(Secret<String>);

impl Patterns {
    /// The `tp` form value sent to TypingDNA.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Each pattern on its own, as TypingDNA reads it ([`canonical`]): what the replay cache
    /// remembers.
    pub fn each(&self) -> impl Iterator<Item = String> {
        self.0.expose().split(';').map(canonical)
    }
}

/// What separates the fields of one pattern, as the recorders write it (`;` separates
/// patterns).
const FIELD_SEPARATORS: [char; 4] = [',', '|', '#', '/'];

/// `pattern` as TypingDNA reads it, for the replay cache: every field that is a number written
/// one way, so that spellings of the same numbers are the same pattern (`61`, `061`, `61.0`,
/// `+61` and `6.1e1` are one number; `-0` is `0`). The recorders write numbers in their
/// shortest form, but nothing stops a client from writing them otherwise, and a pattern sent
/// again in another spelling is still the pattern it was. Anything that is not a number is kept
/// as sent. Hand-written: no crate knows TypingDNA's pattern format.
pub(crate) fn canonical(pattern: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(pattern.len());
    for piece in pattern.split_inclusive(FIELD_SEPARATORS) {
        let (field, separator) = match piece.strip_suffix(FIELD_SEPARATORS) {
            Some(field) => (field, &piece[field.len()..]),
            None => (piece, ""),
        };
        match field.parse::<f64>() {
            // A float pattern compares with `==`: `-0` lands here too.
            Ok(0.0) => out.push('0'),
            // The exponent form: as exact as the shortest decimal, and short whatever the
            // magnitude (`1e300` stays 5 characters).
            Ok(number) => {
                let _ = write!(out, "{number:e}");
            }
            Err(_) => out.push_str(field),
        }
        out.push_str(separator);
    }
    out
}

/// A parsed exchange body.
#[derive(Debug)]
pub(crate) struct ExchangeBody {
    pub claimant: Claimant,
    pub patterns: Patterns,
}

fn invalid(param: &'static str, reason: impl Into<String>) -> ProviderError {
    ProviderError::InvalidRequest {
        param,
        reason: reason.into(),
    }
}

/// Reads the body for `mode`.
///
/// # Errors
/// `InvalidRequest` naming the field (`body`, `jwt`, `email` or `tp`) and what is wrong.
pub(crate) fn parse(
    body: &[u8],
    mode: Mode,
    max_pattern_bytes: usize,
) -> Result<ExchangeBody, ProviderError> {
    let (who, expected) = match mode {
        Mode::StepUp => (
            "jwt",
            "{\"jwt\": \"<Appwrite account JWT>\", \"tp\": \"<typing pattern>\"}",
        ),
        Mode::Login => (
            "email",
            "{\"email\": \"<address>\", \"tp\": \"<typing pattern>\"}",
        ),
    };
    let mut map: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|_| invalid("body", format!("must be a JSON object {expected}")))?;
    if let Some(unknown) = map.keys().find(|k| *k != who && *k != "tp") {
        let shown: String = unknown.chars().take(40).collect();
        return Err(invalid(
            "body",
            format!("unknown field {shown:?}; this provider takes {expected}"),
        ));
    }
    let claimant_text = take_string(&mut map, who)?;
    let claimant = match mode {
        Mode::StepUp => Claimant::Jwt(check_jwt(claimant_text)?),
        Mode::Login => Claimant::Email(check_email(&claimant_text)?),
    };
    let tp = take_string(&mut map, "tp")?;
    let patterns = check_patterns(tp, mode, max_pattern_bytes)?;
    Ok(ExchangeBody { claimant, patterns })
}

/// The string field `name` (the name is one of the `&'static` field names).
fn take_string(map: &mut Map<String, Value>, name: &'static str) -> Result<String, ProviderError> {
    match map.remove(name) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(Value::String(_)) => Err(invalid(name, "must not be empty")),
        Some(_) => Err(invalid(name, "must be a string")),
        None => Err(invalid(name, "is required")),
    }
}

fn check_jwt(jwt: String) -> Result<Secret<String>, ProviderError> {
    if jwt.len() > MAX_JWT_BYTES {
        return Err(invalid(
            "jwt",
            format!("is longer than {MAX_JWT_BYTES} bytes"),
        ));
    }
    let compact = jwt.split('.').count() == 3
        && jwt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !compact {
        return Err(invalid(
            "jwt",
            "is not a compact JWT (three base64url parts joined by '.')",
        ));
    }
    Ok(Secret::new(jwt))
}

fn check_email(email: &str) -> Result<String, ProviderError> {
    let email = email.trim();
    if email.len() > MAX_EMAIL_BYTES {
        return Err(invalid(
            "email",
            format!("is longer than {MAX_EMAIL_BYTES} bytes"),
        ));
    }
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !well_formed {
        return Err(invalid("email", "is not an email address"));
    }
    Ok(email.to_lowercase())
}

fn check_patterns(tp: String, mode: Mode, max_bytes: usize) -> Result<Patterns, ProviderError> {
    if tp.len() > max_bytes {
        return Err(invalid(
            "tp",
            format!(
                "is {} bytes, longer than the {max_bytes} allowed (max_pattern_bytes)",
                tp.len()
            ),
        ));
    }
    // Recorder output is printable ASCII (digits, ',', '.', '|', '-', '#', '/'...); anything
    // else cannot be a pattern and is not sent on.
    if !tp.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(invalid(
            "tp",
            "must be printable ASCII without spaces, as the TypingDNA recorder writes it",
        ));
    }
    let count = tp.split(';').count();
    if tp.split(';').any(str::is_empty) {
        return Err(invalid("tp", "holds an empty pattern (a stray ';')"));
    }
    let max = match mode {
        // One pattern per login: several could complete an enrollment and verify in one call.
        Mode::Login => 1,
        Mode::StepUp => MAX_PATTERNS,
    };
    if count > max {
        return Err(invalid(
            "tp",
            format!("holds {count} patterns; this mode accepts at most {max}"),
        ));
    }
    Ok(Patterns(Secret::new(tp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJhIn0.c2lnbmF0dXJlLXZhbHVl";
    const TP: &str = "0,3.2,0,0,6,2092090166,0,-1|1968,98|61,49";

    fn param_of(result: Result<ExchangeBody, ProviderError>) -> (&'static str, String) {
        match result {
            Err(ProviderError::InvalidRequest { param, reason }) => (param, reason),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn step_up_reads_jwt_and_patterns() {
        let body = format!(r#"{{"jwt":"{JWT}","tp":"{TP};{TP}"}}"#);
        let parsed = parse(body.as_bytes(), Mode::StepUp, 1000).expect("valid");
        assert!(matches!(parsed.claimant, Claimant::Jwt(ref j) if j.expose() == JWT));
        assert_eq!(parsed.patterns.each().count(), 2);
    }

    #[test]
    fn login_lowercases_the_email_and_takes_one_pattern() {
        let body = format!(r#"{{"email":" Alice@Example.COM ","tp":"{TP}"}}"#);
        let parsed = parse(body.as_bytes(), Mode::Login, 1000).expect("valid");
        assert!(matches!(parsed.claimant, Claimant::Email(ref e) if e == "alice@example.com"));
        let two = format!(r#"{{"email":"a@example.com","tp":"{TP};{TP}"}}"#);
        let (param, reason) = param_of(parse(two.as_bytes(), Mode::Login, 1000));
        assert_eq!(param, "tp");
        assert!(reason.contains("at most 1"), "{reason}");
    }

    #[test]
    fn each_problem_names_its_field_without_the_value() {
        let cases: [(&str, Mode, &str); 9] = [
            ("[1]", Mode::StepUp, "body"),
            (r#"{"tp":"1,2"}"#, Mode::StepUp, "jwt"),
            (
                r#"{"jwt":"not-a-jwt-at-all","tp":"1,2"}"#,
                Mode::StepUp,
                "jwt",
            ),
            (
                r#"{"email":"a@example.com","tp":"1,2","jwt":"x"}"#,
                Mode::Login,
                "body",
            ),
            (
                r#"{"email":"nobody-at-example","tp":"1,2"}"#,
                Mode::Login,
                "email",
            ),
            (r#"{"email":"a@example.com","tp":7}"#, Mode::Login, "tp"),
            (r#"{"email":"a@example.com","tp":""}"#, Mode::Login, "tp"),
            (
                r#"{"email":"a@example.com","tp":"1,2 3"}"#,
                Mode::Login,
                "tp",
            ),
            (r#"{"email":"a@example.com"}"#, Mode::Login, "tp"),
        ];
        for (body, mode, field) in cases {
            let (param, reason) = param_of(parse(body.as_bytes(), mode, 1000));
            assert_eq!(param, field, "{body}");
            assert!(
                !reason.contains("not-a-jwt") && !reason.contains("nobody-at"),
                "{reason}"
            );
        }
        let (_, reason) = param_of(parse(
            format!(r#"{{"jwt":"{JWT}","tp":"{TP};;{TP}"}}"#).as_bytes(),
            Mode::StepUp,
            1000,
        ));
        assert!(reason.contains("empty pattern"), "{reason}");
    }

    #[test]
    fn patterns_over_the_size_or_count_limit_are_refused() {
        let long = "1".repeat(300);
        let body = format!(r#"{{"jwt":"{JWT}","tp":"{long}"}}"#);
        let (param, reason) = param_of(parse(body.as_bytes(), Mode::StepUp, 256));
        assert_eq!(param, "tp");
        assert!(
            reason.contains("max_pattern_bytes") && !reason.contains(&long),
            "{reason}"
        );
        let six = [TP; MAX_PATTERNS + 1].join(";");
        let body = format!(r#"{{"jwt":"{JWT}","tp":"{six}"}}"#);
        assert_eq!(
            param_of(parse(body.as_bytes(), Mode::StepUp, 10_000)).0,
            "tp"
        );
    }

    #[test]
    fn spellings_of_the_same_numbers_are_one_pattern() {
        let canonical_of = |tp: &str| canonical(tp);
        let same = [
            TP,
            "0,3.20,0,0,6,2092090166,0,-1|1968,98|61,49",
            "00,3.2,0.0,-0,6.,2092090166,+0,-1.0|1968,98|061,49",
            "0,3.2,0,0,6,2.092090166e9,0,-1|1968,9.8E1|61,49",
        ];
        for tp in same {
            assert_eq!(canonical_of(tp), canonical_of(TP), "{tp}");
        }
        // Other numbers, other separators, another field order: other patterns.
        for other in [
            "0,3.2,0,0,6,2092090166,0,-1|1968,98|61,48",
            "0,3.2,0,0,6,2092090166,0,-1|1968,98,61,49",
            "0,3.2,0,0,6,2092090166,0,-1|1968,98|49,61",
            "0,3.2,0,0,6,2092090166,0,-1|1968,98|61,49|",
        ] {
            assert_ne!(canonical_of(other), canonical_of(TP), "{other}");
        }
        // Empty fields and anything that is not a number stay as sent.
        assert_eq!(canonical_of("1||x#2/"), "1e0||x#2e0/");
        assert_eq!(canonical_of("1e300"), "1e300");
    }

    #[test]
    fn debug_shows_no_secret() {
        let body = format!(r#"{{"jwt":"{JWT}","tp":"{TP}"}}"#);
        let parsed = parse(body.as_bytes(), Mode::StepUp, 1000).expect("valid");
        let text = format!("{parsed:?}");
        assert!(!text.contains(JWT) && !text.contains(TP), "{text}");
    }
}
