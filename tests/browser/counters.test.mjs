// The counts (list line, title, favicon) never go stale or contradict themselves: they are
// resynced after a reconnect to a restarted server and after coalesced bursts, and the message
// pane says the truth about the open message once the connection is back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, sendOne, sendMany, buildMessage, apiJson, recordTexts, textsOf } from './helpers.mjs';

const browser = await launch();

const mail = (subject) => ({ from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject, text: subject }) });

test('after a server restart the counts, the title and the open message match the new server within seconds', async () => {
  const first = await startServer();
  const ids = await sendAll(first, [1, 2, 3, 4, 5, 6].map((i) => mail(`Old ${i}`)));
  const { page, problems } = await openPage(browser, `${first.base}/#m=${ids[2]}`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Old 3');
  await page.waitForFunction(() => document.title === '(5) mailsnare');
  assert.equal(await page.textContent('#list-count'), '6 messages · 5 unread');

  await first.stop();
  await page.waitForSelector('#conn:is([data-state="reconnecting"], [data-state="offline"])');
  // Moving on while the server is away fails to load, and says why.
  await page.keyboard.press('j');
  await page.waitForFunction(() => /cannot be reached/.test(document.getElementById('message').textContent));

  // The same address, other mail: one message, unread.
  const second = await startServer([], { http: `127.0.0.1:${first.httpPort}` });
  await sendOne(second, mail('New 1'));
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
  const back = Date.now();
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '1 message · 1 unread', null, { timeout: 5000 });
  await page.waitForFunction(() => document.title === '(1) mailsnare', null, { timeout: 5000 });
  // The pane no longer claims the server cannot be reached: the message it wanted is gone.
  await page.waitForFunction(() => /no longer exists/.test(document.getElementById('message').textContent), null, { timeout: 5000 });
  assert.doesNotMatch(await page.textContent('#message'), /cannot be reached/);
  assert.ok(Date.now() - back < 5000);
  assert.deepEqual(problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket|Failed to load resource/.test(p)), []);
  await page.context().close();
});

test('during a 3 000-message burst the count never shows more unread than messages, and ends at the server\'s numbers', { timeout: 180_000 }, async () => {
  const server = await startServer();
  await sendAll(server, [mail('Seed')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  // Reading a message while the burst comes: opening it made it read, so unread < total.
  await page.click('.row-link');
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '1 message');
  await recordTexts(page, '#list-count', 'count');
  await page.evaluate(() => {
    window.__titles = [];
    new MutationObserver(() => window.__titles.push(document.title)).observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true });
  });
  await sendMany(server, 3000, (i) => mail(`Burst ${i}`));
  await page.waitForFunction(() => document.getElementById('list-count').textContent === '3,001 messages · 3,000 unread', null, { timeout: 60_000 });
  const seen = await textsOf(page, 'count');
  const contradictions = seen.filter((t) => {
    const m = /^([\d,]+) messages? · ([\d,]+) unread$/.exec(t);
    return m && Number(m[2].replace(/,/g, '')) > Number(m[1].replace(/,/g, '')) - 1;
  });
  assert.deepEqual(contradictions, [], `the count line contradicted itself (${seen.length} texts seen)`);
  const truth = await apiJson(server, '/api/v1/messages?limit=1');
  assert.equal(truth.total, 3001);
  assert.equal(truth.unread, 3000);
  assert.equal(await page.title(), '(3000) mailsnare');
  assert.deepEqual(problems, []);
  await page.context().close();
});
