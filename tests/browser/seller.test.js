// A store's order, from the buyer's checkout with an address to the seller's dashboard shipping
// it, and the tracking number back on the buyer's order page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, visitor, signIn, assertGoodPage, uniqueEmail, SELLER, choose } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function submit(page, locator) {
  await Promise.all([page.waitForNavigation(), locator.click()]);
}

/** A new buyer orders the Batik Sari shawl to Jakarta and pays in the sandbox: the order's page. */
async function shawlOrdered(page) {
  await page.goto('/register');
  await page.getByLabel('Name').fill('Budi Pembeli');
  await page.getByLabel('Email').fill(uniqueEmail('budi'));
  await page.getByLabel('Password').fill('a long enough password');
  await submit(page, page.locator('main').getByRole('button', { name: 'Register' }));
  await page.goto('/products/selendang-batik-sogan');
  await page.getByLabel(/150 cm/).check();
  await submit(page, page.getByRole('button', { name: 'Add to cart' }));
  await page.goto('/checkout');
  await choose(page, page.getByLabel('A new address'));
  await page.getByLabel(/Recipient/).fill('Budi Pembeli');
  await page.getByLabel('Phone').fill('+62812345678');
  await page.getByLabel('Address', { exact: true }).fill('Jl. Merdeka 1');
  await page.getByLabel('City').fill('Jakarta Pusat');
  await page.getByLabel(/Region/).fill('DKI Jakarta');
  await page.getByLabel('Postal code').fill('10110');
  await page.getByLabel(/Country/).fill('ID');
  await submit(page, page.getByRole('button', { name: 'Update totals' }));
  const method = page.locator('input[name=shipping_method]').first();
  await choose(page, method);
  await choose(page, page.getByLabel(/Sandbox/));
  await submit(page, page.getByRole('button', { name: 'Update totals' }));
  await assertGoodPage(page, 'checkout with an address');
  await submit(page, page.getByRole('button', { name: 'Place the order' }));
  await submit(page, page.getByRole('button', { name: 'Pay', exact: true }));
  await page.waitForURL(/\/orders\/ord_/);
  return new URL(page.url()).pathname;
}

test('a seller packs and ships a paid order from the dashboard and the buyer sees the tracking number', async () => {
  const buyer = await visitor(browser);
  const orderPath = await shawlOrdered(buyer);
  const orderId = orderPath.split('/').pop();

  const seller = await visitor(browser, { phone: true });
  await signIn(seller, SELLER, '/seller');
  assert.equal(new URL(seller.url()).pathname, '/seller', 'the seller lands on the dashboard');
  await assertGoodPage(seller, 'seller dashboard');
  await seller.goto('/seller/orders');
  await assertGoodPage(seller, 'seller orders');
  await submit(seller, seller.getByRole('link', { name: orderId }));
  assert.match(await seller.locator('main').innerText(), /Jl\. Merdeka 1/, 'the address to ship to');
  await submit(seller, seller.getByRole('button', { name: 'Mark packed' }));
  await seller.getByLabel('Tracking number').fill('JNE-BROWSER-0042');
  await submit(seller, seller.getByRole('button', { name: 'Mark shipped' }));
  assert.match(await seller.locator('main').innerText(), /JNE-BROWSER-0042/);
  await assertGoodPage(seller, 'seller order page');

  await buyer.goto(orderPath);
  assert.match(await buyer.locator('main').innerText(), /JNE-BROWSER-0042/, 'the buyer sees the tracking number');
  await seller.context().close();
  await buyer.context().close();
});
