//! The `hmac` format: a raw JSON body signed in the `X-Bridge-Signature` header,
//! `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
//!
//! The header syntax is small and ours, so it is parsed by hand; the MAC itself is ring's,
//! compared in constant time (`ring::hmac::verify`).

use data_encoding::HEXLOWER_PERMISSIVE;
use idp_provider_api::{ProviderError, Secret};
use ring::hmac;

use crate::reject;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-bridge-signature";

/// Most `v1` values one header may carry (a signer may sign with two secrets while rotating).
const MAX_SIGNATURES: usize = 4;

/// A parsed signature header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Signature {
    /// `t` exactly as sent: the signed text starts with it.
    pub t: String,
    /// `t` as unix seconds.
    pub issued_at: i64,
    /// The `v1` MACs.
    pub macs: Vec<Vec<u8>>,
}

impl Signature {
    /// Reads the header from the request.
    ///
    /// # Errors
    /// `assertion_signature_missing` without a header; `assertion_signature_malformed` for
    /// several headers or a value that is not `t=<digits>,v1=<64 hex>[,v1=...]`.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Result<Self, ProviderError> {
        let mut values = headers.get_all(SIGNATURE_HEADER).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => {
                return Err(reject(
                    "assertion_signature_missing",
                    "the X-Bridge-Signature header is required",
                ));
            }
            (Some(_), Some(_)) => return Err(malformed("the header is given more than once")),
            (Some(value), None) => value,
        };
        let text = value
            .to_str()
            .map_err(|_| malformed("the header is not visible ASCII"))?;
        Self::parse(text)
    }

    fn parse(text: &str) -> Result<Self, ProviderError> {
        let mut t = None;
        let mut macs = Vec::new();
        for part in text.split(',') {
            let (name, value) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| malformed("each part is name=value"))?;
            match name {
                "t" if t.is_none() => {
                    if value.is_empty()
                        || value.len() > 12
                        || !value.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(malformed("t must be unix seconds (digits)"));
                    }
                    t = Some(value.to_string());
                }
                "t" => return Err(malformed("t is given twice")),
                "v1" if macs.len() < MAX_SIGNATURES => {
                    let mac = HEXLOWER_PERMISSIVE
                        .decode(value.as_bytes())
                        .ok()
                        .filter(|mac| mac.len() == 32)
                        .ok_or_else(|| malformed("v1 must be 64 hex digits (HMAC-SHA256)"))?;
                    macs.push(mac);
                }
                "v1" => return Err(malformed("too many v1 signatures")),
                _ => return Err(malformed("only t and v1 are known")),
            }
        }
        let t = t.ok_or_else(|| malformed("t is missing"))?;
        if macs.is_empty() {
            return Err(malformed("v1 is missing"));
        }
        let issued_at = t
            .parse::<i64>()
            .map_err(|_| malformed("t must be unix seconds"))?;
        Ok(Self { t, issued_at, macs })
    }

    /// Whether any `v1` is the MAC of `t.body` under any of `secrets`.
    pub(crate) fn verifies(&self, body: &[u8], secrets: &[Secret<String>]) -> bool {
        let mut message = Vec::with_capacity(self.t.len() + 1 + body.len());
        message.extend_from_slice(self.t.as_bytes());
        message.push(b'.');
        message.extend_from_slice(body);
        // Every pair is tried, whichever matches: the time taken says nothing about which.
        let mut ok = false;
        for secret in secrets {
            let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
            for mac in &self.macs {
                ok |= hmac::verify(&key, &message, mac).is_ok();
            }
        }
        ok
    }
}

fn malformed(why: &str) -> ProviderError {
    reject(
        "assertion_signature_malformed",
        format!("X-Bridge-Signature: {why}"),
    )
}

/// Computes the header value for `body` at time `t` (for tests and the book's example).
#[cfg(test)]
pub(crate) fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    let tag = hmac::sign(&key, &message);
    format!("t={t},v1={}", data_encoding::HEXLOWER.encode(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn reason(e: ProviderError) -> &'static str {
        match e {
            ProviderError::Rejected(r) => r.reason,
            other => panic!("not a rejection: {other:?}"),
        }
    }

    #[test]
    fn a_signed_body_verifies_and_any_change_breaks_it() {
        let body = br#"{"sub":"u1","jti":"j1"}"#;
        let header = sign(SECRET, 1_700_000_000, body);
        let signature = Signature::parse(&header).expect("parses");
        assert_eq!(signature.issued_at, 1_700_000_000);
        let secrets = [Secret::new(SECRET.to_string())];
        assert!(signature.verifies(body, &secrets));
        assert!(!signature.verifies(br#"{"sub":"u2","jti":"j1"}"#, &secrets));
        let other_time =
            Signature::parse(&header.replace("t=1700000000", "t=1700000001")).expect("parses");
        assert!(!other_time.verifies(body, &secrets), "t is signed");
    }

    #[test]
    fn any_configured_secret_verifies_and_a_removed_one_does_not() {
        let body = br#"{"sub":"u1","jti":"j1"}"#;
        let old = "old-secret-0123456789abcdef-0123456789";
        let new = "new-secret-0123456789abcdef-0123456789";
        let signature = Signature::parse(&sign(old, 5, body)).expect("parses");
        let both = [Secret::new(new.to_string()), Secret::new(old.to_string())];
        assert!(signature.verifies(body, &both));
        assert!(!signature.verifies(body, &both[..1]), "rotated out");
    }

    #[test]
    fn malformed_headers_are_refused() {
        let mac = "ab".repeat(32);
        for bad in [
            String::new(),
            format!("v1={mac}"),
            "t=5".to_string(),
            format!("t=-5,v1={mac}"),
            format!("t=5,v1={}", "ab".repeat(31)),
            format!("t=5,v1=zz{}", "ab".repeat(31)),
            format!("t=5,t=6,v1={mac}"),
            format!("t=5,v0={mac}"),
            format!("t=5,v1={mac},v1={mac},v1={mac},v1={mac},v1={mac}"),
        ] {
            let e = Signature::parse(&bad).expect_err(&bad);
            assert_eq!(reason(e), "assertion_signature_malformed", "{bad}");
        }
        assert!(
            Signature::parse(&format!("t=5, v1={mac}")).is_ok(),
            "spaces"
        );
    }

    #[test]
    fn a_missing_or_repeated_header_is_refused() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            reason(Signature::from_headers(&headers).expect_err("missing")),
            "assertion_signature_missing"
        );
        let value = http::HeaderValue::from_str(&sign(SECRET, 5, b"{}")).expect("value");
        headers.append(SIGNATURE_HEADER, value.clone());
        assert!(Signature::from_headers(&headers).is_ok());
        headers.append(SIGNATURE_HEADER, value);
        assert_eq!(
            reason(Signature::from_headers(&headers).expect_err("twice")),
            "assertion_signature_malformed"
        );
    }
}
