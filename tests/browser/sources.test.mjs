// How a message is written: the HTML part decoded (no quoted-printable =3D or soft line breaks)
// and highlighted, and the headers in the order they were received, with A–Z as an option.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendOne, buildMessage, shot } from './helpers.mjs';

const browser = await launch();

const HTML = `<!doctype html>
<html><head><style>.btn { color: #fff; background: #0f766e; }</style></head>
<body><!-- header -->
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding: 24px 16px; font-family: Helvetica, Arial, sans-serif">
<h1 class="title">Welcome to Acme &amp; friends, Dana — thanks for signing up!</h1>
<a class="btn" href="https://acme.example/confirm?token=abc123&amp;utm_source=mail&amp;utm_campaign=welcome-series-2025">Confirm my email</a>
</td></tr></table></body></html>`;

test('the HTML source view shows the HTML part decoded and highlighted', async () => {
  const server = await startServer();
  const id = await sendOne(server, {
    from: 'app@acme.example', to: ['dana@example.com'],
    data: buildMessage({ subject: 'Welcome', text: 'Welcome!', html: HTML, qp: true }),
  });
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-source');
  // The raw message is quoted-printable, as sent.
  await page.waitForSelector('.source-code');
  assert.match(await page.textContent('.source-code'), /href=3D"https:\/\/acme\.example/);
  // The HTML source is what the template produced.
  await page.click('#source-view [data-value="html"]');
  await page.waitForSelector('#html-source');
  const text = await page.$$eval('#html-source .src-line', (lines) => lines.map((l) => l.textContent.replace(/\u200b/g, '')).join('\n'));
  assert.equal(text, HTML);
  assert.doesNotMatch(text, /=3D|=\r?\n/);
  // Highlighted: tags, attributes, values, entities and comments are told apart.
  const kinds = await page.$$eval('#html-source [class^="hl-"]', (spans) => {
    const out = {};
    for (const s of spans) (out[s.className] ||= []).push(s.textContent);
    return out;
  });
  assert.ok(kinds['hl-tag'].includes('a') && kinds['hl-tag'].includes('table'), `tags: ${kinds['hl-tag']}`);
  assert.ok(kinds['hl-attr'].includes('href'));
  assert.ok(kinds['hl-value'].some((v) => v.startsWith('"https://acme.example/confirm?token=abc123')));
  assert.ok(kinds['hl-entity'].includes('&amp;'));
  assert.deepEqual(kinds['hl-comment'], ['<!-- header -->']);
  assert.ok(kinds['hl-raw'][0].includes('.btn { color: #fff'));
  // Nothing of the mail became an element of the UI.
  assert.equal(await page.locator('#html-source a, #html-source table, #html-source style').count(), 0);
  // Lines are numbered; long ones wrap (a setting).
  assert.equal(await page.$$eval('#html-source .src-line', (l) => l.length), HTML.split('\n').length);
  assert.equal(await page.$eval('#html-source', (el) => getComputedStyle(el).whiteSpace), 'pre-wrap');
  await shot(page, 'wide1440-light-html-source-qp');
  // The choice is remembered for the next message.
  await page.reload();
  await page.waitForSelector('#html-source');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the Headers tab lists the headers as received, with A–Z as an option', async () => {
  const server = await startServer();
  const raw = [
    'Received: from app.internal (app.internal [10.0.0.5]) by mx.acme.example; Mon, 3 Mar 2025 10:00:01 +0000',
    'X-Zulu: last in the alphabet, first in the message',
    'From: Acme <app@acme.example>',
    'To: dana@example.com',
    'Subject: =?UTF-8?B?SGVhZGVycyDinJQ=?=',
    'Date: Mon, 3 Mar 2025 10:00:00 +0000',
    'Message-ID: <order-test@acme.example>',
    'X-Alpha: folded',
    '  onto a second line',
    'Received: from laptop (laptop [10.0.0.9]) by app.internal; Mon, 3 Mar 2025 09:59:59 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Order matters.',
    '',
  ].join('\r\n');
  const id = await sendOne(server, { from: 'app@acme.example', to: ['dana@example.com'], data: raw });
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-headers');
  await page.waitForSelector('#hdr-table');
  const rows = () => page.$$eval('#hdr-table tr', (trs) => trs.map((tr) => [tr.cells[0].firstChild.textContent, tr.cells[1].textContent]));
  const received = await rows();
  // In the order of the message, top first; folded lines unfolded, encoded words decoded; the
  // server's own trace header (prepended on arrival) may come first.
  const names = received.map(([n]) => n).filter((n) => !/^(Return-Path|X-Mailsnare)/i.test(n));
  const start = names.indexOf('X-Zulu') - 1;
  assert.ok(start >= 0, `headers: ${names}`);
  assert.deepEqual(names.slice(start), ['Received', 'X-Zulu', 'From', 'To', 'Subject', 'Date', 'Message-ID', 'X-Alpha', 'Received', 'MIME-Version', 'Content-Type']);
  assert.deepEqual(received.find(([n]) => n === 'Subject'), ['Subject', 'Headers ✔']);
  assert.deepEqual(received.find(([n]) => n === 'X-Alpha'), ['X-Alpha', 'folded  onto a second line']);
  await shot(page, 'wide1440-light-headers-received');
  // A–Z, as the server sorts them.
  await page.click('#headers-order [data-value="sorted"]');
  await page.waitForFunction(() => {
    const names = [...document.querySelectorAll('#hdr-table tr th')].map((th) => th.firstChild.textContent);
    return names.length > 0 && names.every((n, i) => i === 0 || names[i - 1].localeCompare(n, undefined, { sensitivity: 'base' }) <= 0);
  });
  const sorted = (await rows()).map(([n]) => n);
  assert.deepEqual(sorted, [...sorted].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' })));
  assert.ok(sorted.indexOf('X-Alpha') < sorted.indexOf('X-Zulu'));
  assert.deepEqual(problems, []);
  await page.context().close();
});
