// End-to-end login through the demo in a real browser:
//
//     node tests/browser/login.mjs <app_url>
//
// Headless Chromium (see common.mjs): open the demo app, click "Sign in", on the OpenID
// provider's page click "Sign in as Alice", and wait until the app shows the session that the
// Appwrite web SDK created. Checks that the token secret is neither in the page text nor in
// the address bar.
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

import {
  TIMEOUT_MS, appUrlArgument, carriesResult, expectNoSecretLeft, fail, forwardedLink, launch,
  newWatch, reportFailure, watchedPage,
} from './common.mjs';

const appUrl = appUrlArgument('login.mjs');
const seen = newWatch();
let browser;
let page;

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
  if (carriesResult(tab.url())) fail(`${where}: the address bar still carries the token`);
}

// The demo page's Sign in link, followed to the provider.
async function beginSignIn(tab) {
  await Promise.all([
    tab.waitForURL((url) => !url.href.startsWith(appUrl)),
    tab.getByRole('link', { name: 'Sign in', exact: true }).click(),
  ]);
}

try {
  browser = await launch();
  const context = await browser.newContext();
  page = await watchedPage(context, seen);

  // 1. The app: a Sign in link to the gateway.
  await page.goto(appUrl, { waitUntil: 'load' });
  const sdkLoaded = await page.evaluate(() => typeof window.Appwrite?.Account === 'function');
  if (!sdkLoaded) fail('the demo page did not load the Appwrite web SDK (window.Appwrite is undefined)');

  // 2. Sign in: gateway -> OpenID provider login page.
  await beginSignIn(page);

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
  await expectNoSecretLeft(page, seen);

  // 6. The attacker, in a browser of their own, signs in as Bob and stops at the last redirect.
  const link = await forwardedLink(browser, appUrl, beginSignIn, 'Bob');
  const forwardedUserId = new URL(link).searchParams.get('userId');
  if (!forwardedUserId || forwardedUserId === userId) fail(`the forwarded link is not Bob's: userId=${forwardedUserId}`);

  // 7. The victim opens it in a fresh tab (this page kept no state there), then in the tab
  //    that has just begun a sign-in of its own (another state kept): refused both times.
  const freshTab = await context.newPage();
  freshTab.setDefaultTimeout(TIMEOUT_MS);
  await freshTab.goto(link, { waitUntil: 'load' });
  await expectRefused(freshTab, 'a fresh tab');
  await freshTab.close();
  await beginSignIn(page);
  await page.goto(link, { waitUntil: 'load' });
  await expectRefused(page, 'the tab with a sign-in of its own');

  if (process.env.BROWSER_SCREENSHOT) {
    await page.screenshot({ path: process.env.BROWSER_SCREENSHOT, fullPage: true });
  }
  console.log(JSON.stringify({ userId, sessionId, forwardedUserId }));
  await browser.close();
  process.exit(0);
} catch (error) {
  await reportFailure('browser login', error, browser, page, seen);
}
