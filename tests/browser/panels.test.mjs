// The settings dialog's Chaos and About panels: Mailpit's chaos triggers and MailHog's Jim shown
// and edited (the server's refusals said inline), and what the server is and how it is doing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, apiJson, shot } from './helpers.mjs';

const browser = await launch();

const json = (method, body) => ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/** Jim is off: MailHog answers GET /api/v2/jim with a bare 404, which the browser logs. */
const jimOff404 = (p) => /status of 404 \(Not Found\).*\/api\/v2\/jim/.test(p);

async function openPanel(page, name) {
  await page.click('#settings-open');
  await page.waitForSelector('#settings-dialog[open]');
  await page.click(`#settings-tab-${name}`);
  assert.equal(await page.getAttribute(`#settings-tab-${name}`, 'aria-selected'), 'true');
}

test('settings: the chaos panel shows and edits Mailpit’s triggers and MailHog’s Jim; refusals are said inline', async () => {
  const server = await startServer();
  await apiJson(server, '/api/v1/chaos', json('PUT', { Sender: { ErrorCode: 550, Probability: 30 } }));
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await openPanel(page, 'chaos');
  await page.waitForFunction(() => document.getElementById('chaos-sender-code')?.value === '550');
  // Labelled fields: each says which trigger and what it is.
  const senderCode = page.getByRole('spinbutton', { name: 'Error code' }).first();
  assert.equal(await senderCode.getAttribute('id'), 'chaos-sender-code');
  assert.equal(await page.inputValue('#chaos-sender-prob'), '30');
  assert.equal(await page.inputValue('#chaos-recipient-code'), '451');
  assert.equal(await page.inputValue('#chaos-recipient-prob'), '0');
  assert.equal(await page.inputValue('#chaos-authentication-code'), '535');
  assert.equal(await page.locator('#chaos-recipient').getByRole('spinbutton', { name: 'Probability (%)' }).count(), 1);

  await page.fill('#chaos-recipient-code', '452');
  await page.fill('#chaos-recipient-prob', '40');
  await page.click('#chaos-save');
  await page.waitForFunction(() => document.getElementById('chaos-status').textContent === 'Saved');
  assert.deepEqual(await apiJson(server, '/api/v1/chaos'), {
    Sender: { ErrorCode: 550, Probability: 30 },
    Recipient: { ErrorCode: 452, Probability: 40 },
    Authentication: { ErrorCode: 535, Probability: 0 },
  });

  // The server's reason, under the form, and the field it names marked.
  await page.fill('#chaos-authentication-prob', '150');
  await page.press('#chaos-authentication-prob', 'Enter');
  await page.waitForSelector('#chaos-error:not([hidden])');
  assert.match(await page.textContent('#chaos-error'), /Authentication\.Probability must be 0–100/);
  assert.equal(await page.getAttribute('#chaos-authentication-prob', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#chaos-recipient-prob', 'aria-invalid'), null);
  assert.equal((await apiJson(server, '/api/v1/chaos')).Authentication.Probability, 0);
  await page.fill('#chaos-sender-code', '200');
  await page.fill('#chaos-authentication-prob', '5');
  await page.click('#chaos-save');
  await page.waitForFunction(() => /Sender\.ErrorCode must be a 4xx or 5xx/.test(document.getElementById('chaos-error').textContent));
  await page.fill('#chaos-sender-code', '421');
  await page.click('#chaos-save');
  await page.waitForSelector('#chaos-error', { state: 'hidden' });
  assert.deepEqual((await apiJson(server, '/api/v1/chaos')).Sender, { ErrorCode: 421, Probability: 30 });
  await page.click('#chaos-off');
  await page.waitForFunction(() => document.getElementById('chaos-status').textContent === 'Saved');
  const off = await apiJson(server, '/api/v1/chaos');
  assert.deepEqual([off.Sender.Probability, off.Recipient.Probability, off.Authentication.Probability], [0, 0, 0]);

  // Jim: off (MailHog's defaults shown), then on with what the form says.
  const jimSwitch = page.getByRole('switch', { name: 'Jim is on' });
  // The visible switch is the label (the checkbox itself is drawn as its track).
  const flipJim = () => page.click('#jim-form label.switch');
  assert.equal(await jimSwitch.isChecked(), false);
  assert.equal(await page.inputValue('#jim-AcceptChance'), '0.99');
  assert.equal(await page.isDisabled('#jim-save'), true);
  await page.fill('#jim-RejectSenderChance', '0.25');
  await flipJim();
  await page.waitForFunction(() => document.getElementById('jim-status').textContent === 'Jim is on');
  const jim = await apiJson(server, '/api/v2/jim');
  assert.equal(jim.RejectSenderChance, 0.25);
  assert.equal(jim.AcceptChance, 0.99);
  await shot(page, 'settings-chaos');

  await page.fill('#jim-AcceptChance', '0.5');
  await page.click('#jim-save');
  await page.waitForFunction(() => document.getElementById('jim-status').textContent === 'Saved');
  assert.equal((await apiJson(server, '/api/v2/jim')).AcceptChance, 0.5);
  await page.fill('#jim-DisconnectChance', '2');
  await page.click('#jim-save');
  await page.waitForSelector('#jim-error:not([hidden])');
  assert.match(await page.textContent('#jim-error'), /chances must be between 0 and 1/);
  assert.equal(await page.getAttribute('#jim-DisconnectChance', 'aria-invalid'), 'true');
  await page.fill('#jim-LinkSpeedMin', '50000');
  await page.fill('#jim-DisconnectChance', '0.1');
  await page.click('#jim-save');
  await page.waitForFunction(() => /LinkSpeedMin <= LinkSpeedMax/.test(document.getElementById('jim-error').textContent));
  assert.equal(await page.getAttribute('#jim-LinkSpeedMin', 'aria-invalid'), 'true');
  assert.equal((await apiJson(server, '/api/v2/jim')).DisconnectChance, 0.005);

  // Turned off elsewhere: switching off here says what happened and shows the state.
  await fetch(`${server.base}/api/v2/jim`, { method: 'DELETE' });
  await flipJim();
  await page.waitForSelector('#jim-error:not([hidden])');
  assert.match(await page.textContent('#jim-error'), /404/);
  assert.equal(await jimSwitch.isChecked(), false);

  // Turned on elsewhere: shown when the panel is opened again.
  await apiJson(server, '/api/v2/jim', json('POST', { AcceptChance: 0.75 }));
  await page.keyboard.press('Escape');
  await page.waitForSelector('#settings-dialog:not([open])', { state: 'attached' });
  await page.click('#settings-open');
  await page.waitForFunction(() => document.getElementById('jim-enabled').checked);
  assert.equal(await page.getAttribute('#settings-tab-chaos', 'aria-selected'), 'true', 'the dialog opens where it was left');
  assert.equal(await page.inputValue('#jim-AcceptChance'), '0.75');
  await flipJim();
  await page.waitForFunction(() => document.getElementById('jim-status').textContent === 'Jim is off');
  assert.equal((await fetch(`${server.base}/api/v2/jim`)).status, 404);
  assert.deepEqual(problems.filter((p) => !jimOff404(p) && !/status of 400 \(Bad Request\).*\/api\/(v1\/chaos|v2\/jim)/.test(p)), []);
  await page.context().close();
});

test('settings: the panels work by keyboard: tabs with arrows, named fields, visible focus', async () => {
  const server = await startServer();
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.focus('#settings-open');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#settings-dialog[open]');
  await page.focus('#settings-tab-display');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'settings-tab-chaos');
  assert.equal(await page.isVisible('#settings-chaos'), true);
  assert.equal(await page.isVisible('#settings-display'), false);
  await page.waitForFunction(() => document.getElementById('chaos-sender-code')?.value === '451');
  // Tab goes from the tab into the panel's first field.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'chaos-sender-code');
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');
  await page.keyboard.press('Control+a');
  await page.keyboard.type('554');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+a');
  await page.keyboard.type('100');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('chaos-status').textContent === 'Saved');
  assert.deepEqual((await apiJson(server, '/api/v1/chaos')).Sender, { ErrorCode: 554, Probability: 100 });
  await page.focus('#settings-tab-chaos');
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'settings-tab-about');
  await page.waitForSelector('#about-refresh');
  await page.keyboard.press('Home');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'settings-tab-display');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#settings-dialog:not([open])', { state: 'attached' });
  assert.deepEqual(problems.filter((p) => !jimOff404(p)), []);
  await page.context().close();
});

test('settings: the about panel shows the version, counts, runtime stats, listeners and limits', async () => {
  const server = await startServer(['--max-messages', '1234', '--max-recipients', '150', '--idle-timeout', '90s']);
  const ids = await sendAll(server, [1, 2].map((i) => ({
    from: 'app@example.com', to: ['user@example.com'],
    data: buildMessage({ subject: `About ${i}`, text: 'x', headers: i === 1 ? { 'X-Tags': 'one, two' } : {} }),
  })));
  await apiJson(server, '/api/v1/messages', json('PUT', { IDs: [ids[0]], Read: true }));
  const about = await apiJson(server, '/api/v1/about');
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await openPanel(page, 'about');
  await page.waitForSelector('#about-limits');
  const facts = async (id) => page.$$eval(`#${id} dt`, (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));

  assert.match(await page.textContent('#about-version'), new RegExp(`mailsnare ${about.Version.replace(/\./g, '\\.')}`));
  const listeners = await facts('about-listeners');
  assert.match(listeners.SMTP, new RegExp(`127\\.0\\.0\\.1:${server.smtpPort}`));
  assert.match(listeners['Web and API'], new RegExp(`127\\.0\\.0\\.1:${server.httpPort}`));
  const counts = await facts('about-counts');
  // Two messages of about 500 bytes each, with the trace headers the store puts on top.
  assert.match(counts.Stored, /^2 · (\d+ B|\d+\.\d kB)/);
  assert.equal(counts.Unread, '1');
  assert.equal(counts['Tags in use'], '2');
  const runtime = await facts('about-runtime');
  assert.match(runtime['SMTP accepted'], /^2 · /);
  assert.equal(runtime['SMTP rejected'], '0');
  assert.match(runtime.Uptime, /^\d+ s$/);
  assert.match(runtime.Memory, /^\d+(\.\d)? (kB|MB|GB) resident$/);
  const limits = await facts('about-limits');
  assert.equal(limits['Messages kept'], '1,234 · the oldest go first');
  assert.equal(limits['Recipients per message'], '150');
  assert.equal(limits['SMTP idle timeout'], '90 s');
  assert.equal(limits['Message size'], '52 MB');
  assert.equal(limits['SMTP AUTH required'], 'No');
  await shot(page, 'settings-about');

  // Refresh reads it again.
  await sendAll(server, [{ from: 'app@example.com', to: ['user@example.com'], data: buildMessage({ subject: 'Third', text: 'x' }) }]);
  await page.click('#about-refresh');
  await page.waitForFunction(() => /^3 /.test([...document.querySelectorAll('#about-counts dt')].find((dt) => dt.textContent === 'Stored')?.nextElementSibling.textContent || ''));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'about-refresh', 'the focus stays on Refresh');
  assert.match((await facts('about-runtime'))['SMTP accepted'], /^3 · /);

  // A failure is said in the panel.
  await page.route('**/api/v1/info', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"Error":"busy"}' }));
  await page.click('#about-refresh');
  await page.waitForSelector('#about-error');
  assert.match(await page.textContent('#about-error'), /busy/);
  assert.equal(await page.isVisible('#about-limits'), true, 'what could be loaded is still shown');
  assert.deepEqual(problems.filter((p) => !/status of 503/.test(p)), []);
  await page.context().close();
});
