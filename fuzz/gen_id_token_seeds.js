// Writes the id_token seed corpus (fuzz/seeds/id_token/) and prints the JWKS embedded in
// fuzz_targets/id_token.rs. Key: tests/mock-op/keys/rsa-a.pem (public test key). Run: node fuzz/gen_id_token_seeds.js
const crypto = require('crypto');
const fs = require('fs');
const pem = fs.readFileSync(require('path').join(__dirname, '../tests/mock-op/keys/rsa-a.pem'));
const key = crypto.createPrivateKey(pem);
const jwk = crypto.createPublicKey(key).export({ format: 'jwk' });
const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
const NOW = 1704067200; // 2024-01-01T00:00:00Z, the fuzz target's clock
const jwks = { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid: 'fuzz-rsa', n: jwk.n, e: jwk.e }] };
console.log(JSON.stringify(jwks));
const claims = { iss: 'https://op.example.com', aud: 'idp-bridge', sub: 'user-1', exp: NOW + 600, iat: NOW - 10, nonce: 'fuzz-nonce', email: 'u@example.com', email_verified: true };
function rs(header, payload) {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = crypto.sign('RSA-SHA256', Buffer.from(input), key).toString('base64url');
  return `${input}.${sig}`;
}
function hs(header, payload, secret) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}
const out = {
  'valid_rs256': rs({ alg: 'RS256', kid: 'fuzz-rsa', typ: 'JWT' }, claims),
  'valid_rs256_no_kid': rs({ alg: 'RS256' }, claims),
  'valid_hs256': hs({ alg: 'HS256', typ: 'JWT' }, claims, 'fuzz-client-secret'),
  'multi_aud_azp': rs({ alg: 'RS256', kid: 'fuzz-rsa' }, { ...claims, aud: ['idp-bridge', 'https://api.example.com'], azp: 'idp-bridge', nbf: NOW - 5, at_hash: 'x' }),
  'expired': rs({ alg: 'RS256', kid: 'fuzz-rsa' }, { ...claims, exp: NOW - 3600 }),
  'alg_none': `${b64({ alg: 'none' })}.${b64(claims)}.`,
  'unknown_kid': rs({ alg: 'RS256', kid: 'other' }, claims),
  'bad_signature': rs({ alg: 'RS256', kid: 'fuzz-rsa' }, claims).slice(0, -4) + 'AAAA',
  'garbage': 'a.b.c',
};
for (const [k, v] of Object.entries(out)) fs.writeFileSync(require('path').join(__dirname, 'seeds/id_token', k), v);

