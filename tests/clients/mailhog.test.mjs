// blueimp's npm `mailhog` client against mailsnare's MailHog-compatible API (/api/v2/messages,
// /api/v2/search, DELETE /api/v1/messages[/{id}]). The client reads the raw MailHog JSON
// (Content.Headers, Content.Body, MIME.Parts) and decodes it itself, so these tests check both the
// shapes it parses and the values it derives from them.

import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import mailhog from 'mailhog';
import { assertStoredAsSent, startServer, sendMail, sendRaw, buildRaw, binaryFixture, PNG_1x1 } from './server.mjs';

const server = await startServer();
const mh = mailhog({ host: '127.0.0.1', port: server.httpPort });

const BINARY = binaryFixture();
// nodemailer sends this one as a single B encoded-word. (The client's header decoder cannot read
// Q-encoded words with '_' for space, nor drop the space between folded encoded-words: those are
// limitations of the client that real MailHog shares, so they are not tested here.)
const UTF8_SUBJECT = 'Köln ✓ 日本語';
const lf = (s) => s.replace(/\r\n?/g, '\n');

beforeEach(async () => {
  await mh.deleteAll();
});

/** The client resolves with the bare IncomingMessage when a response has no body (e.g. a 404). */
function parsed(res, what) {
  assert.ok(!(res instanceof IncomingMessage), `${what}: HTTP ${res.statusCode} with an empty body`);
  return res;
}
const messages = async (...args) => parsed(await mh.messages(...args), 'GET /api/v2/messages');
const search = async (...args) => parsed(await mh.search(...args), 'GET /api/v2/search');

/** DELETE answers: the client resolves with the bare IncomingMessage only when the body is empty. */
function assertEmptyOk(res, what) {
  if (!(res instanceof IncomingMessage)) {
    assert.fail(`${what}: expected an empty body, the client parsed ${JSON.stringify(res)}`);
  }
  assert.equal(res.statusCode, 200, what);
}

test('messages(): envelope, full Message items, newest first, paging', async () => {
  for (const subject of ['first', 'second', 'third']) {
    await sendMail(server, {
      from: 'Alice <alice@example.com>',
      to: 'Bob <bob@example.net>',
      subject,
      text: `body of ${subject}`,
    });
  }
  const res = await messages();
  assert.equal(res.total, 3);
  assert.equal(res.count, 3);
  assert.equal(res.start, 0);
  assert.deepEqual(res.items.map((m) => m.subject), ['third', 'second', 'first']);

  const m = res.items[2];
  // (The client memoizes its getters as own lower-case properties: leave those out.)
  const wireKeys = Object.keys(m).filter((k) => /^[A-Z]/.test(k));
  assert.deepEqual(wireKeys, ['ID', 'From', 'To', 'Content', 'Created', 'MIME', 'Raw'], 'Message keys in order');
  assert.deepEqual(Object.keys(m.Content), ['Headers', 'Body', 'Size', 'MIME'], 'Content keys in order');
  assert.equal(typeof m.ID, 'string');
  assert.ok(m.ID.length > 0);
  assert.deepEqual(m.From, { Relays: null, Mailbox: 'alice', Domain: 'example.com', Params: '' });
  assert.deepEqual(m.To, [{ Relays: null, Mailbox: 'bob', Domain: 'example.net', Params: '' }]);
  assert.deepEqual(m.Content.Headers.Subject, ['first']);
  assert.deepEqual(m.Content.Headers.From, ['Alice <alice@example.com>']);
  assert.deepEqual(m.Content.Headers.To, ['Bob <bob@example.net>']);
  assert.equal(m.Content.MIME, null);
  assert.equal(m.MIME, null, 'a single-part message has no MIME parts');
  assert.equal(m.Raw.From, 'alice@example.com');
  assert.deepEqual(m.Raw.To, ['bob@example.net']);
  assert.equal(typeof m.Raw.Helo, 'string');
  assert.match(m.Raw.Data, /^[\s\S]*\r\nSubject: first\r\n[\s\S]*\r\n\r\nbody of first$/);
  assert.match(m.Created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$/, 'RFC 3339 with fractional seconds');
  assert.ok(Math.abs(m.deliveryDate.getTime() - Date.now()) < 60_000, `deliveryDate ${m.deliveryDate}`);
  // The client's getters over Content.Headers / Content.Body:
  assert.equal(m.from, 'Alice <alice@example.com>');
  assert.equal(m.to, 'Bob <bob@example.net>');
  assert.equal(lf(m.text), 'body of first');
  assert.equal(m.html, undefined);
  assert.ok(m.date instanceof Date && !Number.isNaN(m.date.getTime()), 'Date header parsed');

  const page = await messages(1, 1);
  assert.equal(page.total, 3);
  assert.equal(page.count, 1);
  assert.equal(page.start, 1);
  assert.deepEqual(page.items.map((x) => x.subject), ['second']);

  const past = await messages(5, 10);
  assert.equal(past.total, 3);
  assert.equal(past.count, 0);
  assert.deepEqual(past.items, []);
});

test('Raw.Data is the message as received, Size its length; headers keep case and every value', async () => {
  const raw = await buildRaw({
    from: 'alice@example.com',
    to: 'bob@example.net',
    subject: 'raw check',
    text: 'one\n.dot line\n..two\nlast',
    headers: { 'X-Test': ['one', 'two'] },
  });
  await sendRaw(server, raw, { from: 'alice@example.com', to: ['bob@example.net', 'hidden@example.net'] });
  const [m] = (await messages()).items;
  const sent = raw.toString('latin1').replace(/\r\n$/, '');
  // Raw.Data is the data before the final CRLF.CRLF, dot-unstuffed, below the trace headers.
  const trace = assertStoredAsSent(assert, m.Raw.Data, sent, {
    from: 'alice@example.com',
    bcc: ['hidden@example.net'],
  });
  const size = raw.length + trace.length;
  assert.ok(Math.abs(m.Content.Size - size) <= 2, `Size ${m.Content.Size} vs ${size} bytes stored`);
  assert.deepEqual(m.Raw.To, ['bob@example.net', 'hidden@example.net']);
  assert.deepEqual(m.To.map((p) => `${p.Mailbox}@${p.Domain}`), ['bob@example.net', 'hidden@example.net']);
  assert.deepEqual(m.Content.Headers['X-Test'], ['one', 'two'], 'repeated header keeps every value in order');
  assert.ok('Message-ID' in m.Content.Headers, `header key case as sent: ${Object.keys(m.Content.Headers)}`);
  assert.ok('MIME-Version' in m.Content.Headers, `header key case as sent: ${Object.keys(m.Content.Headers)}`);
  assert.equal(lf(m.Content.Body), 'one\n.dot line\n..two\nlast', 'Body is the raw body after the blank line');
});

test('decode(): UTF-8 subject and a quoted-printable body through the client getters', async () => {
  const text = 'Grüße,\nKäsekuchen für alle — ✓ and a long line that quoted-printable has to wrap because it is much longer than seventy-six characters.';
  await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: UTF8_SUBJECT, text });
  const [m] = (await messages()).items;
  assert.deepEqual(m.Content.Headers.Subject, ['=?UTF-8?B?S8O2bG4g4pyTIOaXpeacrOiqng==?='], 'subject is stored encoded, as sent');
  assert.equal(m.subject, UTF8_SUBJECT);
  assert.deepEqual(m.Content.Headers['Content-Transfer-Encoding'], ['quoted-printable']);
  assert.match(m.Content.Body, /=C3=BC/, 'Body is still transfer-encoded');
  assert.equal(lf(m.text), text);
  assert.equal(lf(mh.decode(m.Content.Body, 'quoted-printable', 'utf-8')), text);
});

test('encode()/decode(): a base64 body equals the client\'s own encoding of the text', async () => {
  const text = 'Base64 body — ünïcödé — '.repeat(8);
  await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'b64', text, textEncoding: 'base64' });
  const [m] = (await messages()).items;
  assert.deepEqual(m.Content.Headers['Content-Transfer-Encoding'], ['base64']);
  assert.equal(m.Content.Body.replace(/\r\n$/, ''), mh.encode(text, 'base64'), 'CRLF-wrapped base64 at 76 columns, as sent');
  assert.equal(mh.decode(m.Content.Body, 'base64'), text);
  assert.equal(m.text, text);
});

test('decode() with a non-UTF-8 charset named in Content.Headers["Content-Type"]', async () => {
  const raw = Buffer.from(
    [
      'From: a@example.com',
      'To: b@example.com',
      'Subject: =?ISO-8859-1?Q?K=E4se?=',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'K=E4se und Br=F6tchen',
      '',
    ].join('\r\n'),
  );
  await sendRaw(server, raw, { from: 'a@example.com', to: ['b@example.com'] });
  const [m] = (await messages()).items;
  assert.equal(m.subject, 'Käse');
  assert.equal(m.text.trimEnd(), 'Käse und Brötchen');
});

test('MIME.Parts: multipart/mixed parts, attachments the client finds and decodes', async () => {
  const notes = 'Notes: ünïcödé\r\nsecond line\r\n';
  await sendMail(server, {
    from: 'a@example.com',
    to: 'b@example.com',
    subject: 'with attachments',
    text: 'See the attachments.',
    attachments: [
      { filename: 'notes.txt', content: Buffer.from(notes), contentType: 'text/plain; charset=utf-8' },
      { filename: 'data.bin', content: BINARY, contentType: 'application/octet-stream' },
    ],
  });
  const [m] = (await messages()).items;
  assert.match(m.Content.Headers['Content-Type'][0], /^multipart\/mixed;/);
  assert.equal(m.Content.MIME, null, 'top-level parts go in MIME.Parts, not Content.MIME');
  assert.equal(m.MIME.Parts.length, 3, `no bogus preamble/epilogue parts: ${m.MIME.Parts.map((p) => JSON.stringify(p.Headers))}`);
  assert.match(m.MIME.Parts[0].Headers['Content-Type'][0], /^text\/plain/);
  assert.equal(m.text.trimEnd(), 'See the attachments.');

  const atts = m.attachments;
  assert.deepEqual(atts.map((a) => a.name), ['notes.txt', 'data.bin']);
  assert.deepEqual(atts.map((a) => a.encoding), ['base64', 'base64']);
  assert.match(atts[0].type, /^text\/plain/);
  assert.match(atts[1].type, /^application\/octet-stream/);
  assert.match(atts[0].Headers['Content-Disposition'][0], /^attachment; filename="?notes\.txt"?$/);
  assert.equal(mh.decode(atts[0].Body, atts[0].encoding), notes);
  assert.deepEqual(Buffer.from(atts[1].Body, 'base64'), BINARY);
});

test('MIME.Parts: nested multiparts live in each part\'s Content.MIME', async () => {
  await sendMail(server, {
    from: 'a@example.com',
    to: 'b@example.com',
    subject: 'rich',
    text: 'plain alternative',
    html: '<p>html alternative <img src="cid:logo@x"></p>',
    attachments: [
      { filename: 'data.bin', content: BINARY, contentType: 'application/octet-stream' },
      { filename: 'logo.png', content: PNG_1x1, contentType: 'image/png', cid: 'logo@x' },
    ],
  });
  const [m] = (await messages()).items;
  // multipart/mixed [ multipart/alternative [ text/plain, multipart/related [ text/html, image/png ] ], data.bin ]
  const top = m.MIME.Parts;
  assert.equal(top.length, 2);
  assert.match(top[0].Headers['Content-Type'][0], /^multipart\/alternative/);
  assert.match(top[1].Headers['Content-Type'][0], /^application\/octet-stream/);
  const alt = top[0].MIME.Parts;
  assert.equal(alt.length, 2);
  assert.match(alt[0].Headers['Content-Type'][0], /^text\/plain/);
  assert.equal(alt[0].Body.trimEnd(), 'plain alternative');
  const related = alt[1].MIME.Parts;
  assert.equal(related.length, 2);
  assert.match(related[0].Headers['Content-Type'][0], /^text\/html/);
  assert.match(related[1].Headers['Content-ID'][0], /^<logo@x>$/);
  assert.deepEqual(Buffer.from(related[1].Body, 'base64'), PNG_1x1);
  assert.deepEqual(m.attachments.map((a) => a.name), ['data.bin'], 'the client lists top-level attachments');
});

test('search() and latestFrom/latestTo/latestContaining', async () => {
  await sendMail(server, {
    from: 'Shop <shop@example.com>',
    to: 'x@example.net',
    subject: 'Your order',
    text: 'We shipped the pineapple today.',
  });
  await sendMail(server, {
    from: 'boss@corp.example',
    to: 'y@example.net',
    cc: 'cc-person@example.org',
    bcc: 'blind@example.org',
    subject: UTF8_SUBJECT,
    text: 'Quarterly numbers',
  });
  await sendMail(server, {
    from: 'bakery@example.com',
    to: 'z@example.net',
    subject: 'Rezept',
    text: 'Zutaten für den Käsekuchen.',
    textEncoding: 'base64',
  });

  let r = await search('pineapple');
  assert.equal(r.total, 1);
  assert.equal(r.count, 1);
  assert.deepEqual(r.items.map((m) => m.subject), ['Your order']);

  r = await search('example.com', 'from');
  assert.deepEqual(r.items.map((m) => m.subject), ['Rezept', 'Your order'], 'newest first');
  assert.equal(r.total, 2);

  r = await search('example.net', 'to', 1, 1);
  assert.equal(r.total, 3);
  assert.equal(r.count, 1);
  assert.equal(r.start, 1);
  assert.equal(r.items[0].subject, UTF8_SUBJECT);

  assert.equal((await mh.latestFrom('BOSS@corp.example')).subject, UTF8_SUBJECT, 'case-insensitive');
  assert.equal((await mh.latestTo('blind@example.org')).subject, UTF8_SUBJECT, 'envelope-only (Bcc) recipient');
  assert.equal((await mh.latestTo('cc-person@example.org')).subject, UTF8_SUBJECT, 'Cc recipient');
  assert.equal((await mh.latestContaining('Köln')).subject, UTF8_SUBJECT, 'decoded subject');
  assert.equal((await mh.latestContaining('Käsekuchen')).subject, 'Rezept', 'base64-decoded body');
  assert.equal(await mh.latestFrom('nobody@nowhere.example'), 0, 'no match: the client resolves count 0');

  const bad = await fetch(`${server.baseURL}/api/v2/search?kind=subject&query=x`);
  assert.equal(bad.status, 400, 'unknown kind');
  const empty = await fetch(`${server.baseURL}/api/v2/search?kind=from&query=`);
  assert.equal(empty.status, 400, 'empty query');
});

test('deleteMessage(id) removes one message with an empty 200; unknown id is 404', async () => {
  for (const subject of ['keep', 'drop']) {
    await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject, text: subject });
  }
  const before = await messages();
  assert.equal(before.total, 2);
  const drop = before.items.find((m) => m.subject === 'drop');
  assertEmptyOk(await mh.deleteMessage(drop.ID), 'DELETE /api/v1/messages/{id}');
  const after = await messages();
  assert.equal(after.total, 1);
  assert.deepEqual(after.items.map((m) => m.subject), ['keep']);

  const again = await fetch(`${server.baseURL}/api/v1/messages/${encodeURIComponent(drop.ID)}`, { method: 'DELETE' });
  assert.equal(again.status, 404);
});

test('deleteAll() empties the store with an empty 200', async () => {
  for (const subject of ['a', 'b', 'c']) {
    await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject, text: subject });
  }
  assert.equal((await messages()).total, 3);
  assertEmptyOk(await mh.deleteAll(), 'DELETE /api/v1/messages');
  const res = await messages();
  assert.equal(res.total, 0);
  assert.equal(res.count, 0);
  assert.deepEqual(res.items, []);
});
