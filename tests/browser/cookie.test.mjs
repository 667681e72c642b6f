// The session cookie in a real browser: Debian's headless Chromium, driven by playwright-core,
// logs in with a passkey on a page of the API's own site, then asks for a connect token; a page
// on another site then tries to use, replace or end that session; the site's page then checks who
// is logged in and logs out; last, logging out everywhere in a second browser ends the first's
// session too. Run against the local stack
// (scripts/local-stack.sh) by scripts/check-local-stack.sh:
//
//   node tests/browser/cookie.test.mjs
//
// LAMBDA_URL (from .local/env, else http://127.0.0.1:$LAMBDA_PORT/lambda-url): the local stack.
// BROWSER_SITE_PORT (3000): the frontend at http://localhost:<port>, which must be in the
// stack's ALLOWED_ORIGINS. BROWSER_CROSS_SITE_PORT (3001): another site at http://127.0.0.1:<port>,
// which must not be. Screenshots go to .local/browser-test*.png.
// Prints a PASS or FAIL line per check and never a secret (no cookie value, no whole token).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const STATE = join(HERE, '..', '..', '.local');
const CHROMIUM = '/usr/bin/chromium';
const COOKIE_NAME = '__Host-session';
const LAMBDA_URL = process.env.LAMBDA_URL ?? `http://127.0.0.1:${process.env.LAMBDA_PORT ?? 9000}/lambda-url`;
const SITE_PORT = Number(process.env.BROWSER_SITE_PORT ?? 3000);
const CROSS_SITE_PORT = Number(process.env.BROWSER_CROSS_SITE_PORT ?? 3001);
const SITE = `http://localhost:${SITE_PORT}`;
// Emptied before each run, so Chromium always starts from a fresh profile; one per site port, so
// that runs on other ports at the same time keep theirs.
const PROFILE = join(STATE, `chromium-profile-${SITE_PORT}`);
// localhost and 127.0.0.1 are different sites to a browser, though both are loopback.
const CROSS_SITE = `http://127.0.0.1:${CROSS_SITE_PORT}`;
// API Gateway's routes on the site's own domain and the functions behind them.
const API_ROUTES = {
  '/auth/verifySignedPasskeyData': 'verify-signed-passkey-data',
  '/auth/createConnectToken': 'create-connect-token',
  '/auth/session': 'session',
  '/auth/sessions': 'session',
};
// The user id of the stand-in's logins (the session's userId is the JWT's webauthnId).
const USER = 'browser-user';
// Chromium otherwise reaches out to Google's hosts; nothing may leave loopback.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed += 1; else failed += 1;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

const fingerprint = (secret) => createHash('sha256').update(secret).digest('hex');
// An answer as a check's detail: the page's error, or status and code (never a body with a token).
const described = (answer) => answer?.error ?? `HTTP ${answer?.status} ${answer?.body?.code ?? ''}`.trim();
const base64url = (text) => Buffer.from(text).toString('base64url');

// What the API received, as API Gateway would log it: a fingerprint of the session cookie, not the cookie.
const apiRequests = [];

function sessionCookieIn(cookieHeader) {
  for (const pair of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = pair.trim().split('=');
    if (name === COOKIE_NAME) return value.join('=');
  }
  return null;
}

// The page and the API on one origin, as in production, where API Gateway serves /auth/* on the
// site's own domain. Here /auth/<name> is forwarded to the function's lambda-url, the way a
// frontend's dev-server proxy does; Origin, Cookie and Set-Cookie pass through unchanged. (Calling
// the lambda-url on 127.0.0.1 directly would make every call cross-site, unlike production.)
// cargo lambda watch hands the function the path after /lambda-url/<binary>, so it sees
// /auth/<name> as behind API Gateway: the session function routes by its last segment.
function forwardToFunction(request, response, binary) {
  const target = new URL(`${LAMBDA_URL}/${binary}${request.url}`);
  const sessionCookie = sessionCookieIn(request.headers.cookie);
  const logged = {
    method: request.method,
    path: request.url,
    origin: request.headers.origin ?? null,
    sessionCookieFingerprint: sessionCookie === null ? null : fingerprint(sessionCookie),
    status: null,
  };
  apiRequests.push(logged);
  const upstream = http.request(target, {
    method: request.method,
    headers: { ...request.headers, host: target.host },
  }, (answer) => {
    logged.status = answer.statusCode;
    response.writeHead(answer.statusCode, answer.headers);
    answer.pipe(response);
  });
  upstream.on('error', (error) => {
    logged.status = 502;
    response.writeHead(502, { 'content-type': 'text/plain' });
    response.end(`cannot reach ${target.origin}: ${error.message}`);
  });
  request.pipe(upstream);
}

function startServer(port, { withApi }) {
  const page = readFileSync(join(HERE, 'page.html'));
  const server = http.createServer((request, response) => {
    const path = new URL(request.url, 'http://x').pathname;
    if (withApi && API_ROUTES[path]) return forwardToFunction(request, response, API_ROUTES[path]);
    if (request.method === 'GET' && path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return response.end(page);
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`cannot serve on 127.0.0.1:${port}: ${error.message}`)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// A login the local stack's Corbado stand-in accepts (it checks no signature). Real Corbado hands
// the frontend such a JWT after the passkey ceremony.
function standInSignedPasskeyData(webauthnId = USER) {
  const claims = { sub: 'usr-browser', webauthnId, credential: 'cre-browser' };
  return `${base64url('{"alg":"RS256"}')}.${base64url(JSON.stringify(claims))}.${base64url('signature')}`;
}

async function storedSessionCookies(context) {
  return (await context.cookies(SITE)).filter((c) => c.name === COOKIE_NAME);
}

// Returns the fingerprint of the session cookie the browser stored.
async function passkeyLoginOnTheSite(context) {
  const page = await context.newPage();
  try {
    await page.goto(`${SITE}/`);
    const before = await page.evaluate(() => sessionChecked);
    check('before the login, the page\'s check GET /auth/session answered 401 session_required',
      before?.status === 401 && before.body?.code === 'session_required', described(before));
    const seen = await page.evaluate((data) => logInWithPasskey(data), standInSignedPasskeyData());
    check('login answered 200 {"success":true}', seen.login.status === 200 && seen.login.body?.success === true,
      seen.login.error ?? `HTTP ${seen.login.status}`);

    const cookies = await storedSessionCookies(context);
    const cookie = cookies[0];
    const attributes = cookie
      ? `domain=${cookie.domain} path=${cookie.path} httpOnly=${cookie.httpOnly} secure=${cookie.secure} ` +
        `sameSite=${cookie.sameSite} expires in ${Math.round(cookie.expires - Date.now() / 1000)} s`
      : 'no such cookie';
    check(`browser stored ${COOKIE_NAME} for ${SITE}`, cookies.length === 1, attributes);
    check('cookie is HttpOnly, Secure, SameSite=Strict, Path=/, host-only',
      cookie?.httpOnly === true && cookie.secure === true && cookie.sameSite === 'Strict' &&
      cookie.path === '/' && cookie.domain === 'localhost');
    check('cookie is invisible to document.cookie', cookie !== undefined && !seen.scriptCookies.includes(COOKIE_NAME),
      `document.cookie = ${JSON.stringify(seen.scriptCookies)}`);

    const append = apiRequests.find((r) => r.path === '/auth/createConnectToken' && r.origin === SITE);
    const stored = cookie ? fingerprint(cookie.value) : null;
    check('createConnectToken request carried the stored cookie',
      stored !== null && append?.sessionCookieFingerprint === stored,
      append?.sessionCookieFingerprint ? 'Cookie header had one, compared by SHA-256' : 'no session cookie sent');
    check('createConnectToken returned a connect token', seen.append.status === 200 && seen.append.connectTokenLooksRight,
      seen.append.error ?? `HTTP ${seen.append.status}, ${seen.append.connectTokenPrefix ?? 'no token'}`);
    return stored;
  } finally {
    await page.screenshot({ path: join(STATE, 'browser-test.png'), fullPage: true });
    await page.close();
  }
}

// What a page may see of a refused request: fetch throws (no CORS grant), or the API's error.
// cargo lambda watch grants CORS to any origin (API Gateway only to AllowedOrigins), so locally
// the API's error is what the page reads.
function refusedWith(answer, status, code) {
  const refused = answer.error !== null || (answer.status === status && answer.body?.code === code);
  return [refused && answer.connectTokenPrefix === null, answer.error ?? `HTTP ${answer.status} ${answer.body?.code}`];
}

async function anotherSiteTriesTheSession(context, siteCookieFingerprint) {
  const page = await context.newPage();
  try {
    const before = apiRequests.length;
    await page.goto(`${CROSS_SITE}/?as=another-site`);
    const seen = await page.evaluate(([api, data]) => tryFromAnotherSite(api, data), [SITE, standInSignedPasskeyData()]);
    const arrived = apiRequests.slice(before);

    check('another site: JSON createConnectToken gets no token (cookie not sent)',
      ...refusedWith(seen.append, 401, 'session_required'));
    check('another site: JSON login is refused', ...refusedWith(seen.login, 403, 'origin_not_allowed'));
    check('another site: DELETE /auth/session (logout) is refused', ...refusedWith(seen.logout, 403, 'origin_not_allowed'));
    check('another site: no-cors POST gives the page an opaque, unreadable answer',
      seen.simple.type === 'opaque' && !seen.simple.readable, `type ${seen.simple.type}, status ${seen.simple.status}`);
    check('another site: none of its requests carried the session cookie (SameSite=Strict)',
      arrived.length > 0 && arrived.every((r) => r.sessionCookieFingerprint === null && r.origin === CROSS_SITE),
      arrived.map((r) => `${r.method} ${r.path} ${r.status}`).join(', '));

    const cookies = await storedSessionCookies(context);
    check('the browser still holds the session from the site\'s own login',
      cookies.length === 1 && fingerprint(cookies[0].value) === siteCookieFingerprint);
  } finally {
    await page.screenshot({ path: join(STATE, 'browser-test-cross-site.png'), fullPage: true });
    await page.close();
  }
}

// GET /auth/session sent straight to the session function with a cookie's value, as anyone who
// kept a copy of the cookie could send it.
async function sessionFunctionWith(cookieValue) {
  try {
    const answer = await fetch(`${LAMBDA_URL}/session/auth/session`, {
      headers: { cookie: `${COOKIE_NAME}=${cookieValue}`, origin: SITE },
    });
    return { error: null, status: answer.status, body: await answer.json().catch(() => null) };
  } catch (error) {
    return { error: error.message, status: null, body: null };
  }
}

// Clicks one of the page's logout buttons and returns what the page's own code saw: the logout's
// answer and its logged-in check after it.
async function clickLogout(page, button) {
  await page.click(button, { timeout: 5_000 });
  return page.evaluate(() => loggedOut);
}

// The site's page, as after a login: its logged-in check on load, then its logout button.
async function checkThenLogOut(context) {
  const page = await context.newPage();
  try {
    const [cookie] = await storedSessionCookies(context);
    if (cookie === undefined) {
      check('the browser holds a session to check and end', false, 'no session cookie');
      return;
    }
    const before = apiRequests.length;
    await page.goto(`${SITE}/`);
    const session = await page.evaluate(() => sessionChecked);
    check('the page\'s check GET /auth/session answered 200 with the user',
      session?.status === 200 && session.body?.userId === USER && Math.abs(session.body.expiresAt - cookie.expires) <= 5,
      session?.status === 200
        ? `userId ${session.body?.userId}, expiresAt ${session.body?.expiresAt}, cookie expires ${Math.round(cookie.expires)}`
        : described(session));

    const seen = await clickLogout(page, '#logout');
    const sent = apiRequests.slice(before).find((r) => r.method === 'DELETE' && r.path === '/auth/session');
    check('the page\'s logout button: DELETE /auth/session answered 200 {"success":true}',
      seen.logout.status === 200 && seen.logout.body?.success === true, described(seen.logout));
    check('the logout request carried the session cookie', sent?.sessionCookieFingerprint === fingerprint(cookie.value),
      sent?.sessionCookieFingerprint ? 'compared by SHA-256' : 'no session cookie sent');
    const left = await storedSessionCookies(context);
    check(`the browser's cookie jar no longer holds ${COOKIE_NAME}`, left.length === 0, `${left.length} left`);
    check('after the logout, GET /auth/session answered 401 session_required',
      seen.session.status === 401 && seen.session.body?.code === 'session_required', described(seen.session));
    const replayed = await sessionFunctionWith(cookie.value);
    check('the logged-out cookie, replayed, gets 401 session_invalid (revoked on the server, not only forgotten)',
      replayed.status === 401 && replayed.body?.code === 'session_invalid', described(replayed));
  } finally {
    await page.screenshot({ path: join(STATE, 'browser-test-logout.png'), fullPage: true });
    await page.close();
  }
}

// A passkey login on the site's page; returns the page's answer.
async function logInAs(context, user) {
  const page = await context.newPage();
  try {
    await page.goto(`${SITE}/`);
    await page.evaluate(() => sessionChecked);
    return await page.evaluate((data) => logIn(data), standInSignedPasskeyData(user));
  } finally {
    await page.close();
  }
}

// The first browser and a second one log in as one user (of this run only, so the count is exact);
// the second logs out everywhere, which must end the first's session as well.
async function logOutEverywhere(first, second) {
  const user = `browser-everywhere-${randomBytes(4).toString('hex')}`;
  const logins = [await logInAs(first, user), await logInAs(second, user)];
  const [firstCookie] = await storedSessionCookies(first);
  const held = (await storedSessionCookies(second)).length;
  check('two browsers logged in as one user', logins.every((l) => l.status === 200) && firstCookie !== undefined && held === 1,
    logins.map(described).join(', '));

  const page = await second.newPage();
  try {
    await page.goto(`${SITE}/`);
    await page.evaluate(() => sessionChecked);
    const seen = await clickLogout(page, '#logout-everywhere');
    check('the second browser\'s "log out everywhere": DELETE /auth/sessions answered 200, revoked 2',
      seen.logout.status === 200 && seen.logout.body?.success === true && seen.logout.body?.revoked === 2,
      seen.logout.status === 200 ? `revoked ${seen.logout.body?.revoked}` : described(seen.logout));
    check(`the second browser's jar no longer holds ${COOKIE_NAME}`, (await storedSessionCookies(second)).length === 0);
  } finally {
    await page.screenshot({ path: join(STATE, 'browser-test-logout-everywhere.png'), fullPage: true });
    await page.close();
  }

  const firstPage = await first.newPage();
  try {
    const before = apiRequests.length;
    await firstPage.goto(`${SITE}/`);
    const session = await firstPage.evaluate(() => sessionChecked);
    const sent = apiRequests.slice(before).find((r) => r.method === 'GET' && r.path === '/auth/session');
    check('the first browser, its cookie still held, gets 401 session_invalid from GET /auth/session',
      sent?.sessionCookieFingerprint === fingerprint(firstCookie?.value ?? '') &&
      session?.status === 401 && session.body?.code === 'session_invalid', described(session));
    // That 401 carries the clearing cookie: the dead cookie leaves the jar, not only the server.
    check(`the first browser's jar no longer holds the dead ${COOKIE_NAME}`,
      (await storedSessionCookies(first)).length === 0);
  } finally {
    await firstPage.close();
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium)`);
  }
  rmSync(PROFILE, { recursive: true, force: true });
  mkdirSync(PROFILE, { recursive: true });
  const servers = [await startServer(SITE_PORT, { withApi: true }), await startServer(CROSS_SITE_PORT, { withApi: false })];
  const requestedHosts = new Set();
  let context;
  let secondBrowser;
  try {
    context = await chromium.launchPersistentContext(PROFILE, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 900, height: 400 },
    });
    context.on('request', (request) => requestedHosts.add(new URL(request.url()).hostname));
    const siteCookieFingerprint = await passkeyLoginOnTheSite(context);
    await anotherSiteTriesTheSession(context, siteCookieFingerprint);
    await checkThenLogOut(context);
    // A second browser, with a cookie jar of its own.
    secondBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const second = await secondBrowser.newContext({ viewport: { width: 900, height: 400 } });
    second.on('request', (request) => requestedHosts.add(new URL(request.url()).hostname));
    await logOutEverywhere(context, second);
    const hosts = [...requestedHosts];
    check('pages requested loopback only', hosts.every((h) => h === 'localhost' || h === '127.0.0.1'),
      hosts.join(', '));
  } finally {
    await context?.close();
    await secondBrowser?.close();
    servers.forEach((server) => server.close());
    rmSync(PROFILE, { recursive: true, force: true });
  }
}

const started = Date.now();
// A request the stack never answers would otherwise leave the page, and this test, waiting for ever.
setTimeout(() => {
  check('browser test finished within 60 s', false);
  process.exit(1);
}, 60_000).unref();
try {
  await main();
} catch (error) {
  check('browser test ran to the end', false, error.message.split('\n')[0]);
}
console.log(`browser: ${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s; ` +
  'screenshots in .local/browser-test*.png)');
process.exit(failed === 0 ? 0 : 1);
