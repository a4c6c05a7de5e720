//! Other spellings of one signed token: the same signature written differently, as an attacker
//! who saw the token once can write it without any key.
//!
//! - The spare bits of the signature's last base64url character: a signature whose length is
//!   not a multiple of 3 bytes leaves 2 or 4 low bits of that character unused (a 256-byte RSA
//!   or 64-byte P-256 signature: 4 bits, 16 spellings). A lenient decoder ignores them.
//! - ECDSA's `s` and `n - s`: both verify (P-256 only here).
//!
//! The signed `header.payload` text is never touched: changing it breaks the signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::PrimeField as _;
use p256::elliptic_curve::scalar::IsHigh as _;

/// The base64url alphabet, in value order.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every other spelling of `token`'s signature: its spare-bit spellings and, for a P-256
/// signature (64 bytes), those of `n - s` too. The token itself is not in the list.
///
/// # Panics
/// When `token` is not a compact JWS with a canonical base64url signature (a test mistake).
pub fn respellings(token: &str) -> Vec<String> {
    let mut all = spare_bit_spellings(token);
    if signature(token).len() == 64 {
        let negated = negate_s(token);
        all.push(negated.clone());
        all.extend(spare_bit_spellings(&negated));
    }
    all
}

/// The spellings of `token` whose signature differs only in the spare low bits of its last
/// character (the token itself excluded).
///
/// # Panics
/// As [`respellings`].
pub fn spare_bit_spellings(token: &str) -> Vec<String> {
    let (input, sig) = split(token);
    let spare = match sig.len() % 4 {
        2 => 4,
        3 => 2,
        _ => 0,
    };
    let (head, last) = sig.split_at(sig.len() - 1);
    let value = ALPHABET
        .iter()
        .position(|c| last.as_bytes() == [*c])
        .expect("a base64url character");
    let mask = (1 << spare) - 1;
    (0..=mask)
        .map(|low| (value & !mask) | low)
        .filter(|other| *other != value)
        .map(|other| format!("{input}.{head}{}", char::from(ALPHABET[other])))
        .collect()
}

/// `token` with its ES256 signature `(r, s)` replaced by `(r, n - s)`, which verifies as well.
///
/// # Panics
/// When the signature is not a 64-byte P-256 `r || s` (a test mistake).
pub fn negate_s(token: &str) -> String {
    let (input, _) = split(token);
    let raw = signature(token);
    let (r, s) = raw.split_at(32);
    let s = p256::Scalar::from_repr(p256::FieldBytes::try_from(s).expect("32 bytes"))
        .into_option()
        .expect("s below the group order");
    let negated = -s;
    let sig = [r, negated.to_repr().as_slice()].concat();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Whether `token`'s ES256 signature has a high `s` (above `n / 2`).
///
/// # Panics
/// As [`negate_s`].
pub fn is_high_s(token: &str) -> bool {
    let raw = signature(token);
    let s = p256::Scalar::from_repr(p256::FieldBytes::try_from(&raw[32..]).expect("32 bytes"))
        .into_option()
        .expect("s below the group order");
    bool::from(s.is_high())
}

fn split(token: &str) -> (&str, &str) {
    token.rsplit_once('.').expect("a compact JWS")
}

fn signature(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(split(token).1)
        .expect("a canonical base64url signature")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_bits_give_sixteen_spellings_of_one_signature() {
        let token = format!("h.p.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        let others = spare_bit_spellings(&token);
        assert_eq!(others.len(), 15);
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::general_purpose::NO_PAD.with_decode_allow_trailing_bits(true),
        );
        for other in &others {
            assert_ne!(other, &token);
            assert_eq!(lenient.decode(split(other).1).unwrap(), vec![7u8; 64]);
            assert!(URL_SAFE_NO_PAD.decode(split(other).1).is_err());
        }
        // 3 bytes fill 4 characters exactly: no spare bits.
        assert!(spare_bit_spellings("h.p.AAAA").is_empty());
    }

    #[test]
    fn negating_s_twice_gives_the_signature_back() {
        let mut raw = vec![1u8; 32];
        raw.extend([2u8; 32]);
        let token = format!("h.p.{}", URL_SAFE_NO_PAD.encode(&raw));
        assert!(!is_high_s(&token));
        let negated = negate_s(&token);
        assert!(is_high_s(&negated));
        assert_eq!(negate_s(&negated), token);
        assert_eq!(respellings(&token).len(), 31);
    }
}
