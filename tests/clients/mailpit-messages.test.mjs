// The npm `mailpit-api` client (MailpitClient) against a real mailsnare: mail goes in over SMTP
// with nodemailer, and everything is read back through the client's own methods.

import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MailpitClient } from 'mailpit-api';
import { assertStoredAsSent, startServer, sendMail, buildRaw, sendRaw, binaryFixture, PNG_1x1 } from './server.mjs';

const server = await startServer();
const mp = new MailpitClient(server.baseURL);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BINARY = binaryFixture();
const UTF8_SUBJECT = 'Grüße aus Köln ✓ — 日本語';
const RICH_TEXT = 'Hello Bob,\nthe report is attached.\nÜnïcödé line: Käsekuchen\n';

/** Text with CRLF/CR line ends folded to LF, for comparing decoded bodies. */
const lf = (s) => s.replace(/\r\n?/g, '\n');

const richMail = () => ({
  from: 'Alice Example <alice@example.com>',
  to: 'Bob <bob@example.net>',
  cc: 'carol@example.org',
  bcc: 'hidden@example.net',
  replyTo: 'Replies <replies@example.com>',
  subject: UTF8_SUBJECT,
  text: RICH_TEXT,
  html: '<p>Hello <b>Bob</b></p><p><img src="cid:logo@mailsnare" alt="logo"></p>',
  headers: { 'X-Test': ['one', 'two'] },
  attachments: [
    { filename: 'data.bin', content: BINARY, contentType: 'application/octet-stream' },
    { filename: 'logo.png', content: PNG_1x1, contentType: 'image/png', cid: 'logo@mailsnare' },
  ],
});

beforeEach(async () => {
  await mp.deleteMessages();
});

test('listMessages: MessagesSummary envelope, counts, newest first, paging', async () => {
  for (const subject of ['first', 'second', 'third']) {
    await sendMail(server, {
      from: 'Alice <alice@example.com>',
      to: 'Bob <bob@example.net>',
      subject,
      text: `body of the ${subject} message`,
    });
  }
  const list = await mp.listMessages();
  assert.equal(list.total, 3);
  assert.equal(list.messages_count, 3);
  assert.equal(list.count, 3);
  assert.equal(list.unread, 3);
  assert.equal(list.start, 0);
  assert.ok(Array.isArray(list.tags), 'tags is an array');
  assert.deepEqual(list.messages.map((m) => m.Subject), ['third', 'second', 'first']);
  const created = list.messages.map((m) => Date.parse(m.Created));
  assert.ok(created.every((t) => Number.isFinite(t)), `Created parses: ${list.messages.map((m) => m.Created)}`);
  assert.ok(created[0] >= created[1] && created[1] >= created[2], 'Created is newest first');
  const m = list.messages[2];
  assert.match(m.ID, UUID);
  assert.equal(m.Read, false);
  assert.deepEqual(m.From, { Name: 'Alice', Address: 'alice@example.com' });
  assert.deepEqual(m.To, [{ Name: 'Bob', Address: 'bob@example.net' }]);
  assert.deepEqual(m.Cc, []);
  assert.deepEqual(m.Bcc, []);
  assert.deepEqual(m.ReplyTo, []);
  assert.deepEqual(m.Tags, []);
  assert.equal(m.Attachments, 0);
  assert.ok(m.Size > 100, `Size ${m.Size}`);
  assert.match(m.Snippet, /body of the first message/);

  const page = await mp.listMessages(1, 1);
  assert.equal(page.total, 3);
  assert.equal(page.start, 1);
  assert.equal(page.count, 1);
  assert.deepEqual(page.messages.map((x) => x.Subject), ['second']);
});

test('getMessageSummary: addresses, Bcc from the envelope, decoded bodies, attachments and inline parts', async () => {
  const sent = await sendMail(server, richMail());
  assert.deepEqual(sent.accepted.sort(), ['bob@example.net', 'carol@example.org', 'hidden@example.net']);

  const list = await mp.listMessages();
  assert.equal(list.total, 1);
  const summary = list.messages[0];
  if (sent.id) assert.equal(summary.ID, sent.id, 'queued-as id in the SMTP reply is the API ID');
  assert.equal(summary.Attachments, 1, 'the list counts attachments, not inline parts');
  assert.deepEqual(summary.Bcc, [{ Name: '', Address: 'hidden@example.net' }]);

  const msg = await mp.getMessageSummary(summary.ID);
  assert.equal(msg.ID, summary.ID);
  assert.equal(msg.MessageID, sent.messageId.replace(/^<|>$/g, ''));
  assert.equal(msg.Subject, UTF8_SUBJECT);
  assert.deepEqual(msg.From, { Name: 'Alice Example', Address: 'alice@example.com' });
  assert.deepEqual(msg.To, [{ Name: 'Bob', Address: 'bob@example.net' }]);
  assert.deepEqual(msg.Cc, [{ Name: '', Address: 'carol@example.org' }]);
  assert.deepEqual(msg.Bcc, [{ Name: '', Address: 'hidden@example.net' }]);
  assert.deepEqual(msg.ReplyTo, [{ Name: 'Replies', Address: 'replies@example.com' }]);
  assert.equal(msg.ReturnPath, 'alice@example.com');
  assert.equal(lf(msg.Text), RICH_TEXT);
  assert.match(msg.HTML, /<p>Hello <b>Bob<\/b><\/p>/);
  assert.match(msg.HTML, /src="cid:logo@mailsnare"/);
  assert.deepEqual(msg.Tags, []);

  assert.equal(msg.Attachments.length, 1);
  const att = msg.Attachments[0];
  assert.equal(att.PartID, '2');
  assert.equal(att.FileName, 'data.bin');
  assert.equal(att.ContentType, 'application/octet-stream');
  assert.equal(att.Size, BINARY.length);
  assert.equal(att.Checksums.MD5, createHash('md5').update(BINARY).digest('hex'));
  assert.equal(att.Checksums.SHA1, createHash('sha1').update(BINARY).digest('hex'));
  assert.equal(att.Checksums.SHA256, createHash('sha256').update(BINARY).digest('hex'));

  assert.equal(msg.Inline.length, 1);
  const inl = msg.Inline[0];
  assert.equal(inl.PartID, '1.2.2');
  assert.equal(inl.FileName, 'logo.png');
  assert.equal(inl.ContentType, 'image/png');
  assert.equal(inl.ContentID, 'logo@mailsnare');
  assert.equal(inl.Size, PNG_1x1.length);

  // 'latest' is the default id of the client's getters.
  const latest = await mp.getMessageSummary();
  assert.equal(latest.ID, summary.ID);
});

test('getMessageSummary of an unknown ID rejects with 404', async () => {
  await assert.rejects(mp.getMessageSummary('00000000-0000-4000-8000-000000000000'), /Mailpit API Error: 404/);
  await assert.rejects(mp.getMessageSummary('latest'), /Mailpit API Error: 404/, 'latest of an empty store');
});

test('getMessageHeaders: every header, every value, unfolded and not decoded (as Mailpit)', async () => {
  const sent = await sendMail(server, richMail());
  const headers = await mp.getMessageHeaders(sent.id ?? 'latest');
  // The Subject as sent (RFC 2047 words, folded by nodemailer), its lines joined with one space.
  const source = await mp.getMessageSource(sent.id ?? 'latest');
  const folded = source.match(/^Subject: (.*(?:\r\n[ \t].*)*)/m)[1];
  const unfolded = folded.split('\r\n').map((l) => l.trim()).join(' ');
  assert.match(unfolded, /^=\?UTF-8\?/, 'encoded words stay encoded');
  assert.deepEqual(headers.Subject, [unfolded]);
  assert.deepEqual(headers['Return-Path'], ['<alice@example.com>'], 'the trace headers are headers too');
  assert.equal(headers.Received.length, 1);
  assert.deepEqual(headers['X-Test'], ['one', 'two']);
  assert.deepEqual(headers.From, ['Alice Example <alice@example.com>']);
  assert.deepEqual(headers.To, ['Bob <bob@example.net>']);
  assert.deepEqual(headers.Cc, ['carol@example.org']);
  // Keys are canonicalised as Go's textproto does (Mailpit's wire form): Message-ID -> Message-Id.
  assert.deepEqual(headers['Message-Id'], [sent.messageId]);
  assert.deepEqual(headers['Mime-Version'], ['1.0']);
  // nodemailer sends no Bcc header over SMTP; the store names the envelope-only recipient in one.
  assert.deepEqual(headers.Bcc, ['hidden@example.net']);
  assert.ok(source.startsWith('Return-Path: <alice@example.com>\r\nReceived: '), source.slice(0, 200));
  for (const [name, values] of Object.entries(headers)) {
    assert.ok(Array.isArray(values) && values.every((v) => typeof v === 'string'), `${name}: ${JSON.stringify(values)}`);
  }
  const keys = Object.keys(headers);
  assert.deepEqual(keys, [...keys].sort(), 'mailpit-api documents header keys as returned alphabetically');
});

test('getMessageSource: the bytes exactly as sent, dot-unstuffed', async () => {
  const raw = await buildRaw({
    ...richMail(),
    text: 'Line one\n.leading dot must survive\n..two dots\n.\nend\n',
  });
  const envelope = { from: 'alice@example.com', to: ['bob@example.net', 'hidden@example.net'] };
  const sent = await sendRaw(server, raw, envelope);
  const source = await mp.getMessageSource(sent.id ?? 'latest');
  const crlfEnd = (s) => (s.endsWith('\r\n') ? s : `${s}\r\n`);
  assertStoredAsSent(assert, crlfEnd(source), crlfEnd(raw.toString('latin1')), {
    from: 'alice@example.com',
    bcc: ['hidden@example.net'],
  });
  assert.match(source, /\r\n\.leading dot must survive\r\n\.\.two dots\r\n\.\r\nend\r\n/);
  assert.match(source, /Content-Disposition: attachment; filename=data\.bin/);

  // The same message through the summary: Bcc is the envelope recipient that no header names.
  const msg = await mp.getMessageSummary(sent.id ?? 'latest');
  assert.deepEqual(msg.Bcc, [{ Name: '', Address: 'hidden@example.net' }]);
  assert.deepEqual(msg.Cc, [{ Name: '', Address: 'carol@example.org' }], 'Cc header counts even if not in the envelope');
  assert.equal(lf(msg.Text), 'Line one\n.leading dot must survive\n..two dots\n.\nend\n');
});

test('getMessageAttachment: decoded bytes and Content-Type of the attachment and the inline image', async () => {
  await sendMail(server, richMail());
  const msg = await mp.getMessageSummary('latest');
  const [att] = msg.Attachments;
  const blob = await mp.getMessageAttachment(msg.ID, att.PartID);
  assert.match(blob.type, /^application\/octet-stream/);
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), BINARY);

  const [inl] = msg.Inline;
  const png = await mp.getMessageAttachment('latest', inl.PartID);
  assert.match(png.type, /^image\/png/);
  assert.deepEqual(Buffer.from(await png.arrayBuffer()), PNG_1x1);

  await assert.rejects(mp.getMessageAttachment(msg.ID, '9.9'), /Mailpit API Error: 404/);
});

test('searchMessages: words in decoded bodies, to:, subject:, negation, no match', async () => {
  await sendMail(server, {
    from: 'shop@example.com',
    to: 'x@example.net',
    subject: 'Your order',
    text: 'We shipped the pineapple today.',
  });
  await sendMail(server, {
    from: 'boss@example.com',
    to: 'Why <y@example.net>',
    subject: 'Quarterly Report',
    text: 'Numbers inside.',
  });
  await sendMail(server, {
    from: 'bakery@example.com',
    to: 'z@example.net',
    subject: 'Rezept',
    text: 'Zutaten für den Käsekuchen: Quark, Eier, Zucker. '.repeat(3),
    textEncoding: 'base64',
  });

  const subjects = (r) => r.messages.map((m) => m.Subject).sort();

  let r = await mp.searchMessages({ query: 'pineapple' });
  assert.equal(r.messages_count, 1);
  assert.deepEqual(subjects(r), ['Your order']);
  assert.equal(r.total, 3, 'total is the number stored, messages_count the matches');

  r = await mp.searchMessages({ query: 'to:y@example.net' });
  assert.deepEqual(subjects(r), ['Quarterly Report']);

  r = await mp.searchMessages({ query: 'subject:quarterly' });
  assert.deepEqual(subjects(r), ['Quarterly Report']);

  r = await mp.searchMessages({ query: 'KÄSEKUCHEN' });
  assert.deepEqual(subjects(r), ['Rezept'], 'search runs over the base64-decoded body, case-insensitively');

  r = await mp.searchMessages({ query: '-pineapple' });
  assert.deepEqual(subjects(r), ['Quarterly Report', 'Rezept']);

  r = await mp.searchMessages({ query: 'from:nobody@nowhere.example' });
  assert.equal(r.messages_count, 0);
  assert.deepEqual(r.messages, []);

  r = await mp.searchMessages({ query: 'example.net', limit: 2 });
  assert.equal(r.messages_count, 3);
  assert.equal(r.messages.length, 2);
  assert.deepEqual(r.messages.map((m) => m.Subject), ['Rezept', 'Quarterly Report']);

  // The client's own polling helper, built on searchMessages + getMessageSummary.
  const found = await mp.waitForMessage({ query: 'subject:"Your order"' }, { timeout: 2000, interval: 100 });
  assert.match(found.Text, /pineapple/);
});

test('read state: getMessageSummary marks read, setReadStatus by IDs, by Search and for all', async () => {
  const one = await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'one', text: '1' });
  const two = await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'two', text: '2' });
  const list0 = await mp.listMessages();
  assert.equal(list0.unread, 2);
  const id = (subject, list) => list.messages.find((m) => m.Subject === subject).ID;
  const id1 = one.id ?? id('one', list0);
  const id2 = two.id ?? id('two', list0);

  await mp.getMessageSummary(id1);
  let list = await mp.listMessages();
  assert.equal(list.unread, 1);
  assert.equal(list.messages.find((m) => m.ID === id1).Read, true);
  assert.equal(list.messages.find((m) => m.ID === id2).Read, false);
  assert.equal((await mp.getInfo()).Unread, 1);

  // Headers, source and parts do not mark read.
  await mp.getMessageHeaders(id2);
  await mp.getMessageSource(id2);
  assert.equal((await mp.listMessages()).unread, 1);

  assert.equal(await mp.setReadStatus({ IDs: [id1], Read: false }), 'ok');
  assert.equal((await mp.listMessages()).unread, 2);

  assert.equal(await mp.setReadStatus({ Read: true }), 'ok');
  list = await mp.listMessages();
  assert.equal(list.unread, 0);
  assert.ok(list.messages.every((m) => m.Read));

  assert.equal(await mp.setReadStatus({ Search: 'subject:two', Read: false }), 'ok');
  list = await mp.listMessages();
  assert.equal(list.unread, 1);
  assert.equal(list.messages.find((m) => m.ID === id2).Read, false);
  const unread = await mp.searchMessages({ query: 'is:unread' });
  assert.deepEqual(unread.messages.map((m) => m.ID), [id2]);

  assert.equal(await mp.setReadStatus(), 'ok', 'no IDs, no Search, Read defaults to false: all unread');
  assert.equal((await mp.listMessages()).unread, 2);
});

test('deleteMessages by IDs, then all', async () => {
  for (const subject of ['keep-1', 'drop', 'keep-2']) {
    await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject, text: subject });
  }
  const before = await mp.listMessages();
  assert.equal(before.total, 3);
  const drop = before.messages.find((m) => m.Subject === 'drop').ID;

  const body = await mp.deleteMessages({ IDs: [drop] });
  assert.equal(body, 'ok', 'with a body, DELETE /api/v1/messages answers Mailpit\'s ok');
  const after = await mp.listMessages();
  assert.equal(after.total, 2);
  assert.deepEqual(after.messages.map((m) => m.Subject), ['keep-2', 'keep-1']);
  await assert.rejects(mp.getMessageSummary(drop), /Mailpit API Error: 404/);

  // Without a body the answer is empty: the route is shared with MailHog clients, which parse it.
  assert.equal(await mp.deleteMessages(), '');
  const empty = await mp.listMessages();
  assert.equal(empty.total, 0);
  assert.deepEqual(empty.messages, []);
  assert.equal((await mp.getInfo()).Messages, 0);
});

test('deleteMessagesBySearch deletes only the matches', async () => {
  await sendMail(server, { from: 'spam@junk.example', to: 'b@example.com', subject: 'junk 1', text: 'buy now' });
  await sendMail(server, { from: 'friend@example.com', to: 'b@example.com', subject: 'hello', text: 'how are you' });
  await sendMail(server, { from: 'spam@junk.example', to: 'b@example.com', subject: 'junk 2', text: 'buy more' });
  assert.equal(await mp.deleteMessagesBySearch({ query: 'from:junk.example' }), 'ok');
  const left = await mp.listMessages();
  assert.deepEqual(left.messages.map((m) => m.Subject), ['hello']);
  assert.equal(left.total, 1);
});
