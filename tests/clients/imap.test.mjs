// IMAP through imapflow (the IMAP client many Node mail tools use): open INBOX, fetch envelope,
// source and body structure, set \Seen (the API shows it read), see a new SMTP message arrive
// while imapflow idles (its `exists` event), MOVE between tag folders (the tags change), MOVE out
// of INBOX refused (INBOX is all the mail), and delete (the API no longer has it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { startServer, sendMail } from './server.mjs';

const server = await startServer(['--imap', '127.0.0.1:0']);
const imapPort = Number(/IMAP listening on 127\.0\.0\.1:(\d+)/.exec(server.stderr())?.[1]);

async function api(path, init) {
  const res = await fetch(new URL(path, server.baseURL), init);
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
}

function client() {
  return new ImapFlow({
    host: '127.0.0.1',
    port: imapPort,
    secure: false,
    auth: { user: 'tester', pass: 'anything' },
    logger: false,
  });
}

/** Resolves with the next `event` the client emits, or rejects after `ms`. */
function next(emitter, event, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (data) => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

test('imapflow reads, flags, idles, moves between tag folders and deletes', async () => {
  assert.ok(imapPort > 0, `no IMAP port in:\n${server.stderr()}`);
  const first = await sendMail(server, {
    from: 'Ann <ann@example.com>',
    to: 'bob@example.org',
    subject: 'hello imapflow',
    text: 'plain part',
    html: '<p>html part</p>',
  });
  const imap = client();
  await imap.connect();
  const box = await imap.mailboxOpen('INBOX');
  assert.equal(box.exists, 1);

  const msg = await imap.fetchOne('1', { envelope: true, source: true, bodyStructure: true, uid: true });
  assert.equal(msg.uid, 1);
  assert.equal(msg.envelope.subject, 'hello imapflow');
  assert.equal(msg.envelope.from[0].address, 'ann@example.com');
  assert.equal(msg.bodyStructure.type, 'multipart/alternative');
  assert.deepEqual(msg.bodyStructure.childNodes.map((n) => n.type), ['text/plain', 'text/html']);
  const raw = Buffer.from(await (await fetch(new URL(`/api/v1/message/${first.id}/raw`, server.baseURL))).arrayBuffer());
  assert.ok(msg.source.equals(raw), 'the source is the stored bytes');

  await imap.messageFlagsAdd('1', ['\\Seen']);
  const list = await api('/api/v1/messages');
  assert.equal(list.messages[0].Read, true);

  // imapflow idles on its own when nothing else runs; mail over SMTP must wake it.
  const exists = next(imap, 'exists');
  const idling = imap.idle();
  await sendMail(server, { from: 'carl@example.net', to: 'bob@example.org', subject: 'during idle', text: 'x' });
  const seen = await exists;
  assert.equal(seen.count, 2);
  assert.equal(seen.prevCount, 1);

  const moved = await imap.messageMove('1', 'Archive');
  assert.ok(!moved, 'MOVE to a folder that does not exist is refused');
  assert.equal((await api('/api/v1/messages')).total, 2);

  // Tag folders: the first message gets tag a, the second tag b (folder b exists only while a
  // message carries the tag), then the first moves from folder a to folder b.
  const secondId = (await api('/api/v1/messages')).messages.find((m) => m.Subject === 'during idle').ID;
  for (const [tag, id] of [['a', first.id], ['b', secondId]]) {
    const res = await fetch(new URL('/api/v1/tags', server.baseURL), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Tags: [tag], IDs: [id] }),
    });
    assert.equal(res.status, 200);
  }
  const fromInbox = await imap.messageMove('1', 'a');
  assert.ok(!fromInbox, 'MOVE out of INBOX is refused: it holds every message');
  const boxA = await imap.mailboxOpen('a');
  assert.equal(boxA.exists, 1);
  const move = await imap.messageMove('1', 'b');
  assert.ok(move, 'MOVE between tag folders works');
  assert.equal(move.destination, 'b');
  assert.equal(move.uidMap?.size, 1, 'COPYUID maps the UID');
  assert.deepEqual((await api(`/api/v1/message/${first.id}`)).Tags, ['b']);
  const folders = (await imap.list()).map((f) => f.path).sort();
  assert.deepEqual(folders, ['INBOX', 'b'], 'folder a went with its last message');
  await imap.mailboxOpen('INBOX');

  assert.ok(await imap.messageDelete('1'));
  const after = await api('/api/v1/messages');
  assert.equal(after.total, 1);
  assert.equal(after.messages[0].Subject, 'during idle');

  await imap.logout();
  await idling.catch(() => {});
});
