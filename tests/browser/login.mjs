// End-to-end login through the demo in a real browser:
//
//     node tests/browser/login.mjs <app_url>
//
// Headless Chromium: $CHROMIUM_PATH if set, else Debian's /usr/bin/chromium (from apt; the
// same rule as tests/integration/browser.rs and scripts/test; no browser is ever downloaded),
// driven by playwright-core: open the demo app, click "Sign in", on the OpenID provider's page
// click "Sign in as Alice", and wait until the app shows the session that the Appwrite web SDK
// created. Checks that the token secret is neither in the page text nor in the address bar.
//
// Then the forwarded link (login CSRF on the last hop): in a browser of their own, an attacker
// signs in as Bob and stops at the gateway's last redirect, whose address carries Bob's token
// and the state the attacker's page made. The victim opens that link twice: in a fresh tab (no
// state kept) and in the tab that has just begun a sign-in of its own (another state kept).
// Both times the page must refuse it and make no session.
//
// Prints one JSON line {"userId":..., "sessionId":..., "forwardedUserId":...} and exits 0; on
// failure prints what the page showed and exits 1. BROWSER_SCREENSHOT=<path> saves a
// screenshot of the final page. Used by tests/integration/browser.rs.

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT_MS = 20_000;

const appUrl = process.argv[2];
if (!appUrl) {
  console.error('usage: node tests/browser/login.mjs <app_url>');
  process.exit(2);
}

const consoleErrors = [];
const secrets = new Set();
let browser;
let page;

function fail(message) {
  throw new Error(message);
}

// What the page shows once it has handled the address it was opened with: the result box's
// class ('ok' or 'error'), its title and its fields.
async function shownResult(tab) {
  await tab.locator('#result').waitFor({ state: 'visible' });
  await tab.waitForFunction(
    () => {
      const box = document.getElementById('result');
      return box && (box.className === 'ok' || box.className === 'error');
    },
    null,
    { timeout: TIMEOUT_MS },
  );
  return tab.evaluate(() => {
    const fields = {};
    for (const dt of document.querySelectorAll('#result-fields dt')) {
      fields[dt.textContent] = dt.nextElementSibling?.textContent ?? '';
    }
    return {
      kind: document.getElementById('result').className,
      title: document.getElementById('result-title').textContent,
      fields,
    };
  });
}

// The page opened with a forwarded link refused it: an error about the state, no session, and
// the token gone from the address bar.
async function expectRefused(tab, where) {
  const shown = await shownResult(tab);
  if (shown.kind !== 'error' || !/not started in this browser/.test(shown.title)) {
    fail(`${where}: the forwarded link was not refused: ${JSON.stringify(shown)}`);
  }
  if ('session id' in shown.fields) fail(`${where}: a session was made: ${JSON.stringify(shown)}`);
  if (/[?#&](userId|secret|state)=/.test(tab.url())) fail(`${where}: the address bar still carries the token`);
}

try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: TIMEOUT_MS,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.setDefaultNavigationTimeout(TIMEOUT_MS);
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => {
    consoleErrors.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`);
  });
  // Remember every secret the gateway hands to the app, to look for it afterwards.
  page.on('framenavigated', (frame) => {
    if (frame !== page.mainFrame()) return;
    const url = new URL(frame.url());
    const params = [url.searchParams, new URLSearchParams(url.hash.replace(/^#/, ''))];
    for (const p of params) {
      if (p.get('secret')) secrets.add(p.get('secret'));
    }
  });

  // 1. The app: a Sign in link to the gateway.
  await page.goto(appUrl, { waitUntil: 'load' });
  const sdkLoaded = await page.evaluate(() => typeof window.Appwrite?.Account === 'function');
  if (!sdkLoaded) fail('the demo page did not load the Appwrite web SDK (window.Appwrite is undefined)');

  // 2. Sign in: gateway -> OpenID provider login page.
  await Promise.all([
    page.waitForURL((url) => !url.href.startsWith(appUrl)),
    page.getByRole('link', { name: 'Sign in', exact: true }).click(),
  ]);

  // 3. The provider's page: choose Alice. The browser goes OP -> gateway callback -> app.
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(appUrl)),
    page.getByRole('button', { name: 'Sign in as Alice' }).click(),
  ]);

  // 4. The app shows the result of account.createSession({ userId, secret }).
  const { kind, fields } = await shownResult(page);
  if (kind !== 'ok') fail(`the app shows an error: ${JSON.stringify(fields)}`);
  const userId = fields['user id'];
  const sessionId = fields['session id'];
  if (!userId) fail(`no user id shown: ${JSON.stringify(fields)}`);
  if (!sessionId) fail(`no session id shown: ${JSON.stringify(fields)}`);
  if (fields.provider !== 'token') fail(`provider is ${JSON.stringify(fields.provider)}, not "token"`);
  if (!/^Appwrite web SDK \d/.test(fields.client ?? '')) {
    fail(`the session was not created by the Appwrite web SDK: client=${JSON.stringify(fields.client)}`);
  }

  // 5. The secret: delivered, then gone from the page and the address bar.
  if (secrets.size === 0) fail('the gateway never delivered a secret to the app');
  const text = await page.evaluate(() => document.documentElement.innerText + document.documentElement.outerHTML);
  const finalUrl = page.url();
  for (const secret of secrets) {
    if (text.includes(secret)) fail('the token secret is in the page');
    if (finalUrl.includes(secret)) fail('the token secret is still in the address bar');
  }
  if (/[?#&](userId|secret|state)=/.test(finalUrl)) fail(`the address bar still carries the token: ${finalUrl}`);

  // 6. The attacker, in a browser of their own, signs in as Bob and stops at the last redirect.
  //    Playwright cannot intercept a redirect, so the attacker's page posts the OP's form, and
  //    the redirects after it are followed by hand, with the attacker's cookies, up to the
  //    gateway's 302 to the app, whose Location is the link the victim is sent.
  const attackerContext = await browser.newContext();
  const attacker = await attackerContext.newPage();
  attacker.setDefaultTimeout(TIMEOUT_MS);
  let forward;
  const forwarded = new Promise((resolve, reject) => { forward = { resolve, reject }; });
  await attacker.route(
    (url) => !url.href.startsWith(appUrl),
    async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      try {
        let response = await route.fetch({ maxRedirects: 0 });
        let next = null;
        while (response.status() >= 300 && response.status() < 400) {
          next = new URL(response.headers().location, response.url()).href;
          if (next.startsWith(appUrl)) break;
          response = await attackerContext.request.get(next, { maxRedirects: 0 });
          next = null;
        }
        if (next) forward.resolve(next);
        else forward.reject(new Error(`the login did not end at the app: ${response.status()} ${response.url()}`));
      } catch (error) {
        forward.reject(error);
      }
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'stopped before the app' });
    },
  );
  await attacker.goto(appUrl, { waitUntil: 'load' });
  await Promise.all([
    attacker.waitForURL((url) => !url.href.startsWith(appUrl)),
    attacker.getByRole('link', { name: 'Sign in', exact: true }).click(),
  ]);
  await attacker.getByRole('button', { name: 'Sign in as Bob' }).click();
  const link = await Promise.race([
    forwarded,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no success link for Bob')), TIMEOUT_MS)),
  ]);
  await attackerContext.close();
  const forwardedUserId = new URL(link).searchParams.get('userId');
  if (!forwardedUserId || forwardedUserId === userId) fail(`the forwarded link is not Bob's: userId=${forwardedUserId}`);

  // 7. The victim opens it in a fresh tab (this page kept no state there), then in the tab
  //    that has just begun its own sign-in (another state kept): refused both times.
  const freshTab = await context.newPage();
  freshTab.setDefaultTimeout(TIMEOUT_MS);
  await freshTab.goto(link, { waitUntil: 'load' });
  await expectRefused(freshTab, 'a fresh tab');
  await freshTab.close();
  await Promise.all([
    page.waitForURL((url) => !url.href.startsWith(appUrl)),
    page.getByRole('link', { name: 'Sign in', exact: true }).click(),
  ]);
  await page.goto(link, { waitUntil: 'load' });
  await expectRefused(page, 'the tab with a sign-in of its own');

  if (process.env.BROWSER_SCREENSHOT) {
    await page.screenshot({ path: process.env.BROWSER_SCREENSHOT, fullPage: true });
  }
  console.log(JSON.stringify({ userId, sessionId, forwardedUserId }));
  await browser.close();
  process.exit(0);
} catch (error) {
  console.error(`browser login failed: ${error?.stack || error}`);
  if (page) {
    let address = page.url();
    for (const secret of secrets) address = address.split(secret).join('[secret]');
    console.error(`address: ${address}`);
    const text = await page.evaluate(() => document.body?.innerText ?? '').catch((e) => `(no page text: ${e})`);
    let shown = text;
    for (const secret of secrets) shown = shown.split(secret).join('[secret]');
    console.error(`page text:\n${shown}`);
  }
  if (consoleErrors.length) console.error(`console errors:\n${consoleErrors.join('\n')}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
