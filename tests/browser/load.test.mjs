// The page loads cleanly, mail arrives live, and HTML mail is shown in a sandboxed iframe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launch, openPage, sendOne, buildMessage, cspViolations, visibleRows, REPO, PNG_RED } from './helpers.mjs';
import { welcome } from './samples.mjs';

const browser = await launch();

test('the UI sources build DOM safely and carry no inline script or style', () => {
  const web = join(REPO, 'web');
  const files = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else files.push(join(dir, e.name));
    }
  };
  walk(web);
  const js = files.filter((f) => f.endsWith('.js'));
  assert.ok(js.length >= 6, `expected the UI's modules under web/, found ${js.length}`);
  for (const f of js) {
    const src = readFileSync(f, 'utf8');
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', "setAttribute('style'", 'createContextualFragment', 'DOMParser']) {
      assert.ok(!src.includes(sink), `${f} uses ${sink}`);
    }
  }
  for (const f of files.filter((x) => x.endsWith('.html'))) {
    const html = readFileSync(f, 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${f}: inline <script>`);
    assert.doesNotMatch(html, /\sstyle\s*=/i, `${f}: inline style attribute`);
    assert.doesNotMatch(html, /<style/i, `${f}: <style> element`);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, `${f}: inline event handler`);
    assert.doesNotMatch(html, /(src|href)="\//i, `${f}: absolute URL (breaks --webroot)`);
  }
});

test('the page loads with no console errors and no CSP violations, also with a message open', async () => {
  const server = await startServer();
  await sendOne(server, welcome());
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('.row:not(.is-loading)');
  // The response really carries the strict policy.
  const res = await page.request.get(`${server.base}/`);
  assert.match(res.headers()['content-security-policy'] || '', /script-src 'self'/);
  await page.click('.row-link');
  await page.waitForSelector('.html-frame');
  for (const tab of ['text', 'source', 'headers', 'parts', 'envelope', 'html']) {
    await page.click(`#tab-${tab}`);
    await page.waitForSelector(`#panel-${tab}:not([hidden]) :is(pre, table, .parts, .env, .html-stage)`);
  }
  // Let the live connection settle and the frame load.
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForTimeout(300);
  assert.deepEqual(problems, [], 'console errors or page errors');
  assert.deepEqual(await cspViolations(page), [], 'CSP violations in the UI');
  await page.context().close();
});

test('a message sent over SMTP after the page loaded appears live, unread, newest first', async () => {
  const server = await startServer();
  await sendOne(server, { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'First, before load', text: 'one' }) });
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  assert.equal((await visibleRows(page)).length, 1);
  await sendOne(server, {
    from: 'ci@example.com', to: ['qa@example.com'],
    data: buildMessage({ from: 'CI Robot <ci@example.com>', to: ['qa@example.com'], subject: 'Build #812 passed', text: 'All green.' }),
  });
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 2, null, { timeout: 5000 });
  const rows = await visibleRows(page);
  assert.equal(rows[0].subject, 'Build #812 passed');
  assert.equal(rows[0].from, 'CI Robot');
  assert.equal(rows[0].unread, true);
  assert.equal(rows[1].subject, 'First, before load');
  assert.match(await page.textContent('#list-count'), /2 messages · 2 unread/);
  await page.waitForFunction(() => document.title === '(2) mailsnare');
  // The favicon is redrawn with the count (a data: URL, allowed by img-src).
  assert.match(await page.getAttribute('#favicon', 'href'), /^data:image\/png;base64,/);
  // The arrival time is absolute (to the second, today) and labelled as the time received,
  // exact on hover. (It used to read "just now"; relative times are a display setting now.)
  const time = await page.$eval('.row .row-time', (t) => ({ text: t.textContent, title: t.title }));
  assert.match(time.text, /^\d{1,2}:\d{2}:\d{2}/);
  assert.match(time.title, /^Received .*\d{4}/);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('opening a message shows its HTML in a sandboxed iframe, with cid: images, and its other parts', async () => {
  const server = await startServer();
  const id = await sendOne(server, welcome());
  await sendOne(server, {
    from: 'x@example.com', to: ['y@example.com'],
    data: buildMessage({ subject: 'With a file', text: 'see file', attachments: [{ name: 'report.csv', type: 'text/csv', base64: Buffer.from('a,b\n1,2\n').toString('base64') }] }),
  });
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.click(`.row-link[href="#m=${id}"]`);
  const frameEl = await page.waitForSelector('iframe.html-frame');
  assert.equal(await frameEl.getAttribute('sandbox'), 'allow-same-origin');
  assert.equal(await frameEl.getAttribute('src'), `view/${id}.html`);
  const frame = await frameEl.contentFrame();
  await frame.waitForSelector('#greeting');
  assert.equal(await frame.textContent('#greeting'), 'Welcome to Acme, Dana!');
  // The cid: logo was rewritten to the part route and loaded.
  await frame.waitForFunction(() => document.getElementById('logo').complete);
  assert.ok(await frame.$eval('#logo', (img) => img.naturalWidth) > 0, 'the cid: image rendered');
  // The frame is a sensible size: the width of the pane, most of its height.
  const box = await frameEl.boundingBox();
  assert.ok(box.width > 700 && box.height > 400, `iframe is ${box.width}x${box.height}`);
  // Device widths.
  await page.click('.seg-btn[data-device="phone"]');
  assert.equal(Math.round((await frameEl.boundingBox()).width), 375);
  await page.click('.seg-btn[data-device="tablet"]');
  assert.equal(Math.round((await frameEl.boundingBox()).width), 768);
  await page.click('.seg-btn[data-device="desktop"]');
  // Remote images: off by default, a toggle turns them on for this message.
  await page.click('label.switch');
  assert.equal(await frameEl.getAttribute('src'), `view/${id}.html?remote=1`);
  // It is marked read, in the list too.
  await page.waitForSelector(`.row:not(.is-unread) .row-link[href="#m=${id}"]`);
  // The headers of the message.
  assert.equal(await page.textContent('#msg-subject'), 'Welcome to Acme, Dana! Please confirm your email');
  // Text.
  await page.click('#tab-text');
  assert.match(await page.textContent('#panel-text pre'), /Thanks for signing up/);
  assert.equal(await page.getAttribute('#panel-text a', 'href'), 'https://acme.example/confirm?t=abc123');
  // Source with line numbers.
  await page.click('#tab-source');
  await page.waitForSelector('.source-code');
  assert.match(await page.textContent('.source-code'), /^From: Acme <noreply@acme\.example>/m);
  assert.match(await page.textContent('.source-gutter'), /^1\n2\n3\n/);
  // Headers, every one.
  await page.click('#tab-headers');
  await page.waitForSelector('.hdr-table');
  const headers = await page.$$eval('.hdr-table tr', (trs) => trs.map((tr) => tr.cells[0].firstChild.textContent));
  const lower = headers.map((n) => n.toLowerCase());
  for (const name of ['from', 'to', 'subject', 'x-mailer', 'list-unsubscribe', 'message-id']) assert.ok(lower.includes(name), `header ${name} in ${headers}`);
  // Parts: the inline logo, with a download link.
  await page.click('#tab-parts');
  assert.equal(await page.textContent('.part-name'), 'cid:logo@acme');
  assert.match(await page.getAttribute('.part a[download]', 'href'), new RegExp(`^api/v1/message/${id}/part/`));
  // Envelope: HELO, MAIL FROM, every RCPT TO (the one in no header is marked Bcc), client, TLS.
  await page.click('#tab-envelope');
  const env = await page.textContent('.env');
  assert.match(env, /browser-tests\.local/);
  assert.match(env, /<noreply@acme\.example>/);
  assert.match(env, /dana@example\.comTo/);
  assert.match(env, /audit@acme\.exampleBcc/);
  assert.match(env, /127\.0\.0\.1/);
  assert.match(env, /TLSNo/);
  // The .eml download link.
  assert.equal(await page.getAttribute('a[download$=".eml"]', 'href'), `api/v1/message/${id}/raw?dl=1`);
  assert.deepEqual(problems, []);
  await page.context().close();
});
