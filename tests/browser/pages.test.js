// Every page a buyer's account and a seller's dashboard have, at a phone's width: accessible,
// within the screen, no script errors.
import { test, before, after } from 'node:test';
import { launch, visitor, signIn, assertGoodPage, BUYER, SELLER } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the account pages, password reset and a store page are accessible and fit a phone', async () => {
  const page = await visitor(browser, { phone: true });
  for (const path of ['/password/forgot', '/stores/batik-sari']) {
    await page.goto(path);
    await assertGoodPage(page, path);
  }
  await signIn(page, BUYER);
  for (const path of ['/account', '/account/orders', '/account/addresses', '/account/addresses/new',
    '/account/wallet', '/account/points', '/account/notifications', '/account/sessions', '/checkout']) {
    await page.goto(path);
    await assertGoodPage(page, path);
  }
  await page.context().close();
});

test('the seller dashboard\'s pages are accessible and fit a phone', async () => {
  const page = await visitor(browser, { phone: true });
  await signIn(page, SELLER, '/seller');
  for (const path of ['/seller', '/seller/orders', '/seller/products', '/seller/products/new', '/seller/store',
    '/seller/reviews', '/seller/payouts']) {
    await page.goto(path);
    await assertGoodPage(page, path);
  }
  await page.context().close();
});
