// Search, deleting and read state, and their sync across open tabs through the WebSocket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, apiJson, visibleRows } from './helpers.mjs';

const browser = await launch();

function mail(subject, { from = 'app@example.com', to = 'user@example.com', text = 'hello', attachments } = {}) {
  return { from, to: [to], data: buildMessage({ from, to: [to], subject, text, attachments }) };
}

const subjects = async (page) => (await visibleRows(page)).map((r) => r.subject);

test('search narrows the list, results open like the list, clearing returns to the live list', async () => {
  const server = await startServer();
  await sendAll(server, [
    mail('Invoice 1001', { from: 'billing@shop.example' }),
    mail('Password reset', { from: 'security@acme.example' }),
    mail('Invoice 1002', { from: 'billing@shop.example', attachments: [{ name: 'i.pdf', type: 'application/pdf', base64: 'JVBERg==' }] }),
    mail('Weekly digest', { from: 'news@weekly.example' }),
  ]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  assert.equal((await subjects(page)).length, 4);

  await page.fill('#search', 'invoice');
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 2);
  assert.deepEqual(await subjects(page), ['Invoice 1002', 'Invoice 1001']);
  assert.match(await page.textContent('#list-count'), /2 matches/);
  assert.match(page.url(), /#q=invoice$/);

  // Field filters and the query syntax reach the server unchanged.
  await page.fill('#search', 'from:billing has:attachment');
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 1);
  assert.deepEqual(await subjects(page), ['Invoice 1002']);
  await page.fill('#search', 'invoice -1002');
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => document.querySelector('.row:not(.is-loading) .row-subject')?.textContent === 'Invoice 1001');
  assert.deepEqual(await subjects(page), ['Invoice 1001']);

  // A result opens like a list row.
  await page.click('.row-link');
  await page.waitForSelector('#msg-subject');
  assert.equal(await page.textContent('#msg-subject'), 'Invoice 1001');

  // New mail that matches shows up in the results too.
  await sendAll(server, [mail('Invoice 1003'), mail('Unrelated')]);
  await page.waitForFunction(() => [...document.querySelectorAll('.row-subject')].some((s) => s.textContent === 'Invoice 1003'));

  // Nothing matches: an empty state says so.
  await page.fill('#search', 'nothing-matches-this');
  await page.press('#search', 'Enter');
  await page.waitForSelector('#list-empty:not([hidden])');
  assert.match(await page.textContent('#list-empty'), /No matches/);

  // Escape in the box leaves it (the search stays); a second Escape clears the search: the full
  // live list is back. (One Escape used to clear it, which trapped the focus in the box.)
  await page.press('#search', 'Escape');
  assert.notEqual(await page.evaluate(() => document.activeElement.id), 'search');
  assert.equal(await page.inputValue('#search'), 'nothing-matches-this');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 6);
  assert.equal(await page.inputValue('#search'), '');
  assert.match(await page.textContent('#list-count'), /6 messages/);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('deleting in one tab removes the message in a second open tab; delete selected; delete all', async () => {
  const server = await startServer();
  const ids = await sendAll(server, [mail('Keep me'), mail('Delete me'), mail('Select me A'), mail('Select me B')]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const one = await openPage(browser, `${server.base}/`, { context });
  const two = await openPage(browser, `${server.base}/`, { context });
  for (const { page } of [one, two]) await page.waitForSelector('#conn[data-state="live"]');
  assert.equal((await subjects(two.page)).length, 4);

  // Tab two has the message open; tab one deletes it.
  await two.page.bringToFront();
  await two.page.click(`.row-link[href="#m=${ids[1]}"]`);
  await two.page.waitForSelector('#msg-subject');
  // (Playwright's actions wait for animation frames, which a background tab does not get.)
  await one.page.bringToFront();
  await one.page.click(`.row-link[href="#m=${ids[1]}"]`);
  await one.page.click('#msg-delete');
  await one.page.waitForFunction(() => ![...document.querySelectorAll('.row-subject')].some((s) => s.textContent === 'Delete me'));
  await two.page.waitForFunction(() => ![...document.querySelectorAll('.row-subject')].some((s) => s.textContent === 'Delete me'));
  assert.deepEqual(await subjects(two.page), ['Select me B', 'Select me A', 'Keep me']);
  // Tab two no longer shows the deleted message.
  await two.page.waitForFunction(() => document.getElementById('msg-subject')?.textContent !== 'Delete me');

  // Delete selected (checkboxes) in tab one.
  await one.page.click('#msg-toggle-read'); // (any action on the open message is fine here)
  await one.page.keyboard.press('Escape');
  for (const id of [ids[2], ids[3]]) {
    await one.page.locator('.row', { has: one.page.locator(`.row-link[href="#m=${id}"]`) }).locator('.row-check').check();
  }
  assert.match(await one.page.textContent('#list-count'), /2 of 3 selected/);
  await one.page.click('#bulk-delete');
  for (const { page } of [one, two]) {
    await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 1);
    assert.deepEqual(await subjects(page), ['Keep me']);
  }

  // Delete all asks first; Cancel keeps everything, confirming deletes everywhere.
  await one.page.click('#all-delete');
  await one.page.waitForSelector('#confirm-dialog[open]');
  await one.page.keyboard.press('Escape');
  await one.page.waitForSelector('#confirm-dialog:not([open])', { state: 'attached' });
  assert.equal((await apiJson(server, '/api/v1/messages')).total, 1);
  await one.page.click('#all-delete');
  await one.page.click('#confirm-ok');
  await two.page.waitForSelector('#list-empty:not([hidden])');
  await one.page.waitForSelector('#list-empty:not([hidden])');
  assert.equal((await apiJson(server, '/api/v1/messages')).total, 0);
  assert.deepEqual(one.problems, []);
  assert.deepEqual(two.problems, []);
  await context.close();
});

test('read and unread state syncs across tabs, and with the API', async () => {
  const server = await startServer();
  const ids = await sendAll(server, [mail('Alpha'), mail('Beta')]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const one = await openPage(browser, `${server.base}/`, { context });
  const two = await openPage(browser, `${server.base}/`, { context });
  for (const { page } of [one, two]) await page.waitForSelector('#conn[data-state="live"]');
  const unread = (page, id) => page.$eval(`.row-link[href="#m=${id}"]`, (a) => a.closest('.row').classList.contains('is-unread'));
  assert.equal(await unread(two.page, ids[0]), true);

  // Opening in tab one marks it read in tab two.
  await one.page.bringToFront();
  await one.page.click(`.row-link[href="#m=${ids[0]}"]`);
  await two.page.waitForFunction((id) => !document.querySelector(`.row-link[href="#m=${id}"]`).closest('.row').classList.contains('is-unread'), ids[0]);
  await two.page.waitForFunction(() => document.title === '(1) mailsnare');

  // Mark unread in tab one: tab two follows, and so does the server.
  await one.page.click('#msg-toggle-read');
  await two.page.waitForFunction((id) => document.querySelector(`.row-link[href="#m=${id}"]`).closest('.row').classList.contains('is-unread'), ids[0]);
  assert.equal((await apiJson(server, '/api/v1/messages')).unread, 2);
  await two.page.waitForFunction(() => document.title === '(2) mailsnare');

  // A change made through the API shows in both.
  await apiJson(server, '/api/v1/messages', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ IDs: [ids[1]], Read: true }) });
  for (const { page } of [one, two]) {
    await page.waitForFunction((id) => !document.querySelector(`.row-link[href="#m=${id}"]`).closest('.row').classList.contains('is-unread'), ids[1]);
  }
  // Mark all read.
  await two.page.bringToFront();
  await two.page.click('#all-read');
  await one.page.waitForFunction(() => document.querySelectorAll('.row.is-unread').length === 0);
  await one.page.waitForFunction(() => document.title === 'mailsnare');
  assert.equal((await apiJson(server, '/api/v1/messages')).unread, 0);
  assert.deepEqual(one.problems, []);
  assert.deepEqual(two.problems, []);
  await context.close();
});
