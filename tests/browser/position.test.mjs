// The reading position is a message, and it holds: a reload or a #m=ID link scrolls to the open
// message and j/k go on from it; bursts of new mail never push the open row out of view.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendMany, buildMessage, apiJson } from './helpers.mjs';

const browser = await launch();

const mail = (i, tag = 'Order') => ({
  from: 'shop@store.example',
  to: [`c${i}@example.com`],
  data: buildMessage({ from: 'Store <shop@store.example>', to: [`c${i}@example.com`], subject: `${tag} ${String(i).padStart(5, '0')}`, text: `n ${i}` }),
});

/** The subject of the message at `index` of the live list, from the server. */
async function subjectAt(server, index) {
  const page = await apiJson(server, `/api/v1/messages?start=${index}&limit=1`);
  return page.messages[0].Subject;
}

const openSubject = (page) => page.textContent('#msg-subject');

/** The open row: on screen (inside the list's viewport), highlighted and the cursor. */
async function openRow(page) {
  return page.evaluate(() => {
    const row = document.querySelector('.row.is-open');
    if (!row) return null;
    const list = document.getElementById('list-scroll').getBoundingClientRect();
    const r = row.getBoundingClientRect();
    return {
      subject: row.querySelector('.row-subject').textContent,
      index: Number(row.getAttribute('aria-posinset')) - 1,
      offset: Math.round(r.top - list.top),
      visible: r.top >= list.top - 1 && r.bottom <= list.bottom + 1,
      cursor: row.classList.contains('is-cursor'),
    };
  });
}

test('a reload with #m=ID deep in the list scrolls to the open message, highlights it, and j/k go on from it', async () => {
  const server = await startServer();
  await sendMany(server, 320, (i) => mail(i), 1);
  const list = await apiJson(server, '/api/v1/messages?start=250&limit=1');
  const id = list.messages[0].ID;
  const subject = list.messages[0].Subject;
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`);
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, subject);
  // Found in the list although it is far below the first page: scrolled to and marked.
  await page.waitForFunction(() => document.querySelector('.row.is-open'));
  const row = await openRow(page);
  assert.equal(row.subject, subject);
  assert.equal(row.index, 250);
  assert.ok(row.visible, 'the open row is on screen');
  assert.ok(row.cursor, 'the open row is the cursor');
  // j goes to the next older message, k back and on to the newer one: from 250, not from the top.
  await page.keyboard.press('j');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, await subjectAt(server, 251));
  await page.keyboard.press('k');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, subject);
  await page.keyboard.press('k');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, await subjectAt(server, 249));
  assert.equal((await openRow(page)).index, 249);

  // The same after a plain reload of the page.
  await page.reload();
  await page.waitForSelector('html[data-ready="1"]');
  await page.waitForFunction(() => document.querySelector('.row.is-open'));
  const again = await openRow(page);
  assert.equal(again.index, 249);
  assert.ok(again.visible && again.cursor);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a 3 000-message burst while reading mid-list keeps the open row in place, and k opens its newer neighbour', { timeout: 240_000 }, async () => {
  const server = await startServer();
  await sendMany(server, 400, (i) => mail(i, 'Before'));
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  // Scroll to the middle and open a row there, as a reader would.
  await page.evaluate(() => {
    const el = document.getElementById('list-scroll');
    el.scrollTop = 180 * parseFloat(getComputedStyle(el).getPropertyValue('--row-h'));
  });
  await page.waitForFunction(() => document.querySelector('.row[aria-posinset="186"]:not(.is-loading)'));
  await page.click('.row[aria-posinset="186"] .row-link');
  const subject = await page.textContent('.row[aria-posinset="186"] .row-subject');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, subject);
  const before = await openRow(page);
  assert.ok(before.visible);

  // Watch the open row on every frame while 3 000 messages arrive.
  await page.evaluate(() => {
    window.__offscreen = 0;
    window.__frames = 0;
    const tick = () => {
      const row = document.querySelector('.row.is-open');
      const list = document.getElementById('list-scroll').getBoundingClientRect();
      const r = row?.getBoundingClientRect();
      window.__frames++;
      if (!r || r.top < list.top - 1 || r.bottom > list.bottom + 1) window.__offscreen++;
      if (!window.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await sendMany(server, 3000, (i) => mail(i, 'Burst'));
  await page.waitForFunction(() => document.getElementById('list-count').textContent.startsWith('3,400 messages'), null, { timeout: 60_000 });
  // The list has settled on the server's order around the open row (the last resync's reload can
  // take a while on a loaded 2-core runner, with 3 400 messages in a debug build).
  await page.waitForFunction(() => Number(document.querySelector('.row.is-open')?.getAttribute('aria-posinset')) === 3186, null, { timeout: 60_000 });
  // Nothing more on its way: no frame waiting, no reload due or in flight, no page loading.
  await page.waitForFunction(() => !document.getElementById('list-scroll').hasAttribute('aria-busy'), null, { timeout: 60_000 });
  const frames = await page.evaluate(() => {
    window.__stop = true;
    return { offscreen: window.__offscreen, frames: window.__frames };
  });
  const after = await openRow(page);
  assert.equal(after.subject, subject);
  assert.ok(after.visible, 'the open row is still on screen');
  assert.ok(after.cursor, 'the open row is the cursor');
  assert.equal(after.index, 3185);
  assert.ok(Math.abs(after.offset - before.offset) <= 2, `the open row stayed put: ${before.offset} px → ${after.offset} px`);
  assert.equal(frames.offscreen, 0, `the open row left the screen in ${frames.offscreen} of ${frames.frames} frames`);
  // New mail above is announced, not shown by moving the list.
  assert.match(await page.textContent('#list-new'), /3,000 new messages above/);

  // k opens the message just newer than the open one, j the one just older.
  const index = 3185;
  assert.equal(await subjectAt(server, index), subject);
  await page.keyboard.press('k');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, await subjectAt(server, index - 1));
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, await subjectAt(server, index + 1));
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('new mail while reading the newest message keeps it on screen; the list says how many arrived above', async () => {
  const server = await startServer();
  // More than a screenful, so the list can scroll to keep the row still.
  await sendMany(server, 20, (i) => mail(i, 'First'), 1);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.click('.row[aria-posinset="1"] .row-link');
  const subject = await page.textContent('.row[aria-posinset="1"] .row-subject');
  await page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, subject);
  const before = await openRow(page);
  // A trickle, one message at a time (each gets its own live frame), enough to fill the screen.
  for (let i = 0; i < 14; i++) await sendMany(server, 1, () => mail(100 + i, 'Later'), 1);
  await page.waitForFunction(() => document.getElementById('list-count').textContent.startsWith('34 messages'));
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length >= 10);
  const after = await openRow(page);
  assert.equal(after?.subject, subject, 'the open row is rendered (on or near the screen)');
  assert.ok(after.visible, 'the open row is still on screen');
  assert.ok(Math.abs(after.offset - before.offset) <= 2, `${before.offset} → ${after.offset}`);
  await page.waitForFunction(() => !document.getElementById('list-new').hidden);
  assert.match(await page.textContent('#list-new'), /14 new messages above/);
  // The pill goes back to the top, where the new mail is.
  await page.click('#list-new');
  await page.waitForFunction(() => document.getElementById('list-scroll').scrollTop === 0);
  assert.equal(await page.isHidden('#list-new'), true);
  assert.deepEqual(problems, []);
  await page.context().close();
});
