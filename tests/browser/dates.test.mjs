// Dates say which they are: the list shows when each message was received (absolute, to the
// second; relative is a setting), the message shows its Date header and its arrival, labelled,
// and says so when the Date header is missing or far from the arrival.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage } from './helpers.mjs';

const browser = await launch();

test('the list shows absolute received times; relative times are a remembered setting', async () => {
  const server = await startServer();
  await sendAll(server, [{ from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'Timed', text: 'x' }) }]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('.row:not(.is-loading)');
  const time = await page.$eval('.row-time', (t) => ({ text: t.textContent, title: t.title, label: getComputedStyle(t, '::before').content }));
  assert.match(time.text, /^\d{1,2}:\d{2}:\d{2}/, 'absolute, with seconds');
  assert.match(time.title, /^Received /);
  assert.match(time.label, /\/ "Received "$/, 'labelled for screen readers (generated alt text)');
  await page.click('#settings-open');
  await page.check('#settings-dialog input[value="relative"]');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.querySelector('.row-time').textContent === 'just now');
  await page.reload();
  await page.waitForSelector('.row:not(.is-loading)');
  assert.equal(await page.textContent('.row-time'), 'just now', 'the setting is remembered');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the message labels Date and Received, and warns when the Date header is missing or far off', async () => {
  const server = await startServer();
  const hours = (n) => new Date(Date.now() - n * 3600_000);
  const [normal, missing, skewed] = await sendAll(server, [
    { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'On time', text: 'x' }) },
    { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'No date', text: 'x', date: null }) },
    { from: 'a@example.com', to: ['b@example.com'], data: buildMessage({ subject: 'Wrong zone', text: 'x', date: hours(3) }) },
  ]);
  const { page, problems } = await openPage(browser, `${server.base}/#m=${normal}`);
  const meta = async () => page.$$eval('.msg-meta dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'On time');
  let m = await meta();
  assert.ok(m.Date && m.Received, `Date and Received are both shown: ${Object.keys(m)}`);
  assert.equal(await page.locator('#date-warning').count(), 0);

  // No Date header: said, not papered over with the arrival time.
  await page.evaluate((id) => { location.hash = `#m=${id}`; }, missing);
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'No date');
  m = await meta();
  assert.match(m.Date, /\(none\)/);
  assert.match(m.Date, /No Date header/);
  assert.match(m.Received, /\d{4}/);

  // Three hours off (a time-zone bug): shown, and flagged.
  await page.evaluate((id) => { location.hash = `#m=${id}`; }, skewed);
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Wrong zone');
  assert.match(await page.textContent('#date-warning'), /^3 h before it was received$/);
  assert.deepEqual(problems, []);
  await page.context().close();
});
