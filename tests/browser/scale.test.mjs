// 10 000 messages: the list renders fast, scrolls smoothly and stays live.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, apiJson } from './helpers.mjs';

const N = Number(process.env.SCALE_MESSAGES || 10_000);
const browser = await launch();

function bulk(i) {
  const subject = `Order #${String(i).padStart(5, '0')} confirmed`;
  return {
    from: `shop${i % 17}@store.example`,
    to: [`customer${i}@example.com`],
    data: buildMessage({
      from: `Store ${i % 17} <shop${i % 17}@store.example>`,
      to: [`Customer ${i} <customer${i}@example.com>`],
      subject,
      text: `Thanks for order ${i}. It ships tomorrow. Track it at https://store.example/t/${i}`,
    }),
  };
}

test(`the list stays responsive with ${N.toLocaleString('en')} messages`, { timeout: 600_000 }, async (t) => {
  const server = await startServer();
  const t0 = performance.now();
  const CONNS = 4;
  await Promise.all(Array.from({ length: CONNS }, (_, c) => {
    const mine = [];
    for (let i = c; i < N; i += CONNS) mine.push(bulk(i));
    return sendAll(server, mine);
  }));
  const insertMs = performance.now() - t0;
  assert.equal((await apiJson(server, '/api/v1/messages?limit=1')).total, N);

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  const l0 = performance.now();
  await page.goto(`${server.base}/`);
  await page.waitForSelector('.row:not(.is-loading)');
  const firstRowsMs = performance.now() - l0;
  assert.match(await page.textContent('#list-count'), new RegExp(`${N.toLocaleString('en')} messages`));
  // Only the rows on screen exist.
  const rowCount = await page.locator('.row').count();
  assert.ok(rowCount < 60, `${rowCount} row elements for ${N} messages`);

  // Jump (like dragging the scrollbar) and time until the rows at that place show their message:
  // the row at the top of the view must exist and be loaded.
  const jump = (fraction) => page.evaluate(async (f) => {
    const el = document.getElementById('list-scroll');
    const start = performance.now();
    el.scrollTop = Math.round((el.scrollHeight - el.clientHeight) * f);
    const rowH = parseFloat(getComputedStyle(el).getPropertyValue('--row-h'));
    const want = String(Math.floor(el.scrollTop / rowH) + 1);
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const row = document.querySelector(`.row[aria-posinset="${want}"]`);
      if (row && !row.classList.contains('is-loading')) return { ms: performance.now() - start, subject: row.querySelector('.row-subject').textContent };
    }
  }, fraction);
  // The rows on screen and the server's messages at those positions, until they agree (the list
  // refetches what changed under it) or 10 s have passed; then they must be equal.
  const matchesServer = async (what) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const shown = await page.$$eval('.row:not(.is-loading)', (rows) => rows
        .map((r) => ({ pos: Number(r.getAttribute('aria-posinset')), subject: r.querySelector('.row-subject').textContent }))
        .sort((a, b) => a.pos - b.pos));
      const truth = await apiJson(server, `/api/v1/messages?start=${shown[0].pos - 1}&limit=${shown.length}`);
      const subjects = shown.map((r) => r.subject);
      const expected = truth.messages.map((m) => m.Subject);
      if (JSON.stringify(subjects) === JSON.stringify(expected) || Date.now() > deadline) {
        assert.deepEqual(subjects, expected, `the rows match the server: ${what}`);
        return shown;
      }
      await page.waitForFunction(() => new Promise((r) => requestAnimationFrame(() => r(true))));
    }
  };
  const end = await jump(1);
  const bottom = await matchesServer('at the end');
  assert.equal(bottom[bottom.length - 1].pos, N, 'the last row is the oldest message');
  const mid = await jump(0.5);
  // (Four connections interleave, so the order is only roughly the send order.)
  await matchesServer('in the middle');
  const midNumber = Number(/#(\d+)/.exec(mid.subject)?.[1]);
  assert.ok(Math.abs(midNumber - N / 2) < N / 10, `the middle shows the middle: ${mid.subject}`);
  const jumpMs = end.ms;
  const midMs = mid.ms;

  // Smooth scroll through the list: 240 frames of 120 px each, timing every frame.
  await page.evaluate(() => { document.getElementById('list-scroll').scrollTop = 0; });
  const frames = await page.evaluate(async () => {
    const el = document.getElementById('list-scroll');
    const times = [];
    let prev = performance.now();
    for (let i = 0; i < 240; i++) {
      el.scrollTop += 120;
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      times.push(now - prev);
      prev = now;
    }
    return times;
  });
  frames.sort((a, b) => a - b);
  const p50 = frames[Math.floor(frames.length * 0.5)];
  const p95 = frames[Math.floor(frames.length * 0.95)];
  const max = frames[frames.length - 1];

  // j with a message open: from the key press to the next message shown (subject rendered, not
  // busy). Presses are spaced out, as a reader's are; p50 and max of 15.
  await page.evaluate(() => { document.getElementById('list-scroll').scrollTop = 0; });
  await page.waitForSelector('.row[aria-posinset="1"]:not(.is-loading)');
  await page.click('.row[aria-posinset="1"] .row-link');
  await page.waitForFunction(() => document.getElementById('msg-subject') && !document.getElementById('message').hasAttribute('aria-busy'));
  const jTimes = [];
  for (let i = 0; i < 15; i++) {
    await page.waitForTimeout(300);
    jTimes.push(await page.evaluate(async () => {
      const subject = () => document.getElementById('msg-subject')?.textContent;
      const before = subject();
      const t0 = performance.now();
      document.dispatchEvent(new KeyboardEvent('keydown', { key: 'j', bubbles: true }));
      for (;;) {
        await new Promise((r) => requestAnimationFrame(r));
        if (subject() && subject() !== before && !document.getElementById('message').hasAttribute('aria-busy')) return performance.now() - t0;
      }
    }));
  }
  jTimes.sort((a, b) => a - b);
  const jP50 = jTimes[Math.floor(jTimes.length / 2)];
  const jMax = jTimes[jTimes.length - 1];
  await page.keyboard.press('Escape');

  // Still live with 10 000 loaded: a burst of 300 more arrives, the count follows, the newest is on top.
  await page.evaluate(() => { document.getElementById('list-scroll').scrollTop = 0; });
  const b0 = performance.now();
  await Promise.all([0, 1].map((c) => sendAll(server, Array.from({ length: 150 }, (_, i) => bulk(N + c * 150 + i)))));
  await page.waitForFunction((n) => document.getElementById('list-count').textContent.startsWith(`${n.toLocaleString()} messages`), N + 300, { timeout: 30_000 });
  const burstMs = performance.now() - b0;
  const newest = await page.$eval('.row[aria-posinset="1"] .row-subject', (s) => s.textContent);
  assert.match(newest, /^Order #1\d{4} confirmed$/);

  // Deletes far from what is loaded (another tab, a script): the list shrinks and, where it is
  // scrolled to, shows exactly what the server has there (no gap, no duplicate).
  const total = N + 300;
  await jump(0.69);
  const deep = await apiJson(server, `/api/v1/messages?start=${Math.floor(total * 0.4)}&limit=5`);
  await apiJson(server, '/api/v1/messages', { method: 'DELETE', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ IDs: deep.messages.map((m) => m.ID) }) });
  await page.waitForFunction((n) => document.getElementById('list-count').textContent.startsWith(`${n.toLocaleString()} messages`), total - 5, { timeout: 10_000 });
  await matchesServer('after deletes above the loaded rows');

  const report = {
    messages: N,
    insertOverSmtpMs: Math.round(insertMs),
    firstRowsAfterNavigationMs: Math.round(firstRowsMs),
    rowElements: rowCount,
    jumpToEndLoadedMs: Math.round(jumpMs),
    jumpToMiddleLoadedMs: Math.round(midMs),
    scrollFrameMs: { p50: +p50.toFixed(1), p95: +p95.toFixed(1), max: +max.toFixed(1) },
    liveBurstOf300Ms: Math.round(burstMs),
    jToNextMessageMs: { p50: Math.round(jP50), max: Math.round(jMax) },
  };
  t.diagnostic(`scale: ${JSON.stringify(report)}`);
  console.log(`scale (${N} messages): first rows ${report.firstRowsAfterNavigationMs} ms; scroll frames p50 ${report.scrollFrameMs.p50} / p95 ${report.scrollFrameMs.p95} / max ${report.scrollFrameMs.max} ms; j → next message p50 ${report.jToNextMessageMs.p50} / max ${report.jToNextMessageMs.max} ms; jump to end ${report.jumpToEndLoadedMs} ms, middle ${report.jumpToMiddleLoadedMs} ms; live burst of 300 ${report.liveBurstOf300Ms} ms`);
  assert.ok(firstRowsMs < 3000, `first rows after ${firstRowsMs} ms`);
  assert.ok(jumpMs < 2000, `end of list loaded after ${jumpMs} ms`);
  assert.ok(midMs < 2000, `middle of list loaded after ${midMs} ms`);
  assert.ok(p95 < 50, `p95 scroll frame ${p95} ms`);
  assert.deepEqual(problems, []);
  await context.close();
});
