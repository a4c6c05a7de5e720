// A real OpenID Provider (panva/oidc-provider 9.13.3) on loopback for idp-bridge integration tests.
//
//   npm ci --prefix tests/idp
//   IDP_PORT=9099 IDP_REDIRECT_URIS=http://127.0.0.1:8080/callback node tests/idp/idp.mjs
//
// Environment:
//   IDP_PORT            port on 127.0.0.1 (default 9099; 0 = any free port, see READY line)
//   IDP_ISSUER          issuer (default http://127.0.0.1:<actual port>; a trailing "/" works)
//   IDP_REDIRECT_URIS   comma-separated exact redirect URIs of the client
//                       (default http://127.0.0.1:8080/callback)
//   IDP_POST_LOGOUT_REDIRECT_URIS  comma-separated, optional (default none)
//   IDP_CLIENT_ID       default "gateway"
//   IDP_CLIENT_SECRET   default "gateway-secret-0123456789abcdef"
//   IDP_AUTH_METHOD     client_secret_basic (default) or client_secret_post; the token endpoint
//                       rejects the other one with 401 invalid_client
//   IDP_PROFILE         "auth0": the users below are replaced by Auth0-shaped ones (see AUTH0_USERS:
//                       `connection|id` subjects, org_id, amr, a namespaced roles claim)
//   IDP_BACKCHANNEL_LOGOUT_URI  optional: turns on Back-Channel Logout 1.0 (features.backchannelLogout)
//                       with this backchannel_logout_uri for the client, session required (ID tokens
//                       and logout tokens carry sid). Ending the session at the provider (GET
//                       /session/end?client_id=..., then posting its confirmation form with logout=yes)
//                       posts a logout token there before the provider answers.
//   IDP_EXIT_ON_STDIN_EOF  "1": exit when stdin closes (set by the Rust harness so that an
//                       IdP never outlives a killed test binary); leave unset for `node ... &`
//
// stdout carries exactly one line, `READY <issuer>`, once the server listens. Everything else
// (oidc-provider notices, request errors) goes to stderr. On Node 20 oidc-provider prints
// "Unsupported runtime. Use Node.js v22.x LTS" to stderr: a warning only.
//
// Users (accountId = sub), picked by the authorization request's login_hint
// (no login_hint = alice); login and consent are zero-click:
//   alice  alice@example.test  email_verified true   name Alice  org_id org_123
//   bob    bob@example.test    email_verified false  name Bob
//   carol  clash@example.test  email_verified true   name Carol
//   login_hint=deny   the "user" cancels: redirect back with error=access_denied
//   any other hint    error=access_denied, error_description "unknown test user ..."
// A login_hint that differs from the account logged in through the cookie session forces a new
// login, so one cookie jar can log in as several users in turn.
//
// Only the authorization code flow with PKCE (S256, required) is enabled. ID tokens are signed
// RS256 with the fixed test-only key below (kid "idp-bridge-test-rs256-1") and carry
// email, email_verified, name and org_id (conformIdTokenClaims: false).
import http from 'node:http';
import Provider, { interactionPolicy } from 'oidc-provider';

// Keep stdout for the READY line: oidc-provider's notices use console.info.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

function fail(message) {
  console.error(`idp.mjs: ${message}`);
  process.exit(1);
}

function list(value) {
  return (value || '').split(',').map((s) => s.trim()).filter(Boolean);
}

const PORT_RAW = process.env.IDP_PORT ?? '9099';
const PORT = Number(PORT_RAW);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) fail(`IDP_PORT is not a port: ${PORT_RAW}`);
const CLIENT_ID = process.env.IDP_CLIENT_ID || 'gateway';
const CLIENT_SECRET = process.env.IDP_CLIENT_SECRET || 'gateway-secret-0123456789abcdef';
const AUTH_METHOD = process.env.IDP_AUTH_METHOD || 'client_secret_basic';
if (!['client_secret_basic', 'client_secret_post'].includes(AUTH_METHOD)) {
  fail(`IDP_AUTH_METHOD must be client_secret_basic or client_secret_post, not ${AUTH_METHOD}`);
}
const REDIRECT_URIS = list(process.env.IDP_REDIRECT_URIS || 'http://127.0.0.1:8080/callback');
const POST_LOGOUT_REDIRECT_URIS = list(process.env.IDP_POST_LOGOUT_REDIRECT_URIS);
const BACKCHANNEL_LOGOUT_URI = process.env.IDP_BACKCHANNEL_LOGOUT_URI || '';

const PLAIN_USERS = {
  alice: {
    sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice', org_id: 'org_123',
  },
  bob: { sub: 'bob', email: 'bob@example.test', email_verified: false, name: 'Bob' },
  carol: { sub: 'carol', email: 'clash@example.test', email_verified: true, name: 'Carol' },
};
// An Auth0 tenant's users: `sub` is `{connection}|{id}`, organizations log in with `org_id`, and
// an Action adds the namespaced roles claim. `amr` comes with the login (see the interaction).
const ROLES = 'https://example.com/roles';
const AUTH0_USERS = {
  'auth0|alice': {
    sub: 'auth0|alice', email: 'alice@example.test', email_verified: true, name: 'Alice',
    org_id: 'org_123', [ROLES]: ['admin', 'staff'], amr: ['pwd', 'mfa'],
  },
  'google-oauth2|1234': {
    sub: 'google-oauth2|1234', email: 'gina@example.test', email_verified: true, name: 'Gina',
    org_id: 'org_123', [ROLES]: ['staff'], amr: ['mfa'],
  },
  'google-oauth2|5678': {
    sub: 'google-oauth2|5678', email: 'nomfa@example.test', email_verified: true, name: 'No MFA',
    org_id: 'org_123', amr: ['pwd'],
  },
  'auth0|bob': {
    sub: 'auth0|bob', email: 'bob@example.test', email_verified: true, name: 'Bob',
    org_id: 'org_456', amr: ['pwd', 'mfa'],
  },
  'auth0|dave': {
    sub: 'auth0|dave', email: 'dave@example.test', email_verified: true, name: 'Dave', amr: ['pwd', 'mfa'],
  },
  'samlp|corp|erin': {
    sub: 'samlp|corp|erin', email: 'erin@example.test', email_verified: true, name: 'Erin',
    org_id: 'org_123', amr: ['pwd', 'mfa'],
  },
};
const AUTH0 = process.env.IDP_PROFILE === 'auth0';
if (process.env.IDP_PROFILE && !AUTH0) fail(`IDP_PROFILE must be auth0 or unset, not ${process.env.IDP_PROFILE}`);
const USERS = AUTH0 ? AUTH0_USERS : PLAIN_USERS;
const DEFAULT_USER = AUTH0 ? 'auth0|alice' : 'alice';

// Test-only signing key. Never use it anywhere else.
const SIGNING_JWK = {
    kty: "RSA",
    kid: "idp-bridge-test-rs256-1",
    alg: "RS256",
    use: "sig",
    n: "1aVL8dgy2Rvq98cupd2qBGTtqLH8CsSyrocBD93AOo5fXIJYluHMdL71lBOP1AglkK-07IolP_yV-GmnNXv6kFXQOJ7OuaxsODiYu6_FKSnii6MM4ApOco6RppbVyqs1hy4qXTjdxU4xMJmds1DQqJ4lXg2IpfYVO67tA44Vc2djxlzIai_3bU5vcV5xFIQgKY52XLPAc0V9iKvqDB6-OOr0CQJdRWCCm-feMkH-ztxcJzAP-lybfiorbK9-AsFJ-sU2AhOMcg2w-83Ae1pwhBx_Eq88ZD5YCch-pvsnTpruLKcuTBZ4iPAyCX7tOieZBWo55inmArZPq8n2Q-cElQ",
    e: "AQAB",
    d: "FcSlU8txBuEK1Fs1nA3VVGRKOM2Fvj0jbZfw2kKAYxb9jWn0h88S63RHhmJl3bdEyJS2jQFYYUglqa1uLYtn0MwFjrdTneR9FE9j9H-oyZRsckjXN36lVpPDMGOe_erq5c6k32G7au6YIXkNcedSk1OlwAsF-M71g-LDYIDaG6tl60qJgOTJWG8KIbZ76xZpki1WOgASAwe7Q0SmE-mGycyTf41gXMU6_UWpJb_ZTTtc40brdI_RFAKq_AB2W9MO5P3FkDKxPjfIySdGoGGlRycO_t1NHt--8Ao6Qcc1UUq-OvRedkS49KUKBW_isKp8ZOgC4jZUUx9Ff0QRDUqI8w",
    p: "9u2bSYlCKW_h2f6Ugx1DOdGsIgRVngcHBy25j_PsQtCeVXlJX13Ag9uLFPB0l3A7jXxGNKnDxMvm3-c0xSlqa3YxvaC2FVXm-QJJJj-tHs4SUNoSmyhhFLgmqMXGfwUpw5h1B5Q9YxL4MDs5Ifyz_vMtjSvyTlBpcTGRTlccTMs",
    q: "3X6p9tIelIhOkBcyEaLl3F8_m9nrKMOMfMvHJrg74uM3FNQLkxI28JrODtfp7NHxEAwWeQ5Wy-4ZPR58uJHS02XmRw9ewHj8JP2Fm5Gjjl57k-ozKdMI9Lwb2l1wupfXH-TuaWa8zRp-xuGxupSRNyUaUCIfkpSL6SwWLZ0uKB8",
    dp: "X3bDF236Zzy7C2VyEzKn_92A9_HHC_5ZiDv0RqQeDkLLQ-5NIJKFUDT7k0_XM4kPbQbDua58YkQWcS_Y5fS6EOu0FUThwGPilRh-IUxy6Lrwt9NnaBb3WWRMhelYcVkUqWryq8hy5y-5RiRPVUV2bTWkwbRgzEgoS7vHGotxBHs",
    dq: "C0EeXb47c4yhgUzMbHz8dQAZ-U9PVZjqEIVCL0N5N4QYDmTf2a85P2x-P97UsgXQ2-HhWnFSE7abbbGY4L_4GGm7E61CQUFkfnSrT0ZNKzS9zrw9sUhZ0iWkvKm2yqRgd-xn-M8RlNJd0rkxEKvv3P9zoNK7C_WkTkrBLbwo1j0",
    qi: "A1s_phqzp_SEo39UdOffZFGFtt3BaeACzziMi0GXrtO25VlN_nuQXxdlM1kUOm2Y4QbWhM5x36nBXqNqo1YYThJygYw0RVL0RHdtpsHf-GYoi6HhiZmkFJtZAg3sk8ldVBOySmXyghWcyt4AwwSqsboOP4fOnN2i-kkyiyojjBE",};

// Log in again when login_hint names another user than the session's.
const policy = interactionPolicy.base();
policy.get('login').checks.push(new interactionPolicy.Check(
  'login_hint_mismatch',
  'login_hint does not match the End-User of the current session',
  (ctx) => {
    const { oidc } = ctx;
    const hint = oidc.params.login_hint;
    if (hint && oidc.session.accountId && hint !== oidc.session.accountId && !oidc.result?.login) {
      return interactionPolicy.Check.REQUEST_PROMPT;
    }
    return interactionPolicy.Check.NO_NEED_TO_PROMPT;
  },
));

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: AUTH_METHOD,
      id_token_signed_response_alg: 'RS256',
      ...(BACKCHANNEL_LOGOUT_URI ? {
        backchannel_logout_uri: BACKCHANNEL_LOGOUT_URI,
        backchannel_logout_session_required: true,
      } : {}),
    }],
    responseTypes: ['code'],
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    claims: {
      openid: AUTH0 ? ['sub', 'org_id', 'amr', ROLES] : ['sub', 'org_id'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    findAccount: async (_ctx, id) => USERS[id] && { accountId: id, claims: async () => USERS[id] },
    jwks: { keys: [SIGNING_JWK] },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: Boolean(BACKCHANNEL_LOGOUT_URI) },
    },
    // oidc-provider's own outgoing requests (here: the logout token's POST) refuse loopback and
    // other special-use addresses (SSRF protection), but the test gateway listens on loopback:
    // this test-only provider sends them without that dispatcher.
    fetch: (url, { dispatcher: _ssrfCheck, ...options }) => globalThis.fetch(url, options),
    interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['idp-bridge-test-only-cookie-key'] },
  });

  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
    'introspection.error', 'revocation.error', 'end_session.error', 'jwks.error', 'discovery.error']) {
    provider.on(event, (_ctx, err) => {
      const detail = err.error_description ? ` (${err.error_description})` : '';
      console.error(`idp.mjs ${event}: ${err.error || err.name}${detail}`);
      if (event === 'server_error') console.error(err);
    });
  }

  // oidc-provider accepts client_secret_basic and client_secret_post interchangeably; enforce the
  // configured one at the token endpoint, so that a test catches a gateway that sends the other.
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    const basic = /^basic /i.test(ctx.get('authorization'));
    if (basic !== (AUTH_METHOD === 'client_secret_basic')) {
      const description = `this client must authenticate with ${AUTH_METHOD}`;
      console.error(`idp.mjs grant.error: invalid_client (${description})`);
      ctx.status = 401;
      if (AUTH_METHOD === 'client_secret_basic') ctx.set('WWW-Authenticate', 'Basic realm="idp"');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: description };
      return undefined;
    }
    return next();
  });

  // Zero-click login and consent; the user is chosen by login_hint.
  provider.use(async (ctx, next) => {
    const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
    if (ctx.method !== 'GET' || !m) return next();
    const { prompt, params, session, grantId } = await provider.interactionDetails(ctx.req, ctx.res);

    if (prompt.name === 'login') {
      const hint = params.login_hint || DEFAULT_USER;
      if (hint === 'deny') {
        return provider.interactionFinished(ctx.req, ctx.res,
          { error: 'access_denied', error_description: 'user cancelled' },
          { mergeWithLastSubmission: false });
      }
      if (!USERS[hint]) {
        return provider.interactionFinished(ctx.req, ctx.res,
          { error: 'access_denied', error_description: `unknown test user ${hint}` },
          { mergeWithLastSubmission: false });
      }
      const { amr } = USERS[hint];
      return provider.interactionFinished(ctx.req, ctx.res,
        { login: { accountId: hint, ...(amr ? { amr } : {}) } }, { mergeWithLastSubmission: false });
    }

    if (prompt.name === 'consent') {
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const { details } = prompt;
      if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
      if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
      if (details.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(details.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      return provider.interactionFinished(ctx.req, ctx.res,
        { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    }

    ctx.status = 500;
    ctx.body = `idp.mjs: unexpected prompt ${prompt.name}`;
    console.error(ctx.body);
    return undefined;
  });

  return provider;
}

// Listen first, so that IDP_PORT=0 can pick a free port and the issuer can name it.
const server = http.createServer();
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${PORT}: ${err.message}`));
server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = process.env.IDP_ISSUER || `http://127.0.0.1:${port}`;
  let provider;
  try {
    provider = buildProvider(issuer);
  } catch (err) {
    console.error(err);
    fail('invalid provider configuration');
  }
  server.on('request', provider.callback());
  process.stdout.write(`READY ${issuer}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
if (process.env.IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
