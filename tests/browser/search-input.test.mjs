// Typing a search: one request when the typing pauses (not one per key, none for a half-typed
// term), and a query the server cannot parse is explained under the box, once, with the list
// still there. Toasts never stack.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage } from './helpers.mjs';

const browser = await launch();

const mail = (subject) => ({ from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject, text: subject }) });

/** Counts the page's search requests, and the most toasts ever shown at once. */
async function watch(page) {
  const searches = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.endsWith('/api/v1/search')) searches.push(new URL(r.url()).searchParams.get('query'));
  });
  await page.evaluate(() => {
    window.__maxToasts = 0;
    const box = document.getElementById('toasts');
    new MutationObserver(() => {
      window.__maxToasts = Math.max(window.__maxToasts, box.querySelectorAll('.toast').length);
    }).observe(box, { childList: true, subtree: true });
  });
  return searches;
}

test('typing searches once the typing pauses, not once per key', async () => {
  const server = await startServer();
  await sendAll(server, [mail('Invoice 1'), mail('Invoice 2'), mail('Receipt 3')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  const searches = await watch(page);
  await page.keyboard.press('/');
  // A deliberate typist: about 3 keys a second.
  await page.keyboard.type('invoice', { delay: 330 });
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '2 matches');
  assert.ok(searches.length <= 2, `${searches.length} searches for 7 keys: ${searches.join(' | ')}`);
  assert.equal(searches[searches.length - 1], 'invoice');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a half-typed date sends nothing; a bad query is explained under the box, once, and the list stays', async () => {
  const server = await startServer();
  await sendAll(server, [mail('Invoice 1'), mail('Invoice 2'), mail('Receipt 3')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  const searches = await watch(page);
  await page.keyboard.press('/');
  await page.keyboard.type('after:2024-0', { delay: 330 });
  // Give a debounced search every chance to fire: it must not, the date is not complete.
  await page.waitForTimeout(900);
  assert.deepEqual(searches.filter((q) => q.startsWith('after:')), [], 'no request for a half-typed date');
  assert.equal(await page.evaluate(() => window.__maxToasts), 0, 'no toast while typing');
  // A hint (not an error) says what the term still needs.
  assert.equal(await page.textContent('#search-error.is-hint'), 'after: takes a date like 2024-05-01, or an RFC 3339 time.');
  assert.equal(await page.getAttribute('#search', 'aria-invalid'), null);

  // Finished, but wrong: Enter sends it, and the server's reason shows under the box.
  await page.fill('#search', 'after:2024-13-45');
  await page.press('#search', 'Enter');
  await page.waitForSelector('#search-error:not([hidden]):not(.is-hint)');
  assert.match(await page.textContent('#search-error'), /^Search not understood: invalid date "2024-13-45"/);
  assert.equal(await page.getAttribute('#search', 'aria-invalid'), 'true');
  // The list is still there, with its count, not "Could not load messages".
  assert.equal(await page.textContent('#list-count'), '3 messages · 3 unread');
  assert.equal(await page.locator('.row:not(.is-loading)').count(), 3);
  // Pressing Enter again does not pile anything up.
  await page.focus('#search');
  await page.press('#search', 'Enter');
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#search-error:not([hidden])').count(), 1);
  assert.equal(await page.evaluate(() => window.__maxToasts), 0, 'errors are never toasts');

  // Fixing the query clears the error and searches.
  await page.fill('#search', 'after:2024-01-05');
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '3 matches');
  assert.equal(await page.isHidden('#search-error'), true);
  // (The browser logs the 400 answers themselves; nothing else went wrong.)
  assert.deepEqual(problems.filter((p) => !/status of 400 \(Bad Request\).*\/api\/v1\/search/.test(p)), []);
  await page.context().close();
});
