// "Select all" is honest about what it selects: the loaded rows first, then, on request, the
// whole list or search however long it is, and the actions act on exactly that.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendMany, buildMessage, apiJson, shot } from './helpers.mjs';

const browser = await launch();

const mail = (subject) => ({ from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject, text: subject }) });

test('Select all offers the whole list by its size, and Delete then removes every message', async () => {
  const server = await startServer();
  await sendMany(server, 250, (i) => mail(`Order ${i}`));
  const { page, problems } = await openPage(browser, `${server.base}/`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#conn[data-state="live"]');
  await page.check('#select-all');
  // Only what is loaded is selected, and the count says so…
  const loaded = await page.evaluate(() => document.querySelectorAll('.row.is-selected').length);
  assert.ok(loaded > 0);
  assert.match(await page.textContent('#list-count'), /^\d+ of 250 selected$/);
  // …and the whole list is one click away, named by its size.
  await page.waitForSelector('#select-banner:not([hidden])');
  assert.equal(await page.textContent('#select-banner-action'), 'Select all 250 messages');
  await shot(page, 'wide1440-light-select-loaded');
  await page.click('#select-banner-action');
  await shot(page, 'wide1440-light-select-all-250');
  assert.equal(await page.textContent('#list-count'), 'All 250 messages selected');
  assert.match(await page.textContent('#select-banner'), /All 250 messages are selected/);
  // Rows scrolled into view later are selected too.
  await page.evaluate(() => { document.getElementById('list-scroll').scrollTop = 1e6; });
  await page.waitForFunction(() => document.querySelector('.row[aria-posinset="250"]:not(.is-loading)'));
  assert.equal(await page.$eval('.row[aria-posinset="250"]', (r) => r.classList.contains('is-selected')), true);

  // Delete asks, naming the number, and deletes all 250 (not the 100 loaded).
  await page.click('#bulk-delete');
  await page.waitForSelector('#confirm-dialog[open]');
  assert.match(await page.textContent('#confirm-title'), /Delete all 250 messages\?/);
  await page.click('#confirm-ok');
  await page.waitForSelector('#list-empty:not([hidden])');
  assert.equal((await apiJson(server, '/api/v1/messages')).total, 0);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('in a search, "Select all N matches" marks exactly the matches read', async () => {
  const server = await startServer();
  await sendMany(server, 150, (i) => mail(`Invoice ${i}`));
  await sendMany(server, 30, (i) => mail(`Newsletter ${i}`));
  const { page, problems } = await openPage(browser, `${server.base}/#q=${encodeURIComponent('subject:invoice')}`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '150 matches');
  await page.check('#select-all');
  assert.equal(await page.textContent('#select-banner-action'), 'Select all 150 matches');
  await page.click('#select-banner-action');
  assert.equal(await page.textContent('#list-count'), 'All 150 matches selected');
  await page.click('#bulk-read');
  await page.waitForFunction(() => document.querySelectorAll('.row.is-unread').length === 0);
  const invoices = await apiJson(server, `/api/v1/search?query=${encodeURIComponent('subject:invoice')}&limit=1`);
  const news = await apiJson(server, `/api/v1/search?query=${encodeURIComponent('subject:newsletter')}&limit=1`);
  assert.equal(invoices.messages_unread, 0, 'every match is read');
  assert.equal(news.messages_unread, 30, 'nothing else was touched');
  // Unselecting one row of "all" turns the selection back into the loaded rows, minus that one.
  await page.locator('.row[aria-posinset="2"] .row-check').uncheck();
  assert.match(await page.textContent('#list-count'), /^\d+ of 150 selected$/);
  assert.equal(await page.$eval('.row[aria-posinset="2"]', (r) => r.classList.contains('is-selected')), false);
  assert.equal(await page.$eval('.row[aria-posinset="1"]', (r) => r.classList.contains('is-selected')), true);
  await page.keyboard.press('Escape');
  assert.equal(await page.textContent('#list-count'), '150 matches');
  assert.deepEqual(problems, []);
  await page.context().close();
});
