// A newcomer's whole purchase in the demo shop, on a phone: browse, cart, register at checkout,
// pay in the sandbox, and the digital key on the order page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, visitor, signIn, assertGoodPage, uniqueEmail, BUYER, choose } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

test('a newcomer buys the demo e-book on a phone and finds its key on the order page', async () => {
  const page = await visitor(browser, { phone: true });
  await page.goto('/');
  await submit(page, page.getByRole('link', { name: 'E-book Resep Nusantara' }).first());
  await submit(page, page.getByRole('button', { name: 'Add to cart' }));
  await page.goto('/cart');
  assert.match(await page.locator('main').innerText(), /E-book Resep Nusantara/);

  // A guest is asked to sign in first; a newcomer registers and comes back to the checkout.
  await submit(page, page.getByRole('button', { name: 'Checkout' }));
  assert.match(page.url(), /\/login\?next=%2Fcheckout/);
  await submit(page, page.locator('main').getByRole('link', { name: 'Register' }));
  await page.getByLabel('Name').fill('Nia Newcomer');
  await page.getByLabel('Email').fill(uniqueEmail('newcomer'));
  await page.getByLabel('Password').fill('a long enough password');
  await submit(page, page.locator('main').getByRole('button', { name: 'Register' }));
  assert.match(new URL(page.url()).pathname, /^\/checkout$/, 'back at the checkout after registering');

  const checkout = await page.locator('main').innerText();
  assert.match(checkout, /E-book Resep Nusantara/);
  assert.match(checkout, /Rp 49,000/);
  await choose(page, page.getByLabel(/Sandbox/));
  await assertGoodPage(page, 'checkout', 'checkout');
  await submit(page, page.getByRole('button', { name: 'Place the order' }));

  assert.match(new URL(page.url()).pathname, /^\/pay\//, 'the pay step follows the order');
  await assertGoodPage(page, 'pay step', 'pay');
  await submit(page, page.getByRole('button', { name: 'Pay', exact: true }));
  await page.waitForURL(/\/orders\/ord_/);
  const order = await page.locator('main').innerText();
  assert.match(order, /Paid/i);
  assert.match(order, /EBOOK-RESEP-NUSANTARA-DEMO-\d{4}/, 'the key is on the order page');
  await assertGoodPage(page, 'order page', 'order');

  // The key is the buyer's alone: another buyer gets no page for it.
  const stranger = await visitor(browser);
  await signIn(stranger, BUYER);
  const response = await stranger.goto(page.url());
  assert.equal(response.status(), 404);
  await stranger.context().close();
  await page.context().close();
});
