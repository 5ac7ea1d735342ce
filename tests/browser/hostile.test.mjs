// Captured mail is hostile input. Nothing in it may run, reach the API, or change the UI.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, apiJson, cspViolations } from './helpers.mjs';

const browser = await launch();

const ATTACK = "window.top.document.title='PWNED';parent.pwned=1;top.pwned=1;fetch('/api/v1/messages',{method:'DELETE'})";
const SUBJECT = `<img src=x onerror="${ATTACK}"> <b>bold</b> & "quotes"`;
const HTML = `<!doctype html><html><head>
<meta http-equiv="refresh" content="0;url=javascript:${ATTACK}">
<base href="http://evil.example/">
<script>${ATTACK}</script>
</head><body onload="${ATTACK}">
<h1 id="marker">hostile body rendered</h1>
<img src="x" onerror="${ATTACK}">
<svg onload="${ATTACK}"><circle r="5"/></svg>
<a id="jslink" href="javascript:${ATTACK}">click me</a>
<a id="toplink" href="/api/v1/messages" target="_top">take over the top</a>
<form id="form" action="/api/v1/messages" method="post"><input name="IDs" value="all"><button id="submit">Send</button></form>
<iframe id="inner" src="javascript:parent.parent.pwned=1"></iframe>
<object data="javascript:parent.pwned=1"></object>
<script src="/ui/js/app.js"></script>
</body></html>`;

test('a hostile message executes nothing, reaches nothing and changes nothing outside its frame', async () => {
  const server = await startServer();
  const [hostileId] = await sendAll(server, [
    {
      from: 'evil@example.com', to: ['victim@example.com'],
      data: buildMessage({
        from: `"<script>parent.pwned=2</script>" <evil@example.com>`,
        to: ['victim@example.com'],
        subject: SUBJECT,
        text: `<script>${ATTACK}</script> plain text with markup`,
        html: HTML,
        attachments: [{ name: '<img src=x onerror=alert(1)>.txt', type: 'text/plain', base64: Buffer.from('hi').toString('base64') }],
      }),
    },
    { from: 'ok@example.com', to: ['victim@example.com'], data: buildMessage({ subject: 'An innocent bystander', text: 'still here' }) },
  ]);
  const { page, frameProblems } = await openPage(browser, `${server.base}/`);
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  const popups = [];
  page.context().on('page', (p) => popups.push(p.url()));

  // In the list, the markup is text.
  const row = page.locator(`.row-link[href="#m=${hostileId}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.row-subject').textContent(), SUBJECT);
  assert.equal(await row.locator('.row-from').textContent(), '<script>parent.pwned=2</script>');

  await row.click();
  const frameEl = await page.waitForSelector('iframe.html-frame');
  assert.equal(await frameEl.getAttribute('sandbox'), 'allow-same-origin');
  const frame = await frameEl.contentFrame();
  await frame.waitForSelector('#marker');
  const url = page.url();
  assert.match(url, new RegExp(`#m=${hostileId}$`));
  // The body rendered, but as a document without scripts: its own window shows no trace either.
  assert.equal(await frame.textContent('#marker'), 'hostile body rendered');
  // Clicking what the mail offers does nothing to the UI.
  await frame.click('#jslink').catch(() => {});
  await frame.click('#submit').catch(() => {});
  await frame.click('#toplink').catch(() => {});
  await page.waitForTimeout(1000);

  assert.equal(page.url(), url, 'the top page was not navigated');
  assert.equal(await page.title(), '(1) mailsnare', 'the title is ours: one unread message left');
  assert.doesNotMatch(await page.title(), /PWNED/);
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'parent.pwned was not set');
  assert.deepEqual(dialogs, [], 'no alert() ran');
  assert.deepEqual(popups, [], 'no window was opened');
  // Every message still exists.
  const list = await apiJson(server, '/api/v1/messages');
  assert.equal(list.total, 2, 'the mail was not deleted');
  // The subject, sender and attachment name are shown as text, and no element came from them.
  assert.equal(await page.textContent('#msg-subject'), SUBJECT);
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'no <img> from the subject in the UI');
  assert.equal(await page.locator('body script:not([src])').count(), 0);
  assert.equal(await page.locator('.msg-meta b').count(), 0, 'no <b> from the subject');
  await page.click('#tab-parts');
  assert.equal(await page.textContent('.part-name'), '<img src=x onerror=alert(1)>.txt');
  await page.click('#tab-text');
  assert.match(await page.textContent('#panel-text pre'), /^<script>/);
  // The UI itself saw no policy violation: the blocked attempts all happened inside the frame.
  assert.deepEqual(await cspViolations(page), []);
  // The frame's document is sandboxed too (the server's own CSP), and it is still in place.
  assert.equal(await page.locator('iframe.html-frame').count(), 1);
  assert.equal(await frameEl.getAttribute('sandbox'), 'allow-same-origin');
  const viewRes = await page.request.get(`${server.base}/view/${hostileId}.html`);
  assert.match(viewRes.headers()['content-security-policy'], /sandbox/);
  // The browser refused the payloads inside the frame (so they were there, and were blocked).
  assert.ok(frameProblems.some((p) => /Blocked script execution/.test(p)), 'scripts were blocked in the frame');
  assert.ok(frameProblems.some((p) => /Blocked form submission/.test(p)), 'the form was blocked');
  await page.context().close();
});
