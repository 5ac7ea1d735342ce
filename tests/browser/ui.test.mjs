// Keyboard, themes, and the UI under a path prefix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, sendOne, buildMessage, apiJson, visibleRows, cspViolations } from './helpers.mjs';
import { welcome } from './samples.mjs';

const browser = await launch();

function mail(subject) {
  return { from: 'app@example.com', to: ['user@example.com'], data: buildMessage({ subject, text: `${subject} body` }) };
}

const cursorSubject = (page) => page.$eval('.row.is-cursor .row-subject', (s) => s.textContent).catch(() => null);

test('keyboard: j/k and arrows move, Enter opens, ? shows the cheat sheet, Escape closes, Delete deletes, / searches', async () => {
  const server = await startServer();
  await sendAll(server, [mail('Oldest'), mail('Middle'), mail('Newest')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  assert.equal(await cursorSubject(page), null);
  await page.keyboard.press('j');
  assert.equal(await cursorSubject(page), 'Newest');
  await page.keyboard.press('j');
  assert.equal(await cursorSubject(page), 'Middle');
  await page.keyboard.press('ArrowDown');
  assert.equal(await cursorSubject(page), 'Oldest');
  await page.keyboard.press('j'); // stays on the last
  assert.equal(await cursorSubject(page), 'Oldest');
  await page.keyboard.press('k');
  assert.equal(await cursorSubject(page), 'Middle');
  // The cursor row has the keyboard focus, with a visible focus ring.
  assert.equal(await page.evaluate(() => document.activeElement.closest('.row')?.querySelector('.row-subject').textContent), 'Middle');
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');

  await page.keyboard.press('Enter');
  await page.waitForSelector('#msg-subject');
  assert.equal(await page.textContent('#msg-subject'), 'Middle');
  // With a message open, j/k show the next one.
  await page.keyboard.press('j');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Oldest');
  await page.keyboard.press('k');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Middle');
  // Tabs by number.
  await page.keyboard.press('3');
  assert.equal(await page.getAttribute('#tab-source', 'aria-selected'), 'true');
  await page.keyboard.press('2');
  assert.equal(await page.getAttribute('#tab-text', 'aria-selected'), 'true');

  // ? opens the cheat sheet, Escape closes it (and only it).
  await page.keyboard.press('?');
  await page.waitForSelector('#help-dialog[open]');
  assert.match(await page.textContent('#help-dialog'), /Keyboard shortcuts/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('#help-dialog:not([open])', { state: 'attached' });
  assert.equal(await page.textContent('#msg-subject'), 'Middle');

  // Delete removes the open message and shows the next one.
  await page.keyboard.press('Delete');
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not(.is-loading)')].length === 2);
  assert.deepEqual((await visibleRows(page)).map((r) => r.subject), ['Newest', 'Oldest']);
  assert.equal((await apiJson(server, '/api/v1/messages')).total, 2);
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Oldest');

  // Escape closes the message; u toggles read; / focuses the search box.
  await page.keyboard.press('Escape');
  await page.waitForSelector('#message', { state: 'hidden' });
  assert.equal(await cursorSubject(page), 'Oldest');
  await page.keyboard.press('u');
  await page.waitForSelector('.row.is-cursor.is-unread');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
  // Typing in the box does not trigger shortcuts.
  await page.keyboard.type('j?');
  assert.equal(await page.inputValue('#search'), 'j?');
  assert.equal(await page.locator('#help-dialog[open]').count(), 0);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('dark mode follows prefers-color-scheme, the toggle switches and is remembered', async () => {
  const server = await startServer();
  await sendOne(server, mail('Theme test'));
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  const { page, problems } = await openPage(browser, `${server.base}/`, { context });
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const rowBg = () => page.$eval('.row', (r) => getComputedStyle(r).backgroundColor);
  await page.waitForSelector('.row:not(.is-loading)');
  assert.equal(await bg(), 'rgb(15, 17, 21)');
  assert.equal(await rowBg(), 'rgb(20, 23, 29)');
  // Text is light on dark.
  assert.equal(await page.$eval('.row-subject', (s) => getComputedStyle(s).color), 'rgb(231, 233, 238)');

  await page.click('#theme-toggle');
  assert.equal(await bg(), 'rgb(255, 255, 255)');
  assert.equal(await page.evaluate(() => localStorage.getItem('mailsnare.theme')), 'light');
  await page.reload();
  await page.waitForSelector('html[data-ready="1"]');
  assert.equal(await bg(), 'rgb(255, 255, 255)', 'the choice survives a reload');
  // Switching back to the system's scheme follows the system again.
  await page.keyboard.press('t');
  assert.equal(await bg(), 'rgb(15, 17, 21)');
  assert.equal(await page.evaluate(() => localStorage.getItem('mailsnare.theme')), null);
  await page.emulateMedia({ colorScheme: 'light' });
  assert.equal(await bg(), 'rgb(255, 255, 255)');
  assert.deepEqual(problems, []);
  await context.close();
});

test('works under --webroot /mail: page, API, live updates and the HTML view', async () => {
  const server = await startServer(['--webroot', '/mail']);
  const redirect = await fetch(`${server.base}/mail`, { redirect: 'manual' });
  assert.equal(redirect.headers.get('location'), '/mail/');
  const { page, problems } = await openPage(browser, `${server.base}/mail/`);
  await page.waitForSelector('#conn[data-state="live"]');
  const id = await sendOne(server, welcome());
  await page.waitForSelector(`.row-link[href="#m=${id}"]`);
  await page.click(`.row-link[href="#m=${id}"]`);
  const frameEl = await page.waitForSelector('iframe.html-frame');
  const frame = await frameEl.contentFrame();
  await frame.waitForSelector('#greeting');
  assert.equal(new URL(frame.url()).pathname, `/mail/view/${id}.html`);
  await frame.waitForFunction(() => document.getElementById('logo').complete);
  assert.ok(await frame.$eval('#logo', (img) => img.naturalWidth) > 0, 'the cid: image loads under the prefix');
  await page.click('#tab-source');
  await page.waitForSelector('.source-code');
  const eml = await page.getAttribute('a[download$=".eml"]', 'href');
  const res = await page.request.get(new URL(eml, page.url()).href);
  assert.equal(res.status(), 200);
  assert.deepEqual(problems, []);
  assert.deepEqual(await cspViolations(page), []);
  await page.context().close();
});

test('the connection state is visible, and the UI reconnects and reloads after the server restarts', async () => {
  const first = await startServer();
  await sendOne(first, mail('From the first run'));
  const { page, problems } = await openPage(browser, `${first.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  assert.equal(await page.textContent('#conn-label'), 'Live');
  await first.stop();
  await page.waitForSelector('#conn:is([data-state="reconnecting"], [data-state="offline"])');
  assert.match(await page.textContent('#conn-label'), /Reconnecting|Offline/);
  // A new server on the same address, with other mail: the UI reconnects and reloads its list.
  const second = await startServer([], { http: `127.0.0.1:${first.httpPort}` });
  await sendOne(second, mail('From the second run'));
  await page.click('#conn').catch(() => {}); // "retry now" (it may already be back)
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 20_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not(.is-loading) .row-subject')].map((s) => s.textContent).join() === 'From the second run');
  // And it is live again.
  await sendOne(second, mail('After the reconnect'));
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 2);
  assert.deepEqual(problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)), []);
  await page.context().close();
});

test('opt-in desktop notifications: nothing until the bell is clicked, then one per new message while hidden', async () => {
  const server = await startServer();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['notifications'], { origin: server.base });
  // Record notifications instead of showing them, and let the test say when the tab is hidden.
  await context.addInitScript(() => {
    window.__notes = [];
    window.__hidden = false;
    Object.defineProperty(document, 'hidden', { get: () => window.__hidden });
    class FakeNotification {
      static permission = 'granted';
      static requestPermission() { return Promise.resolve('granted'); }
      constructor(title, options) { window.__notes.push({ title, body: options?.body }); }
      close() {}
    }
    window.Notification = FakeNotification;
  });
  const { page, problems } = await openPage(browser, `${server.base}/`, { context });
  await page.waitForSelector('#conn[data-state="live"]');
  await page.evaluate(() => { window.__hidden = true; });
  await sendOne(server, mail('Before opting in'));
  await page.waitForSelector('.row:not(.is-loading)');
  await page.waitForTimeout(800);
  assert.deepEqual(await page.evaluate(() => window.__notes), []);
  assert.equal(await page.getAttribute('#notify-toggle', 'aria-pressed'), 'false');
  await page.click('#notify-toggle');
  assert.equal(await page.getAttribute('#notify-toggle', 'aria-pressed'), 'true');
  await sendOne(server, { from: 'ci@example.com', to: ['qa@example.com'], data: buildMessage({ from: 'CI <ci@example.com>', subject: 'Deploy finished', text: 'ok' }) });
  await page.waitForFunction(() => window.__notes.length === 1, null, { timeout: 5000 });
  assert.deepEqual(await page.evaluate(() => window.__notes), [{ title: 'CI', body: 'Deploy finished' }]);
  // Visible tab: no notification (the list shows it).
  await page.evaluate(() => { window.__hidden = false; });
  await sendOne(server, mail('While looking'));
  await page.waitForFunction(() => document.querySelectorAll('.row:not(.is-loading)').length === 3);
  await page.waitForTimeout(800);
  assert.equal(await page.evaluate(() => window.__notes.length), 1);
  assert.deepEqual(problems, []);
  await context.close();
});
