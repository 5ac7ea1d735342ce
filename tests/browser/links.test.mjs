// Links in the HTML preview, from the user's side: a plain click, or Enter on a focused link,
// opens the page in a new tab with no opener (as in Mailpit), the preview stays as it was, and
// the keyboard shortcuts still work afterwards. The sandbox stays closed (boundary.test.mjs
// covers the links that must not open).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launch, openPage, sendAll, buildMessage } from './helpers.mjs';

const browser = await launch(['--host-resolver-rules=MAP shop.test 127.0.0.1']);

/** The page the mail links to: reports whether it got an opener and a referrer. */
async function landingSite() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>landing</title><script>document.title = "landing opener=" + (window.opener !== null) + " referrer=" + (document.referrer !== "")</script><p>Welcome</p>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  return `http://shop.test:${server.address().port}`;
}

test('a link in the preview opens in a new tab with no opener, by click or by Enter, and the shortcuts still work', async () => {
  const site = await landingSite();
  const server = await startServer();
  const html = `<p>Hi Dana,</p><p><a id="confirm" href="${site}/confirm?t=abc">Confirm my email</a></p>
<p><a id="track" href="${site}/track?id=7" target="_blank"><img alt="Track your order" width="120" height="30" src="cid:none"></a></p>`;
  await sendAll(server, [
    { from: 'a@x.example', to: ['b@x.example'], data: buildMessage({ subject: 'Older', text: 'older' }) },
    { from: 'shop@x.example', to: ['dana@x.example'], data: buildMessage({ subject: 'Confirm', html, text: 'confirm' }) },
  ]);
  const { page, context, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.click('.row[aria-posinset="1"] .row-link');
  const frameEl = await page.waitForSelector('iframe.html-frame');
  const frame = await frameEl.contentFrame();
  await frame.waitForSelector('#confirm');
  const previewUrl = frame.url();

  // A plain click.
  const clicked = context.waitForEvent('page');
  await frame.click('#confirm');
  const tab = await clicked;
  await tab.waitForFunction(() => document.title.startsWith('landing'));
  assert.equal(tab.url(), `${site}/confirm?t=abc`);
  assert.equal(await tab.title(), 'landing opener=false referrer=false');
  await tab.close();
  // The preview is untouched (not navigated, not broken), still sandboxed the same way.
  assert.equal(frame.url(), previewUrl);
  assert.equal(await frame.textContent('#confirm'), 'Confirm my email');
  assert.equal(await frameEl.getAttribute('sandbox'), 'allow-same-origin');

  // Enter on a focused link (an image link with target=_blank, as newsletters have them).
  await frame.focus('#track');
  const entered = context.waitForEvent('page');
  await page.keyboard.press('Enter');
  const tab2 = await entered;
  await tab2.waitForFunction(() => document.title.startsWith('landing'));
  assert.equal(tab2.url(), `${site}/track?id=7`);
  assert.equal(await tab2.title(), 'landing opener=false referrer=false');
  await tab2.close();

  // Back in the UI, the keys work although the focus was left in the mail's frame.
  await page.bringToFront();
  await page.keyboard.press('j');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Older');
  assert.deepEqual(problems, []);
  await context.close();
});
