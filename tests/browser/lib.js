// What every browser test shares: the shop under test, Debian's chromium driven by
// playwright-core, the accessibility check (axe-core) and the phone-layout check.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** The shop under test (started by .ci/browser with the demo data). */
export const BASE = process.env.PASAR_BASE_URL ?? 'http://127.0.0.1:8080';
export const ADMIN = { email: 'admin@pasar.local', password: 'pasar-admin-demo' };
export const BUYER = { email: 'buyer@pasar.local', password: 'pasar-buyer-demo' };
export const SELLER = { email: 'sari@pasar.local', password: 'pasar-seller-demo' };

/** Where screenshots go: the README's folder when asked, else the run's work directory. */
const SHOTS = process.env.PASAR_SCREENSHOTS ?? path.join(process.env.TMPDIR ?? '/tmp', 'pasar-browser-shots');

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A fresh browser profile (no cookies), at a phone's width when `phone` is true. */
export async function visitor(browser, { phone = false, locale = 'en-GB' } = {}) {
  const context = await browser.newContext({
    baseURL: BASE,
    locale,
    viewport: phone ? { width: 360, height: 740 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const failures = [];
  page.on('pageerror', (error) => failures.push(`script error: ${error.message}`));
  page.on('console', (message) => {
    // The page's own status (a 404 page) is the test's to check; any other failed load is a fault.
    const at = message.location().url;
    if (message.type() === 'error' && at !== page.url()) failures.push(`console error: ${message.text()} (${at})`);
  });
  page.scriptFailures = failures;
  return page;
}

/** Signs in through the one login form every role uses. */
export async function signIn(page, { email, password }, next) {
  await page.goto(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  await page.getByLabel(/email/i).fill(email);
  await page.getByLabel(/password/i).first().fill(password);
  await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').first().click()]);
  assert.ok(await page.locator('form[action="/logout"]').count(), `${email} is signed in`);
}

/** axe-core on the page as it stands: no serious or critical violation. */
export async function assertAccessible(page, what) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern, so the
  // page itself keeps allowing only its own scripts.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `${what}: accessibility violations`);
}

/**
 * At the page's current width: nothing wider than the screen (no horizontal scroll, no element
 * past either edge outside a scrolling table), and no two controls or links drawn over each other.
 */
export async function assertLaysOut(page, what) {
  const problems = await page.evaluate(() => {
    const found = [];
    const width = window.innerWidth;
    if (document.documentElement.scrollWidth > width) {
      found.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
    }
    const shown = (el) => {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && !el.closest('.skip, .hidden-label');
    };
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.value || '').trim().slice(0, 30)}"`;
    const all = [...document.querySelectorAll('body *')].filter(shown);
    for (const el of all) {
      if (el.closest('.table-scroll')) continue;
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 || box.left < -1) found.push(`${name(el)} reaches past the screen (${Math.round(box.left)}..${Math.round(box.right)})`);
    }
    const controls = all.filter((el) => el.matches('a, button, input:not([type=hidden]), select, textarea'));
    for (let i = 0; i < controls.length; i++) {
      for (let j = i + 1; j < controls.length; j++) {
        const [a, b] = [controls[i], controls[j]];
        if (a.contains(b) || b.contains(a)) continue;
        const [p, q] = [a.getBoundingClientRect(), b.getBoundingClientRect()];
        const overlap = Math.max(0, Math.min(p.right, q.right) - Math.max(p.left, q.left)) *
          Math.max(0, Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top));
        if (overlap > 4) found.push(`${name(a)} and ${name(b)} overlap`);
      }
    }
    return found.slice(0, 10);
  });
  assert.deepEqual(problems, [], `${what}: layout at ${page.viewportSize().width}px`);
}

/** Accessible, laid out at this width, no script errors; and a screenshot named `name`. */
export async function assertGoodPage(page, what, name) {
  await assertAccessible(page, what);
  await assertLaysOut(page, what);
  assert.deepEqual(page.scriptFailures, [], `${what}: the page's scripts`);
  if (name) {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }
}

/** The JSON API, for setting up what a test needs and checking what a page did. */
export async function api(method, route, { token, body } = {}) {
  const response = await fetch(BASE + route, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function tokenFor({ email, password }) {
  const { status, body } = await api('POST', '/v1/auth/login', { body: { email, password } });
  assert.equal(status, 200, `API login of ${email}`);
  return body.access_token;
}

/** A new buyer's address, unique per run. */
export function uniqueEmail(who) {
  return `${who}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.test`;
}

/**
 * Checks a radio of the checkout form and, when that changed the choice, waits for the
 * re-quoted form htmx swaps in (so nothing typed or clicked next lands on the old form).
 */
export async function choose(page, radio) {
  if (await radio.isChecked()) return;
  await Promise.all([
    page.waitForResponse((response) => new URL(response.url()).pathname === '/checkout/quote'),
    radio.check(),
  ]);
  // htmx swaps a successful answer in at once and settles it 20 ms later; a refused one (an
  // address not yet complete) is not swapped at all.
  await page.waitForTimeout(100);
}
