// The example single-page app of the idp-bridge book ("Example: a single-page app").
//
// 1. Lists the gateway's providers that have a browser login (GET /v1/providers).
// 2. Sign in: makes a fresh random `state`, keeps it in sessionStorage (this tab only), and
//    sends the browser to the gateway's start URL with this page as success and failure URL.
// 3. Back from the gateway: takes userId/secret (or error) and state out of the address bar,
//    refuses any result whose state is not the one this tab stored (or that arrives when this
//    tab started no login), and only then makes the Appwrite session with the web SDK.
// The secret is never shown, stored or logged.
//
// Settings come from config.json beside this file: {"gateway", "appwriteEndpoint",
// "appwriteProject"}. The page is served from an URL listed in the gateway's [redirect] allowed.

const STATE_KEY = 'idp-bridge-login-state';

const status = document.getElementById('status');
const providerList = document.getElementById('providers');
const result = document.getElementById('result');

/** Shows `text`; `state` is also set as data-state, for people's CSS and for tests. */
function show(state, text, details) {
  status.dataset.state = state;
  status.textContent = text;
  result.hidden = details === undefined;
  result.textContent = details === undefined ? '' : JSON.stringify(details, null, 2);
}

async function loadConfig() {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  return response.json();
}

/** 32 random bytes, base64url: the value the gateway returns unchanged beside the result. */
function randomState() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A route of the gateway, whose URL may have a path of its own (`https://example.com/login`). */
function gatewayUrl(config, route) {
  return new URL(`${config.gateway.replace(/\/+$/, '')}${route}`);
}

/** This page's URL without query or fragment: the success and the failure URL. */
function thisPage() {
  return `${location.origin}${location.pathname}`;
}

function signIn(config, providerId) {
  const state = randomState();
  sessionStorage.setItem(STATE_KEY, state);
  const start = gatewayUrl(config, `/v1/auth/${encodeURIComponent(providerId)}/start`);
  start.searchParams.set('success', thisPage());
  start.searchParams.set('failure', thisPage());
  start.searchParams.set('state', state);
  location.assign(start.href);
}

/**
 * What the gateway sent back (query, or fragment with delivery = "fragment"), removed from the
 * address bar and the history entry at once; null when the page was opened without a result.
 */
function takeResult() {
  const params = new URLSearchParams(location.search);
  for (const [name, value] of new URLSearchParams(location.hash.slice(1))) params.set(name, value);
  if (!params.has('userId') && !params.has('error')) return null;
  history.replaceState(null, '', location.pathname);
  return params;
}

/** Whether `params` answers the login this tab started. The stored state is used once. */
function startedHere(params) {
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  return expected !== null && params.get('state') === expected;
}

function parseError(text) {
  try {
    const error = JSON.parse(text);
    return { type: String(error.type), message: String(error.message), code: Number(error.code) };
  } catch {
    return { type: 'unreadable', message: 'The error sent back could not be read.', code: 0 };
  }
}

async function finish(account, params) {
  if (!startedHere(params)) {
    show('refused', 'Refused: this sign-in result does not belong to a sign-in started in this tab. Nothing was done.');
    return;
  }
  if (params.has('error')) {
    const error = parseError(params.get('error'));
    show('failed', `Sign-in failed: ${error.message}`, error);
    return;
  }
  const session = await account.createSession({
    userId: params.get('userId'),
    secret: params.get('secret'),
  });
  show('signed-in', 'Signed in.', { userId: session.userId, sessionId: session.$id });
}

async function listProviders(config) {
  const response = await fetch(gatewayUrl(config, '/v1/providers'));
  if (!response.ok) throw new Error(`GET /v1/providers: HTTP ${response.status}`);
  const { providers } = await response.json();
  providerList.replaceChildren(
    ...providers.filter((p) => p.redirect).map((p) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.provider = p.id;
      button.textContent = `Sign in with ${p.name}`;
      button.addEventListener('click', () => signIn(config, p.id));
      return button;
    }),
  );
}

try {
  const config = await loadConfig();
  const { Client, Account } = window.Appwrite;
  const client = new Client().setEndpoint(config.appwriteEndpoint).setProject(config.appwriteProject);
  const account = new Account(client);
  const params = takeResult();
  if (params) {
    await finish(account, params);
  } else {
    show('ready', 'Choose how to sign in.');
  }
  if (status.dataset.state !== 'signed-in') await listProviders(config);
} catch (error) {
  show('error', `Something went wrong: ${error.message}`);
}
