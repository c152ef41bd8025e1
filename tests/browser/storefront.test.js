// The storefront in a real browser: what a newcomer sees in the demo shop, on a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, visitor, signIn, assertGoodPage, api, tokenFor, ADMIN, BUYER } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a newcomer on a phone browses the demo shop and fills a cart, every page accessible and within 360 px', async () => {
  const page = await visitor(browser, { phone: true });
  await page.goto('/');
  assert.ok(await page.getByRole('link', { name: 'Kaos Polos Katun' }).count(), 'the demo products are on the home page');
  await assertGoodPage(page, 'home', 'home');

  await page.goto('/search?q=kaos');
  assert.match(await page.locator('main').innerText(), /Kaos Batik Parang/);
  await assertGoodPage(page, 'search', 'search');

  await page.goto('/products/kaos-polos-katun');
  await page.getByLabel(/size: M/).check();
  await assertGoodPage(page, 'product page', 'product');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Add to cart' }).click()]);

  await page.goto('/cart');
  const cart = await page.locator('main').innerText();
  assert.match(cart, /Kaos Polos Katun/);
  assert.match(cart, /Rp 79,000/);
  await assertGoodPage(page, 'cart', 'cart');

  for (const path of ['/login', '/register', '/products/no-such-product']) {
    await page.goto(path);
    await assertGoodPage(page, path);
  }
  await page.context().close();
});

test('a buyer signs in with the one login form and signs out again', async () => {
  const page = await visitor(browser);
  await signIn(page, BUYER);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log out' }).click()]);
  assert.equal(await page.locator('form[action="/logout"]').count(), 0, 'signed out');
  assert.ok(await page.getByRole('link', { name: 'Log in' }).count());
  await page.context().close();
});

test('a form sent with a wrong CSRF token is refused and changes nothing', async () => {
  const page = await visitor(browser);
  await page.goto('/products/kaos-polos-katun');
  await page.getByLabel(/size: L/).check();
  await page.locator('form.buy input[name=_csrf]').evaluate((input) => { input.value = 'forged'; });
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Add to cart' }).click(),
  ]);
  assert.equal(response.status(), 403);
  assert.match(await page.locator('main').innerText(), /form has expired/);
  await page.goto('/cart');
  assert.match(await page.locator('main').innerText(), /Your cart is empty/);
  await page.context().close();
});

test('a product named like a script is shown as text and runs nothing', async () => {
  const token = await tokenFor(ADMIN);
  const category = await api('POST', '/v1/admin/categories', { token, body: { name: `Browser ${Date.now()}` } });
  assert.equal(category.status, 201);
  const name = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';
  const created = await api('POST', '/v1/admin/products', {
    token,
    body: {
      name, description: '<b>bold?</b>', kind: 'physical', status: 'active', category_id: category.body.id,
      variants: [{ sku: `XSS-${Date.now()}`, options: {}, price: { amount: 1000, currency: 'IDR' } }],
    },
  });
  assert.equal(created.status, 201);
  const page = await visitor(browser);
  await page.goto(`/products/${created.body.slug}`);
  assert.equal(await page.locator('h1').innerText(), name, 'the name is shown as written');
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'nothing in it ran');
  assert.equal(await page.locator('main img[src=x]').count(), 0, 'no element was made of it');
  assert.deepEqual(page.scriptFailures, []);
  await page.context().close();
});
