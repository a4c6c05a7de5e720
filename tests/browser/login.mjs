// End-to-end login through the demo in a real browser:
//
//     node tests/browser/login.mjs <app_url>
//
// Headless Chromium: $CHROMIUM_PATH if set, else Debian's /usr/bin/chromium (from apt; the
// same rule as tests/integration/browser.rs and scripts/test; no browser is ever downloaded),
// driven by playwright-core: open the demo app, click "Sign in", on the OpenID provider's page
// click "Sign in as Alice", and wait until the app shows the session that the Appwrite web SDK
// created. Checks that the token secret is neither in the page text nor in the address bar.
// Prints one JSON line {"userId":..., "sessionId":...} and exits 0; on failure prints what the
// page showed and exits 1. BROWSER_SCREENSHOT=<path> saves a screenshot of the final page.
// Used by tests/integration/browser.rs.

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
  const result = page.locator('#result');
  await result.waitFor({ state: 'visible' });
  await page.waitForFunction(
    () => {
      const box = document.getElementById('result');
      return box && (box.className === 'ok' || box.className === 'error');
    },
    null,
    { timeout: TIMEOUT_MS },
  );
  const kind = await result.getAttribute('class');
  const fields = await page.evaluate(() => {
    const out = {};
    const items = document.querySelectorAll('#result-fields dt');
    for (const dt of items) out[dt.textContent] = dt.nextElementSibling?.textContent ?? '';
    return out;
  });
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
  if (/[?#&](userId|secret)=/.test(finalUrl)) fail(`the address bar still carries the token: ${finalUrl}`);

  if (process.env.BROWSER_SCREENSHOT) {
    await page.screenshot({ path: process.env.BROWSER_SCREENSHOT, fullPage: true });
  }
  console.log(JSON.stringify({ userId, sessionId }));
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
