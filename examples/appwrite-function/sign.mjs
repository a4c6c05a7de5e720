// Signs idp-bridge assertions with Node's built-in `crypto` only (no npm packages), for an
// Appwrite Function or any other Node backend that has already checked who the user is.
//
//   signAssertion(...) -> a compact JWS for a `signed_assertion` provider with format = "jwt"
//   signBody(...)      -> a body and its X-Bridge-Signature for format = "hmac"
//   appwriteHandler(verifyUser, settings) -> an Appwrite Function that answers {"assertion"}
//
// The private key and the HMAC secret stay in the function's environment variables; the
// gateway holds only the public key (or the same HMAC secret).

import { createHmac, createPrivateKey, randomUUID, sign } from 'node:crypto';

const b64url = (data) => Buffer.from(data).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The JWS algorithm of a private key: EC P-256 -> ES256, Ed25519 -> EdDSA, RSA -> RS256. */
function algorithmOf(key) {
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error('EC keys must be on P-256 (ES256)');
      }
      return 'ES256';
    case 'ed25519':
      return 'EdDSA';
    case 'rsa':
      return 'RS256';
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/**
 * A signed assertion for `user` ({ id, email?, emailVerified?, name? }).
 * `privateKeyPem`: PKCS#8 PEM; `issuer` and `audience`: the provider's `issuer` and the
 * gateway's `public_url` (or its `audience`); `ttlSeconds`: keep it short (the gateway accepts
 * at most `max_age_seconds`, 300 by default).
 */
export function signAssertion({ privateKeyPem, issuer, audience, user, ttlSeconds = 60 }) {
  const key = createPrivateKey(privateKeyPem);
  const alg = algorithmOf(key);
  const iat = nowSeconds();
  const claims = {
    iss: issuer,
    aud: audience,
    sub: String(user.id),
    iat,
    exp: iat + ttlSeconds,
    jti: randomUUID(),
  };
  if (user.email) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified === true;
  }
  if (user.name) claims.name = user.name;
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const signature =
    alg === 'EdDSA'
      ? sign(null, Buffer.from(input), key)
      : // JWS wants ECDSA signatures as r||s, not DER.
        sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

/**
 * The `hmac` format: the exact body to send and its `X-Bridge-Signature` header value.
 * Send `body` byte for byte as it is returned: the signature covers those bytes.
 */
export function signBody({ secret, user }) {
  const payload = { sub: String(user.id), jti: randomUUID() };
  if (user.email) {
    payload.email = user.email;
    payload.email_verified = user.emailVerified === true;
  }
  if (user.name) payload.name = user.name;
  const body = JSON.stringify(payload);
  const t = nowSeconds();
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return { body, signature: `t=${t},v1=${v1}` };
}

/**
 * An Appwrite Function (`export default appwriteHandler(verifyUser)`) that answers
 * `{"assertion": "..."}` for the user `verifyUser(req)` vouches for, or 401 when it returns
 * nothing. `verifyUser` is your check (your own credential store, a licence server...): this
 * function signs for whoever it returns, so it must never return a user taken from the request
 * unchecked. Settings default to the environment variables ASSERTION_PRIVATE_KEY,
 * ASSERTION_ISSUER and BRIDGE_AUDIENCE.
 */
export function appwriteHandler(verifyUser, settings = {}) {
  const privateKeyPem = settings.privateKeyPem ?? process.env.ASSERTION_PRIVATE_KEY;
  const issuer = settings.issuer ?? process.env.ASSERTION_ISSUER;
  const audience = settings.audience ?? process.env.BRIDGE_AUDIENCE;
  return async ({ req, res, error }) => {
    const user = await verifyUser(req);
    if (!user) {
      return res.json({ message: 'not authenticated' }, 401);
    }
    try {
      return res.json({ assertion: signAssertion({ privateKeyPem, issuer, audience, user }) });
    } catch (e) {
      error(`cannot sign: ${e.message}`);
      return res.json({ message: 'cannot sign' }, 500);
    }
  };
}
