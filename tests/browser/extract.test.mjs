// The "Links & codes" strip under a message's headers: the likely code and the links, each with a
// copy button that copies the right text; nothing at all for a message with neither.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendOne, buildMessage, shot } from './helpers.mjs';

const browser = await launch();

test('a sign-in mail shows its code and links with copy buttons; a plain one shows no strip', async () => {
  const server = await startServer();
  const links = Array.from({ length: 5 }, (_, i) => `<p><a href="https://app.test/l/${i}">Link number ${i}</a></p>`).join('');
  const id = await sendOne(server, { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({
    subject: 'Sign in to App',
    text: 'Your sign-in code is 482913.',
    html: `<p>Your sign-in code is <b>482913</b>.</p><a href="https://track.test/c/1">https://app.test/magic?k=9</a>${links}`,
  }) });
  const plain = await sendOne(server, { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'Lunch', text: 'See you at noon.' }) });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`, { context });
  await page.waitForSelector('#msg-extract:not([hidden])');
  assert.equal(await page.textContent('#msg-extract .extract-code code'), '482913');
  const shown = await page.$$eval('#msg-extract .extract-link-url', (els) => els.map((e) => e.textContent));
  // The tracked anchor shows the URL it displays; three links first, then all on request.
  assert.deepEqual(shown, ['https://app.test/magic?k=9', 'https://app.test/l/0', 'https://app.test/l/1']);
  assert.equal(await page.getAttribute('#msg-extract .extract-link a', 'href'), 'https://track.test/c/1');
  await page.click('#msg-extract .extract-more');
  assert.equal(await page.locator('#msg-extract .extract-link').count(), 6);
  await page.click('#msg-extract .extract-code .copy-btn');
  await page.waitForFunction(() => document.body.textContent.includes('Copied'));
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '482913');
  await shot(page, 'wide1440-light-extract');

  const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/message/${plain}/extract`));
  await page.evaluate((other) => { location.hash = `#m=${other}`; }, plain);
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Lunch');
  // The strip decides when its request is answered: look after that (and the frame it fills in).
  assert.equal((await answered).status(), 200);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  assert.equal(await page.isHidden('#msg-extract'), true, 'nothing to show: no strip');
  assert.deepEqual(problems, []);
  await context.close();
});
