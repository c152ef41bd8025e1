// The admin's day: a new digital product with an image and keys, sold through the storefront,
// seen in the orders, and part of it refunded; the dashboard's figures and charts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, visitor, signIn, assertGoodPage, uniqueEmail, ADMIN, choose } from './lib.js';

const IMAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kopi.png');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

test('an admin adds a product with an image and keys, sees it sold, and refunds part of the order', async () => {
  const admin = await visitor(browser);
  await signIn(admin, ADMIN, '/admin');
  assert.equal(new URL(admin.url()).pathname, '/admin', 'the admin lands on the dashboard');

  const name = `Kopi Gayo Voucher ${Date.now()}`;
  await admin.goto('/admin/products/new');
  await admin.getByLabel('Name').fill(name);
  await admin.getByLabel('Description').fill('A voucher for 250 g of Gayo coffee, redeemable online.');
  await admin.getByLabel('Kind').selectOption('digital');
  await admin.getByLabel('Status').selectOption('active');
  await admin.getByLabel('Category').selectOption({ label: 'Kitchen' });
  await admin.getByLabel('SKU').fill(`GAYO-${Date.now()}`);
  await admin.getByLabel(/^Price/).fill('65000');
  await assertGoodPage(admin, 'new product form');
  await submit(admin, admin.getByRole('button', { name: 'Create the product' }));
  assert.match(new URL(admin.url()).pathname, /^\/admin\/products\/prd_/, 'the new product\'s page');
  const productPath = new URL(admin.url()).pathname;

  await admin.getByLabel('Add an image').setInputFiles(IMAGE);
  await submit(admin, admin.getByRole('button', { name: 'Upload the image' }));
  assert.ok(await admin.locator('main img').count(), 'the image is on the product\'s page');
  await admin.getByLabel('Paste digital keys').fill('GAYO-KEY-0001\nGAYO-KEY-0002\nGAYO-KEY-0001');
  await submit(admin, admin.getByRole('button', { name: 'Add keys' }));
  const keysAdded = await admin.locator('main').innerText();
  assert.match(keysAdded, /2 keys added/);
  await admin.getByLabel('Paste digital keys').fill('GAYO-KEY-0002\nGAYO-KEY-0003');
  await submit(admin, admin.getByRole('button', { name: 'Add keys' }));
  assert.match(await admin.locator('main').innerText(), /1 keys added/);
  assert.match(await admin.locator('ul.duplicates').innerText(), /GAYO-KEY-0002/, 'the duplicate is reported');
  await assertGoodPage(admin, 'product page (admin)');

  // A buyer finds it in the shop, with its image, and buys it.
  const buyer = await visitor(browser);
  await buyer.goto('/register');
  await buyer.getByLabel('Name').fill('Citra Pembeli');
  await buyer.getByLabel('Email').fill(uniqueEmail('citra'));
  await buyer.getByLabel('Password').fill('a long enough password');
  await submit(buyer, buyer.locator('main').getByRole('button', { name: 'Register' }));
  await buyer.goto('/');
  await submit(buyer, buyer.getByRole('link', { name }).first());
  assert.ok(await buyer.locator(`main img[alt="${name}"]`).count(), 'the storefront shows the image');
  await submit(buyer, buyer.getByRole('button', { name: 'Add to cart' }));
  await buyer.goto('/checkout');
  await choose(buyer, buyer.getByLabel(/Sandbox/));
  await submit(buyer, buyer.getByRole('button', { name: 'Place the order' }));
  await submit(buyer, buyer.getByRole('button', { name: 'Pay', exact: true }));
  await buyer.waitForURL(/\/orders\/ord_/);
  const orderId = new URL(buyer.url()).pathname.split('/').pop();
  assert.match(await buyer.locator('main').innerText(), /GAYO-KEY-000[123]/, 'the buyer has a key');

  // The admin sees it sold: the order (found by its id), one key fewer, and the day's takings.
  await admin.goto(`/admin/orders?q=${orderId}`);
  assert.equal(new URL(admin.url()).pathname, `/admin/orders/${orderId}`);
  assert.match(await admin.locator('main').innerText(), new RegExp(name));
  await admin.getByLabel(/Amount to refund/).fill('15000');
  await admin.getByLabel('Reason').fill('Late delivery of the code');
  await submit(admin, admin.getByRole('button', { name: 'Refund', exact: true }));
  const refunded = await admin.locator('main').innerText();
  assert.match(refunded, /Rp 15,000/, 'the refund is listed');
  assert.match(refunded, /Late delivery of the code/);
  await assertGoodPage(admin, 'order page (admin)');

  await admin.goto(productPath);
  assert.match(await admin.locator('main').innerText(), /\b2\b/, 'two keys are left');

  await admin.goto('/admin');
  const dashboard = await admin.locator('main').innerText();
  assert.match(dashboard, /GMV/);
  assert.ok(await admin.locator('main svg').count() >= 2, 'the charts are drawn');
  await assertGoodPage(admin, 'admin dashboard', 'admin-dashboard');
  await buyer.context().close();
  await admin.context().close();
});

test('every admin section is accessible and fits a phone', async () => {
  const admin = await visitor(browser, { phone: true });
  await signIn(admin, ADMIN, '/admin');
  for (const section of ['/admin', '/admin/orders', '/admin/products', '/admin/products/new', '/admin/users',
    '/admin/sellers', '/admin/audit', '/admin/ledger', '/admin/vouchers', '/admin/vouchers/new',
    '/admin/shipping', '/admin/delivery', '/admin/payments', '/admin/webhooks']) {
    await admin.goto(section);
    await assertGoodPage(admin, section);
  }
  await admin.context().close();
});
