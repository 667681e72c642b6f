// The session cookie in a real browser: Debian's headless Chromium, driven by playwright-core,
// logs in with a passkey on a page of the API's own site, then asks for a connect token; a page
// on another site then tries to use that session. Run against the local stack
// (scripts/local-stack.sh) by scripts/check-local-stack.sh:
//
//   node tests/browser/cookie.test.mjs
//
// LAMBDA_URL (from .local/env, else http://127.0.0.1:$LAMBDA_PORT/lambda-url): the local stack.
// BROWSER_SITE_PORT (3000): the frontend at http://localhost:<port>, which must be in the
// stack's ALLOWED_ORIGINS. BROWSER_CROSS_SITE_PORT (3001): another site at http://127.0.0.1:<port>,
// which must not be. Screenshots go to .local/browser-test*.png.
// Prints a PASS or FAIL line per check and never a secret (no cookie value, no whole token).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const STATE = join(HERE, '..', '..', '.local');
// Emptied before each run, so Chromium always starts from a fresh profile.
const PROFILE = join(STATE, 'chromium-profile');
const CHROMIUM = '/usr/bin/chromium';
const COOKIE_NAME = '__Host-session';
const LAMBDA_URL = process.env.LAMBDA_URL ?? `http://127.0.0.1:${process.env.LAMBDA_PORT ?? 9000}/lambda-url`;
const SITE_PORT = Number(process.env.BROWSER_SITE_PORT ?? 3000);
const CROSS_SITE_PORT = Number(process.env.BROWSER_CROSS_SITE_PORT ?? 3001);
const SITE = `http://localhost:${SITE_PORT}`;
// localhost and 127.0.0.1 are different sites to a browser, though both are loopback.
const CROSS_SITE = `http://127.0.0.1:${CROSS_SITE_PORT}`;
// API Gateway's routes on the site's own domain and the functions behind them.
const API_ROUTES = {
  '/auth/verifySignedPasskeyData': 'verify-signed-passkey-data',
  '/auth/createConnectToken': 'create-connect-token',
};
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
function forwardToFunction(request, response, binary) {
  const target = new URL(`${LAMBDA_URL}/${binary}/`);
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
function standInSignedPasskeyData() {
  const claims = { sub: 'usr-browser', webauthnId: 'browser-user', credential: 'cre-browser' };
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
    await page.goto(`${CROSS_SITE}/`);
    const seen = await page.evaluate(([api, data]) => tryFromAnotherSite(api, data), [SITE, standInSignedPasskeyData()]);
    const arrived = apiRequests.slice(before);

    check('another site: JSON createConnectToken gets no token (cookie not sent)',
      ...refusedWith(seen.append, 401, 'session_required'));
    check('another site: JSON login is refused', ...refusedWith(seen.login, 403, 'origin_not_allowed'));
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

async function main() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium)`);
  }
  rmSync(PROFILE, { recursive: true, force: true });
  mkdirSync(PROFILE, { recursive: true });
  const servers = [await startServer(SITE_PORT, { withApi: true }), await startServer(CROSS_SITE_PORT, { withApi: false })];
  const requestedHosts = new Set();
  let context;
  try {
    context = await chromium.launchPersistentContext(PROFILE, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 900, height: 400 },
    });
    context.on('request', (request) => requestedHosts.add(new URL(request.url()).hostname));
    const siteCookieFingerprint = await passkeyLoginOnTheSite(context);
    await anotherSiteTriesTheSession(context, siteCookieFingerprint);
    const hosts = [...requestedHosts];
    check('pages requested loopback only', hosts.every((h) => h === 'localhost' || h === '127.0.0.1'),
      hosts.join(', '));
  } finally {
    await context?.close();
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
  `screenshots in .local/browser-test.png, .local/browser-test-cross-site.png)`);
process.exit(failed === 0 ? 0 : 1);
