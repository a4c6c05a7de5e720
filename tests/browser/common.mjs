// What the browser tests share (login.mjs: the demo page; spa.mjs: the example single-page app
// of examples/spa): headless Chromium, a watch on what a page does, the attacker's forwarded
// success link, the checks that no secret stays on a page, and the report of a failure.
//
// Chromium: $CHROMIUM_PATH if set, else Debian's /usr/bin/chromium (from apt; the same rule as
// tests/integration/browser.rs and scripts/test; no browser is ever downloaded), driven by
// playwright-core.

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const TIMEOUT_MS = 20_000;

/** Throws `message`: the script's one way to fail. */
export function fail(message) {
  throw new Error(message);
}

/** The app URL from the command line (`node <script> <app_url>`), or exit 2. */
export function appUrlArgument(script) {
  const appUrl = process.argv[2];
  if (!appUrl) {
    console.error(`usage: node tests/browser/${script} <app_url>`);
    process.exit(2);
  }
  return appUrl;
}

export async function launch() {
  return chromium.launch({
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
}

/**
 * A new page of `context` whose console errors, failed requests and navigations are watched:
 * every `secret` the gateway hands to the app is added to `seen.secrets`, to look for it later.
 */
export async function watchedPage(context, seen) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.setDefaultNavigationTimeout(TIMEOUT_MS);
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => seen.consoleErrors.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => {
    seen.consoleErrors.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('framenavigated', (frame) => {
    if (frame !== page.mainFrame()) return;
    const url = new URL(frame.url());
    for (const p of [url.searchParams, new URLSearchParams(url.hash.replace(/^#/, ''))]) {
      if (p.get('secret')) seen.secrets.add(p.get('secret'));
    }
  });
  return page;
}

/** What the script watches: console errors and every secret delivered to the app. */
export function newWatch() {
  return { consoleErrors: [], secrets: new Set() };
}

/** Whether the address carries a result the app should have taken out of it. */
export function carriesResult(address) {
  return /[?#&](userId|secret|state)=/.test(address);
}

/** Fails when a delivered secret is still in `page`'s text or address, or a result is. */
export async function expectNoSecretLeft(page, seen) {
  if (seen.secrets.size === 0) fail('the gateway never delivered a secret to the app');
  const text = await page.evaluate(() => document.documentElement.innerText + document.documentElement.outerHTML);
  const address = page.url();
  for (const secret of seen.secrets) {
    if (text.includes(secret)) fail('the token secret is in the page');
    if (address.includes(secret)) fail('the token secret is still in the address bar');
  }
  if (carriesResult(address)) fail(`the address bar still carries the token: ${address}`);
}

/**
 * The login CSRF on the last hop, from the attacker's side: in a browser context of their own,
 * the attacker opens the app, begins a sign-in (`beginSignIn(tab)` leaves the app for the
 * provider), signs in at the provider as `user` and stops at the gateway's last redirect, whose
 * Location (the link the victim is sent) is returned: it carries `user`'s token and the state
 * the attacker's page made. Playwright cannot intercept a redirect, so the attacker's page posts
 * the provider's form, and the redirects after it are followed by hand, with the attacker's
 * cookies, up to the gateway's 302 to the app.
 */
export async function forwardedLink(browser, appUrl, beginSignIn, user) {
  const attackerContext = await browser.newContext();
  try {
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
    await beginSignIn(attacker);
    await attacker.getByRole('button', { name: `Sign in as ${user}` }).click();
    return await Promise.race([
      forwarded,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no success link for ${user}`)), TIMEOUT_MS)),
    ]);
  } finally {
    await attackerContext.close();
  }
}

/** Prints what went wrong and what `page` showed (secrets masked), closes the browser, exits 1. */
export async function reportFailure(script, error, browser, page, seen) {
  console.error(`${script} failed: ${error?.stack || error}`);
  const masked = (text) => {
    let shown = text;
    for (const secret of seen.secrets) shown = shown.split(secret).join('[secret]');
    return shown;
  };
  if (page) {
    console.error(`address: ${masked(page.url())}`);
    const text = await page.evaluate(() => document.body?.innerText ?? '').catch((e) => `(no page text: ${e})`);
    console.error(`page text:\n${masked(text)}`);
  }
  if (seen.consoleErrors.length) console.error(`console errors:\n${seen.consoleErrors.join('\n')}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
