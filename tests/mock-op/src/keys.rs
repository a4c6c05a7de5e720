//! Fixed test keys and the JWKS built from their public parts.
//!
//! The private keys live in `tests/mock-op/keys/` (generated once with
//! `openssl genpkey`, PKCS#8 PEM) and are compiled in with `include_str!`.
//! Nothing here generates keys at run time: RSA key generation is far too
//! slow in debug builds. **These keys are public; never use them outside
//! tests and the local demo.**
//!
//! Key rotation ([`KeyRing::rotate`]) bumps a generation counter. Every key id
//! carries the generation (`rsa-1`, `ec-1`, ...), and the RSA signing key
//! alternates between the two fixed RSA keys, so after a rotation both the
//! `kid` and (for RSA) the key material are new.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_jose::{Algorithm, EncodingKey};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

const RSA_A_PEM: &str = include_str!("../keys/rsa-a.pem");
const RSA_B_PEM: &str = include_str!("../keys/rsa-b.pem");
const EC_P256_PEM: &str = include_str!("../keys/ec-p256.pem");
const ED25519_PEM: &str = include_str!("../keys/ed25519.pem");
/// Deliberately weak (1024-bit) RSA key for weak-key tests (`Behavior::weak_rsa_key`).
const RSA_WEAK_PEM: &str = include_str!("../keys/rsa-weak-1024.pem");

/// One RSA key: signing key, JWK parameters and public PEM.
pub(crate) struct RsaKey {
    pub(crate) encoding: EncodingKey,
    /// The private key itself: the weak key signs with RustCrypto's `rsa`, since ring (the
    /// gateway's backend) refuses RSA keys under 2048 bits, to sign as well as to verify.
    pub(crate) private: rsa::RsaPrivateKey,
    /// Base64url modulus.
    pub(crate) n: String,
    /// Base64url public exponent.
    pub(crate) e: String,
    /// SPKI PEM of the public key (for algorithm-confusion tests).
    pub(crate) public_pem: String,
}

/// All fixed keys, parsed once.
pub(crate) struct FixedKeys {
    pub(crate) rsa: [RsaKey; 2],
    /// The 1024-bit RSA key, never in the JWKS unless `Behavior::weak_rsa_key` asks for it.
    pub(crate) weak_rsa: RsaKey,
    pub(crate) ec: EncodingKey,
    /// Base64url P-256 affine coordinates.
    pub(crate) ec_x: String,
    pub(crate) ec_y: String,
    pub(crate) ed: EncodingKey,
    /// Base64url Ed25519 public key.
    pub(crate) ed_x: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn load_rsa(pem: &str) -> RsaKey {
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("embedded RSA test key is valid");
    let public = private.to_public_key();
    RsaKey {
        encoding: EncodingKey::from_rsa_pem(pem.as_bytes())
            .expect("embedded RSA test key is valid"),
        n: b64(&public.n().to_bytes_be()),
        e: b64(&public.e().to_bytes_be()),
        public_pem: public
            .to_public_key_pem(LineEnding::LF)
            .expect("embedded RSA test key encodes"),
        private,
    }
}

/// The parsed fixed keys (panics only if the embedded files are broken).
pub(crate) static KEYS: LazyLock<FixedKeys> = LazyLock::new(|| {
    let ec =
        EncodingKey::from_ec_pem(EC_P256_PEM.as_bytes()).expect("embedded EC test key is valid");
    let ed = EncodingKey::from_ed_pem(ED25519_PEM.as_bytes())
        .expect("embedded Ed25519 test key is valid");
    // The public parts, derived by idp-jose's backend (ring), as jsonwebtoken's JWKs.
    let public = |key: &EncodingKey, alg| {
        serde_json::to_value(idp_jose::public_jwk(key, alg).expect("embedded test key is valid"))
            .expect("a JWK serializes")
    };
    let (ec_jwk, ed_jwk) = (public(&ec, Algorithm::ES256), public(&ed, Algorithm::EdDSA));
    let member = |jwk: &Value, name: &str| jwk[name].as_str().expect("a JWK member").to_string();
    FixedKeys {
        rsa: [load_rsa(RSA_A_PEM), load_rsa(RSA_B_PEM)],
        weak_rsa: load_rsa(RSA_WEAK_PEM),
        ec_x: member(&ec_jwk, "x"),
        ec_y: member(&ec_jwk, "y"),
        ed_x: member(&ed_jwk, "x"),
        ec,
        ed,
    }
});

/// The current key generation. Cheap to copy; the keys themselves are static.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRing {
    generation: u32,
}

impl Default for KeyRing {
    fn default() -> Self {
        Self { generation: 1 }
    }
}

impl KeyRing {
    /// Switches to a new generation: new kids, the other RSA key.
    pub(crate) fn rotate(&mut self) {
        self.generation += 1;
    }

    /// The RSA key of this generation.
    pub(crate) fn rsa(&self) -> &'static RsaKey {
        &KEYS.rsa[(self.generation as usize + 1) % 2]
    }

    /// Key id of the RSA key as published for RS256.
    pub(crate) fn rsa_kid(&self) -> String {
        format!("rsa-{}", self.generation)
    }

    /// Key id of the same RSA key as published for PS256.
    pub(crate) fn ps_kid(&self) -> String {
        format!("ps-{}", self.generation)
    }

    /// Key id of the weak 1024-bit RSA key (`Behavior::weak_rsa_key`).
    pub(crate) fn weak_rsa_kid(&self) -> String {
        format!("weak-rsa-{}", self.generation)
    }

    /// The public JWK of the weak 1024-bit RSA key, for RS256.
    pub(crate) fn weak_rsa_jwk(&self) -> Value {
        let weak = &KEYS.weak_rsa;
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.weak_rsa_kid(), "n": weak.n, "e": weak.e})
    }

    /// Key id of the P-256 key.
    pub(crate) fn ec_kid(&self) -> String {
        format!("ec-{}", self.generation)
    }

    /// Key id of the Ed25519 key.
    pub(crate) fn ed_kid(&self) -> String {
        format!("ed-{}", self.generation)
    }

    /// The public JWKS of this generation: the RSA key (once as RS256, once as
    /// PS256 so RPs that filter on `alg` find it), the P-256 key and the
    /// Ed25519 key.
    pub(crate) fn jwks(&self) -> Value {
        let keys = &*KEYS;
        let rsa = self.rsa();
        json!({
            "keys": [
                {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.rsa_kid(), "n": rsa.n, "e": rsa.e},
                {"kty": "RSA", "use": "sig", "alg": "PS256", "kid": self.ps_kid(), "n": rsa.n, "e": rsa.e},
                {"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.ec_kid(), "crv": "P-256", "x": keys.ec_x, "y": keys.ec_y},
                {"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": self.ed_kid(), "crv": "Ed25519", "x": keys.ed_x},
            ]
        })
    }
}
