// End-to-end login through the example single-page app of the book (examples/spa) in a real
// browser:
//
//     node tests/browser/spa.mjs <spa_url>
//
// The page at <spa_url> is examples/spa as a reader would serve it (its three files, the
// Appwrite web SDK as appwrite.js, and a config.json naming the gateway and Appwrite), on an
// origin of its own that the gateway's [redirect] allowed lists. Headless Chromium (see
// common.mjs): wait until the page lists the providers (#status[data-state=ready]), click the
// demo provider's button, sign in as Alice at the OpenID provider, and wait until the page
// shows the session the Appwrite web SDK made (data-state=signed-in, #result {userId,
// sessionId}); the token secret must be neither on the page nor in the address bar.
//
// Then the forwarded link (login CSRF on the last hop): an attacker signs in as Bob through the
// same page in a browser of their own and stops at the gateway's last redirect; the victim
// opens that link in a new browser context, where the page must refuse it (data-state=refused)
// and make no session.
//
// Prints one JSON line {"userId":..., "sessionId":..., "forwardedUserId":...} and exits 0; on
// failure prints what the page showed and exits 1. Used by tests/integration/browser.rs.

import {
  TIMEOUT_MS, appUrlArgument, carriesResult, expectNoSecretLeft, fail, forwardedLink, launch,
  newWatch, reportFailure, watchedPage,
} from './common.mjs';

/** The provider id of the demo stack's OpenID provider (crates/demo/src/stack.rs). */
const PROVIDER = 'demo';

const spaUrl = appUrlArgument('spa.mjs');
const seen = newWatch();
let browser;
let page;

/** Waits until the page's status line says `state`, and returns the page's #result. */
async function shown(tab, state) {
  await tab.locator(`#status[data-state="${state}"]`).waitFor({ timeout: TIMEOUT_MS }).catch(async () => {
    const now = await tab.evaluate(() => document.getElementById('status')?.dataset.state);
    fail(`the page's status is ${JSON.stringify(now)}, not ${JSON.stringify(state)}`);
  });
  return tab.evaluate(() => {
    const result = document.getElementById('result');
    return { hidden: result.hidden, text: result.textContent };
  });
}

/** Ready, then the provider's button, followed to the provider. */
async function beginSignIn(tab) {
  await shown(tab, 'ready');
  await Promise.all([
    tab.waitForURL((url) => !url.href.startsWith(spaUrl)),
    tab.locator(`button[data-provider="${PROVIDER}"]`).click(),
  ]);
}

try {
  browser = await launch();
  const context = await browser.newContext();
  page = await watchedPage(context, seen);

  // 1. The page lists the providers; sign in with the demo provider, as Alice.
  await page.goto(spaUrl, { waitUntil: 'load' });
  await beginSignIn(page);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(spaUrl)),
    page.getByRole('button', { name: 'Sign in as Alice' }).click(),
  ]);

  // 2. Back at the page, which checked the state and made the session with the web SDK.
  const result = await shown(page, 'signed-in');
  if (result.hidden) fail('the page shows no result');
  const { userId, sessionId } = JSON.parse(result.text);
  if (!userId || !sessionId) fail(`no user or session id shown: ${result.text}`);
  await expectNoSecretLeft(page, seen);

  // 3. The attacker's forwarded link, opened by the victim in a new browser context.
  const link = await forwardedLink(browser, spaUrl, beginSignIn, 'Bob');
  const forwardedUserId = new URL(link).searchParams.get('userId');
  if (!forwardedUserId || forwardedUserId === userId) fail(`the forwarded link is not Bob's: userId=${forwardedUserId}`);
  const victim = await browser.newContext();
  page = await watchedPage(victim, seen);
  await page.goto(link, { waitUntil: 'load' });
  const refused = await shown(page, 'refused');
  if (!refused.hidden || refused.text !== '') fail(`the refused link shows a result: ${refused.text}`);
  if (carriesResult(page.url())) fail('the address bar still carries the forwarded token');

  console.log(JSON.stringify({ userId, sessionId, forwardedUserId }));
  await browser.close();
  process.exit(0);
} catch (error) {
  await reportFailure('example app login', error, browser, page, seen);
}
