//! Strict email parsing, before an email is written to Appwrite or used to link accounts.
//!
//! Hand-written because no well-kept crate does exactly this: the address must be a plain
//! `dot-atom@domain` (RFC 5322 without quoted local parts, comments or IP literals), and the
//! domain is normalised with IDNA (UTS #46, strict STD3 rules, via the `idna` crate) and
//! lowercased, so look-alike Unicode domains become their distinct `xn--` forms and never equal
//! an ASCII domain. The local part is lowercased too, as Appwrite stores it.

use std::fmt;

/// Longest address (RFC 5321 path limit).
const MAX_LEN: usize = 254;
/// Longest local part (RFC 5321).
const MAX_LOCAL: usize = 64;

/// A normalised email address; only [`Email::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email address: {0}")]
pub struct EmailError(&'static str);

impl Email {
    /// Parses and normalises `raw`.
    ///
    /// # Errors
    /// When `raw` is not a plain `local@domain` address.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        if raw.len() > MAX_LEN {
            return Err(EmailError("too long"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError("contains whitespace or control characters"));
        }
        let mut parts = raw.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError("must contain exactly one @"));
        };
        if local.is_empty() || local.len() > MAX_LOCAL {
            return Err(EmailError("local part empty or longer than 64"));
        }
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        if local
            .split('.')
            .any(|atom| atom.is_empty() || !atom.chars().all(atext))
        {
            return Err(EmailError("local part is not a dot-atom"));
        }
        if domain.is_empty() || domain.ends_with('.') || domain.starts_with('[') {
            return Err(EmailError(
                "domain is empty, ends with a dot or is an address literal",
            ));
        }
        let ascii = idna::domain_to_ascii_strict(domain)
            .map_err(|_| EmailError("domain is not a valid IDNA name"))?;
        if !ascii.contains('.') {
            return Err(EmailError("domain has no dot"));
        }
        Ok(Self(format!(
            "{}@{}",
            local.to_ascii_lowercase(),
            ascii.to_ascii_lowercase()
        )))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised domain (IDNA ASCII, lowercase): what follows the one `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_are_normalised() {
        assert_eq!(
            Email::parse("Alice@Example.COM").expect("ok").as_str(),
            "alice@example.com"
        );
        assert_eq!(
            Email::parse("a.b+tag@sub.example.org")
                .expect("ok")
                .as_str(),
            "a.b+tag@sub.example.org"
        );
        assert_eq!(
            Email::parse("x@bücher.example").expect("ok").as_str(),
            "x@xn--bcher-kva.example"
        );
        assert_eq!(
            Email::parse("x@Bücher.Example").expect("ok").domain(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn look_alike_domains_stay_distinct() {
        // Cyrillic "а" (U+0430) in place of Latin "a".
        let fake = Email::parse("victim@ex\u{0430}mple.com").expect("valid IDN");
        assert_ne!(fake, Email::parse("victim@example.com").expect("ok"));
        assert!(fake.as_str().contains("xn--"), "{fake}");
    }

    #[test]
    fn tricky_forms_are_refused() {
        for raw in [
            "a@b@example.com",
            "alice@example.com@evil.com",
            "alice @example.com",
            "alice@example.com\n",
            "alice\u{0000}@example.com",
            "alice@exa mple.com",
            "\"quoted\"@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@",
            "@example.com",
            "alice@localhost",
            "alice@[127.0.0.1]",
            "alice@example.com.",
            "alice@exa_mple.com",
            "alice(comment)@example.com",
            "",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} must be refused");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
