// An empty mailbox says where to send mail: the SMTP address (from api/v1/about), a command to
// try, and the version; and it never asks to "Select a message" when there is none.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendOne, buildMessage, apiJson, shot, outsideViewport } from './helpers.mjs';

const browser = await launch();

for (const [name, viewport] of [['wide1440', { width: 1440, height: 900 }], ['phone390', { width: 390, height: 844 }]]) {
  for (const scheme of ['light', 'dark']) {
    test(`the empty mailbox (${name}, ${scheme}) shows the SMTP address, a command to try, and the version`, async () => {
      const server = await startServer();
      const about = await apiJson(server, '/api/v1/about');
      const { page, problems } = await openPage(browser, `${server.base}/`, { viewport, colorScheme: scheme });
      await page.waitForSelector('#conn[data-state="live"]');
      const card = page.locator('#welcome');
      await card.waitFor();
      assert.ok(await card.isVisible(), 'the card is on screen');
      const text = await card.textContent();
      assert.match(text, new RegExp(`SMTP\\s*127\\.0\\.0\\.1:${server.smtpPort}`));
      assert.match(text, new RegExp(`swaks --server 127\\.0\\.0\\.1:${server.smtpPort} --to test@example\\.com`));
      assert.match(text, new RegExp(`curl -X POST ${server.base.replace(/\./g, '\\.')}/api/v1/send`));
      assert.match(text, new RegExp(`mailsnare ${about.Version.replace(/\./g, '\\.')}`));
      assert.doesNotMatch(await page.textContent('body'), /Select a message/);
      if (name === 'phone390') assert.deepEqual(await outsideViewport(page, '*', '#welcome'), []);
      await shot(page, `${name}-${scheme}-empty`);

      // The first mail replaces it with the list.
      await sendOne(server, { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'First', text: 'hi' }) });
      await page.waitForSelector('.row:not(.is-loading)');
      assert.equal(await page.locator('#welcome').count(), 0);
      if (name === 'wide1440') assert.match(await page.textContent('#message-placeholder'), /Select a message/);
      assert.deepEqual(problems, []);
      await page.context().close();
    });
  }
}

test('a search with no matches says so, and offers no message to select', async () => {
  const server = await startServer();
  await sendOne(server, { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'First', text: 'hi' }) });
  const { page, problems } = await openPage(browser, `${server.base}/#q=nothing-here`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#list-empty:not([hidden])');
  assert.match(await page.textContent('#list-empty'), /No matches/);
  assert.doesNotMatch(await page.textContent('#message-pane'), /Select a message/);
  assert.equal(await page.locator('#welcome').count(), 0, 'the mailbox is not empty: no setup card');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the header shows the POP3 and IMAP addresses when they are on, and nothing when they are off', async () => {
  const off = await startServer();
  const plain = await openPage(browser, `${off.base}/`, { viewport: { width: 1440, height: 900 } });
  await plain.page.waitForSelector('#welcome');
  assert.equal(await plain.page.locator('#readers').isVisible(), false, 'no reader listeners: no addresses');
  await plain.page.context().close();

  const server = await startServer(['--pop3', '127.0.0.1:0', '--imap', '127.0.0.1:0']);
  const { Listeners } = await apiJson(server, '/api/v1/about');
  assert.match(Listeners.POP3, /^127\.0\.0\.1:\d+$/);
  assert.match(Listeners.IMAP, /^127\.0\.0\.1:\d+$/);
  const { page, problems } = await openPage(browser, `${server.base}/`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#readers:not([hidden])');
  assert.ok(await page.locator('#readers').isVisible());
  assert.equal(await page.textContent('#readers [data-protocol="IMAP"] code'), Listeners.IMAP);
  assert.equal(await page.textContent('#readers [data-protocol="POP3"] code'), Listeners.POP3);
  // The welcome card lists them too.
  assert.match(await page.textContent('#welcome'), new RegExp(`IMAP\\s*${Listeners.IMAP.replace(/\./g, '\\.')}`));
  await shot(page, 'wide1440-light-readers');
  assert.deepEqual(problems, []);
  await page.context().close();
});
