// The mailbox switcher: hidden while there are no mailboxes; listed with unread counts once mail
// makes them; choosing one opens its page (ROOT/mailbox/NAME/, a shareable address) whose list
// and live updates hold that mailbox alone; by keyboard, and at phone width.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, outsideViewport, shot } from './helpers.mjs';

const browser = await launch();

/** Mail for `app+BOX@…`, which the `*=plus` rule routes to mailbox BOX (none: the default). */
const mail = (box, subject) => ({
  from: 'app@example.com',
  to: [box ? `app+${box}@example.com` : 'someone@example.com'],
  data: buildMessage({ subject, text: `${subject} body` }),
});

const options = (page) => page.$$eval('#mailbox-select option', (os) => os.map((o) => `${o.value || '(all)'}=${o.textContent}`));
const count = (page) => page.textContent('#list-count');
const rowSubjects = (page) => page.$$eval('.row:not(.is-loading) .row-subject', (s) => s.map((x) => x.textContent).sort());

test('the switcher lists mailboxes with unread counts, and each mailbox page holds and follows its own mail', async () => {
  const server = await startServer(['--mailbox', '*=plus']);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  // One inbox, no mailboxes: nothing new on screen.
  assert.equal(await page.isHidden('#mailbox-switch'), true);

  await sendAll(server, [mail('alpha', 'Alpha one'), mail('alpha', 'Alpha two'), mail('beta', 'Beta one'), mail(null, 'Plain one')]);
  // The new mail's frames make the switcher look again.
  await page.waitForFunction(() => document.querySelectorAll('#mailbox-select option').length === 3);
  assert.deepEqual(await options(page), ['(all)=All mailboxes', 'alpha=alpha (2 unread)', 'beta=beta (1 unread)']);
  assert.equal(await page.inputValue('#mailbox-select'), '');
  await page.waitForFunction(() => document.getElementById('list-count').textContent.startsWith('4 messages'));

  // Choosing a mailbox opens its page.
  await Promise.all([page.waitForURL(`${server.base}/mailbox/alpha/`), page.selectOption('#mailbox-select', 'alpha')]);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForFunction(() => document.getElementById('list-count').textContent.startsWith('2 messages'));
  assert.deepEqual(await rowSubjects(page), ['Alpha one', 'Alpha two']);
  assert.equal(await page.inputValue('#mailbox-select'), 'alpha');
  assert.match(await page.title(), /alpha · mailsnare/);

  // Live updates are the mailbox's: another mailbox's mail and unrouted mail do not show here.
  await sendAll(server, [mail('beta', 'Beta two'), mail(null, 'Plain two'), mail('alpha', 'Alpha three')]);
  await page.waitForFunction(() => document.getElementById('list-count').textContent.startsWith('3 messages'));
  assert.deepEqual(await rowSubjects(page), ['Alpha one', 'Alpha three', 'Alpha two']);

  // The address can be shared: a message opened here reopens from its link in a new page.
  await page.click('.row:not(.is-loading) .row-link');
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent);
  const link = page.url();
  assert.match(link, /\/mailbox\/alpha\/#m=/);
  const subject = await page.textContent('#msg-subject');
  const other = await openPage(browser, link);
  await other.page.waitForFunction((s) => document.getElementById('msg-subject')?.textContent === s, subject);
  assert.equal(await other.page.inputValue('#mailbox-select'), 'alpha');
  await other.page.context().close();

  // Back to everything, by keyboard: the select is named and reachable with Tab.
  await page.focus('#mailbox-select');
  assert.equal(await page.evaluate(() => document.activeElement.labels?.[0]?.textContent), 'Mailbox');
  await Promise.all([page.waitForURL(`${server.base}/`), page.selectOption('#mailbox-select', '')]);
  await page.waitForFunction(() => document.getElementById('list-count').textContent.startsWith('7 messages'));
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('at 375 px, dark, the switcher fits the top bar beside the search', async () => {
  const server = await startServer(['--mailbox', '*=plus']);
  await sendAll(server, [mail('ci-job-1234', 'A job'), mail('team-payments', 'A team')]);
  const { page, problems } = await openPage(browser, `${server.base}/mailbox/ci-job-1234/`, { viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForFunction(() => !document.getElementById('mailbox-switch').hidden);
  await shot(page, 'phone375-dark-mailbox-switcher');
  assert.deepEqual(await outsideViewport(page, '.topbar *'), []);
  const [sw, search] = await Promise.all([page.$('#mailbox-switch'), page.$('#search')]).then((els) => Promise.all(els.map((e) => e.boundingBox())));
  const apart = sw.x + sw.width <= search.x + 1 || sw.y + sw.height <= search.y + 1 || search.y + search.height <= sw.y + 1;
  assert.ok(apart, `the switcher ${JSON.stringify(sw)} does not overlap the search box ${JSON.stringify(search)}`);
  assert.ok(search.width >= 120, `the search box keeps room to type: ${search.width} px`);
  assert.deepEqual(problems, []);
  await page.context().close();
});
