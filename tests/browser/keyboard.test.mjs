// Keyboard-only flows: / → query → Enter → j works; Escape leaves the search box; the arrow
// keys go from the box to the results; a click into the HTML preview does not swallow the
// shortcuts; and the list is a single tab stop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage } from './helpers.mjs';

const browser = await launch();

const mail = (subject, html) => ({
  from: 'app@example.com', to: ['dev@example.com'],
  data: buildMessage({ subject, text: `${subject} text`, html }),
});

const active = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return { id: el.id, tag: el.tagName.toLowerCase(), row: el.closest('.row')?.querySelector('.row-subject')?.textContent ?? null };
});

test('/ → query → Enter → j → Enter opens the first result, with the keyboard only', async () => {
  const server = await startServer();
  await sendAll(server, [mail('Invoice 1001'), mail('Password reset'), mail('Invoice 1002'), mail('Weekly digest')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.keyboard.press('/');
  assert.equal((await active(page)).id, 'search');
  await page.keyboard.type('invoice');
  await page.keyboard.press('Enter');
  // Enter left the box: j is a shortcut now, not a letter in the query.
  await page.keyboard.press('j');
  await page.waitForFunction(() => document.querySelector('.row.is-cursor .row-subject')?.textContent === 'Invoice 1002');
  assert.equal(await page.inputValue('#search'), 'invoice');
  await page.keyboard.press('j');
  await page.waitForFunction(() => document.querySelector('.row.is-cursor .row-subject')?.textContent === 'Invoice 1001');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Invoice 1001');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('Escape leaves the search box (the search stays), / selects it again, ArrowDown goes to the results', async () => {
  const server = await startServer();
  await sendAll(server, [mail('Invoice 1001'), mail('Password reset'), mail('Invoice 1002')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.keyboard.press('/');
  await page.keyboard.type('invoice');
  await page.keyboard.press('Escape');
  assert.notEqual((await active(page)).id, 'search', 'Escape left the box');
  assert.equal(await page.inputValue('#search'), 'invoice', 'and kept the query');
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '2 matches');
  // After Escape, / goes back to the box with the query selected: typing replaces it.
  await page.keyboard.press('/');
  assert.equal((await active(page)).id, 'search');
  assert.equal(await page.inputValue('#search'), 'invoice', 'no slash was typed');
  await page.keyboard.type('password');
  // ArrowDown goes from the box to the first result.
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => document.querySelector('.row.is-cursor .row-subject')?.textContent === 'Password reset');
  assert.equal((await active(page)).row, 'Password reset');
  // Escape in the list clears the search: everything is back.
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '3 messages · 3 unread');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('after a click into the HTML preview the shortcuts still work', async () => {
  const server = await startServer();
  await sendAll(server, [
    mail('Older one'),
    mail('Newsletter', '<h1 id="hero">Big news</h1><p id="para">Some text to click on, and to select.</p>'),
  ]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.click('.row[aria-posinset="1"] .row-link');
  const frame = await (await page.waitForSelector('iframe.html-frame')).contentFrame();
  await frame.waitForSelector('#para');
  await frame.click('#para');
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'IFRAME', 'the frame has the focus');
  // j, typed while the mail's frame has the focus, moves on to the next message.
  await page.keyboard.press('j');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Older one');
  await page.keyboard.press('k');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Newsletter');
  const again = await (await page.waitForSelector('iframe.html-frame')).contentFrame();
  await again.waitForSelector('#para');
  await again.click('#hero');
  // / goes to the search box; Escape from the frame closes the message.
  await page.keyboard.press('/');
  assert.equal((await active(page)).id, 'search');
  await page.keyboard.press('Escape');
  await again.click('#hero');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#message', { state: 'hidden' });
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the list is one tab stop: Tab goes from the list to the message, not through every row', async () => {
  const server = await startServer();
  await sendAll(server, Array.from({ length: 30 }, (_, i) => mail(`Message ${i}`)));
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#msg-subject');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.activeElement.closest('.row'));
  await page.keyboard.press('Enter');
  await page.waitForSelector('#msg-subject');
  // From the list's one stop, Tab reaches the message's toolbar at once.
  await page.evaluate(() => document.querySelector('.row.is-cursor .row-link').focus());
  await page.keyboard.press('Tab');
  const next = await page.evaluate(() => ({ inList: !!document.activeElement.closest('#list-pane'), inMessage: !!document.activeElement.closest('#message'), what: document.activeElement.outerHTML.slice(0, 80) }));
  assert.ok(!next.inList || next.what.includes('splitter'), `Tab stayed in the list: ${next.what}`);
  // From the search box to the message: the top bar and list toolbar, one stop for the list.
  await page.focus('#search');
  let stops = 0;
  for (; stops < 25; stops++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => !!document.activeElement.closest('#message'))) break;
  }
  assert.ok(stops < 15, `${stops + 1} tab stops from the search box to the message`);
  // Whatever the cursor, one row (and no checkbox) is in the tab order.
  const rows = await page.evaluate(() => [...document.querySelectorAll('.row-link')].filter((a) => a.tabIndex === 0).length);
  assert.equal(rows, 1, 'exactly one row is in the tab order');
  assert.deepEqual(problems, []);
  await page.context().close();
});
