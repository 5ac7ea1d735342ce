// The smaller things a long-time Mailpit user reaches for: a resizable list, remote images
// remembered (off by default), "Mark all read" in words, the preview's own light/dark switch,
// and the Envelope tab read from its own route.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, sendOne, buildMessage, shot } from './helpers.mjs';

const browser = await launch();

const mail = (subject, extra = {}) => ({ from: 'app@example.com', to: ['dev@example.com'], data: buildMessage({ subject, text: subject, ...extra }) });

test('the list column can be resized by dragging or with the keyboard, and keeps its width', async () => {
  const server = await startServer();
  await sendAll(server, [mail('One'), mail('Two')]);
  const { page, problems } = await openPage(browser, `${server.base}/`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('.row:not(.is-loading)');
  const width = () => page.$eval('#list-pane', (el) => Math.round(el.getBoundingClientRect().width));
  const start = await width();
  const handle = await page.$('#splitter');
  const box = await handle.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + 200);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 180, box.y + 200, { steps: 6 });
  await page.mouse.up();
  const dragged = await width();
  assert.ok(Math.abs(dragged - (start + 180)) <= 3, `${start} + 180 → ${dragged}`);
  // The rows follow the new width.
  assert.ok(await page.$eval('.row', (r) => r.getBoundingClientRect().width) > start + 150);
  await page.focus('#splitter');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await width(), dragged - 48);
  assert.equal(await page.getAttribute('#splitter', 'aria-valuenow'), String(dragged - 48));
  await page.reload();
  await page.waitForSelector('.row:not(.is-loading)');
  assert.equal(await width(), dragged - 48, 'remembered');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('remote images are off by default, and the choice is remembered in this browser', async () => {
  const server = await startServer();
  const html = '<p>Hello</p><img src="https://images.example/banner.png" alt="banner">';
  const [a, b] = await sendAll(server, [mail('First', { html }), mail('Second', { html })]);
  const { page, problems } = await openPage(browser, `${server.base}/#m=${a}`);
  const frame = await page.waitForSelector('iframe.html-frame');
  assert.equal(await frame.getAttribute('src'), `view/${a}.html`);
  assert.equal(await page.isChecked('#remote-toggle'), false);
  await page.click('label.switch');
  assert.equal(await frame.getAttribute('src'), `view/${a}.html?remote=1`);
  // Another message, and a reload: still on.
  await page.evaluate((id) => { location.hash = `#m=${id}`; }, b);
  await page.waitForFunction((id) => document.querySelector('iframe.html-frame')?.getAttribute('src') === `view/${id}.html?remote=1`, b);
  await page.reload();
  await page.waitForFunction((id) => document.querySelector('iframe.html-frame')?.getAttribute('src') === `view/${id}.html?remote=1`, b);
  // A fresh browser profile starts with them off again.
  const fresh = await openPage(browser, `${server.base}/#m=${b}`);
  await fresh.page.waitForSelector('iframe.html-frame');
  assert.equal(await fresh.page.getAttribute('iframe.html-frame', 'src'), `view/${b}.html`);
  await fresh.page.context().close();
  // (The remote image, once allowed, is really fetched: its name does not resolve here.)
  assert.deepEqual(problems.filter((p) => !/ERR_NAME_NOT_RESOLVED \(https:\/\/images\.example\//.test(p)), []);
  await page.context().close();
});

test('"Mark all read" is a labelled button, at desktop and phone widths', async () => {
  const server = await startServer();
  await sendAll(server, [mail('One'), mail('Two')]);
  for (const viewport of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
    const { page, problems } = await openPage(browser, `${server.base}/`, { viewport });
    await page.waitForSelector('.row:not(.is-loading)');
    const label = await page.$eval('#all-read', (b) => b.innerText.trim());
    assert.equal(label, 'Mark all read', `at ${viewport.width} px`);
    assert.deepEqual(problems, []);
    await page.context().close();
  }
});

const DARK_AWARE = `<!doctype html><html><head><meta name="color-scheme" content="light dark">
<style>body { background: #ffffff; color: #111111; } @media (prefers-color-scheme: dark) { body { background: #101418; color: #e8e8e8; } .logo-light { display: none; } }
@media (prefers-color-scheme: light) { .logo-dark { display: none; } }</style></head>
<body><h1 id="title">Weekly news</h1><a id="link" href="https://news.example/read">Read online</a>
<span class="logo-light" id="logo-light">light logo</span><span class="logo-dark" id="logo-dark">dark logo</span></body></html>`;

test('the preview has its own light/dark switch; the UI theme no longer decides how the mail looks', async () => {
  const server = await startServer();
  const id = await sendOne(server, mail('Newsletter', { html: DARK_AWARE }));
  const plain = await sendOne(server, mail('Plain', { html: '<p id="p">No dark design here</p>' }));
  // A dark UI (the system prefers dark).
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`, { colorScheme: 'dark', viewport: { width: 1440, height: 900 } });
  const frame = await (await page.waitForSelector('iframe.html-frame')).contentFrame();
  await frame.waitForSelector('#title');
  const look = () => frame.evaluate(() => ({
    bg: getComputedStyle(document.body).backgroundColor,
    link: getComputedStyle(document.getElementById('link')).color,
    light: getComputedStyle(document.getElementById('logo-light')).display,
    dark: getComputedStyle(document.getElementById('logo-dark')).display,
  }));
  // Light by default, as the mail's own light design, whatever the UI's theme.
  await page.waitForFunction(() => document.querySelector('.html-stage')?.dataset.scheme === 'light');
  let l = await look();
  assert.equal(l.bg, 'rgb(255, 255, 255)');
  assert.equal(l.link, 'rgb(0, 0, 238)', 'links are the light scheme’s blue on white');
  assert.deepEqual([l.light, l.dark], ['inline', 'none']);
  await shot(page, 'wide1440-dark-newsletter-preview-light');
  // Dark: the mail's dark-mode styles apply.
  await page.click('#preview-scheme [data-value="dark"]');
  await page.waitForFunction(() => document.querySelector('.html-stage')?.dataset.scheme === 'dark');
  l = await look();
  assert.equal(l.bg, 'rgb(16, 20, 24)');
  assert.deepEqual([l.light, l.dark], ['none', 'inline']);
  await shot(page, 'wide1440-dark-newsletter-preview-dark');
  // A mail with no dark design is shown as it is, and the switch says why nothing changed.
  await page.evaluate((m) => { location.hash = `#m=${m}`; }, plain);
  const f2 = await (await page.waitForSelector('iframe.html-frame')).contentFrame();
  await f2.waitForSelector('#p');
  await page.waitForSelector('.scheme-note:not([hidden])');
  assert.equal(await f2.evaluate(() => getComputedStyle(document.body).color), 'rgb(0, 0, 0)');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the Envelope tab reads the envelope route (the message JSON need not carry it)', async () => {
  const server = await startServer();
  const id = await sendOne(server, { from: 'noreply@acme.example', to: ['dana@example.com', 'audit@acme.example'], data: buildMessage({ from: 'Acme <noreply@acme.example>', to: ['Dana <dana@example.com>'], subject: 'Env', text: 'x' }) });
  const { page, problems } = await openPage(browser, `${server.base}/`);
  // The message JSON as it will be: no Envelope key.
  await page.route(`**/api/v1/message/${id}`, async (route) => {
    const res = await route.fetch();
    const json = await res.json();
    delete json.Envelope;
    await route.fulfill({ response: res, json });
  });
  await page.evaluate((m) => { location.hash = `#m=${m}`; }, id);
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-envelope');
  const env = await page.textContent('.env');
  assert.match(env, /browser-tests\.local/);
  assert.match(env, /<noreply@acme\.example>/);
  assert.match(env, /audit@acme\.exampleBcc/);
  assert.deepEqual(problems, []);
  await page.context().close();
});
