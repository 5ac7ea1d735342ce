// EXT: the long poll GET /api/v1/message/latest?query=…&wait=SECONDS[&since=…]. mailpit-api has
// no method for it (its waitForMessage polls searchMessages), so these use raw fetch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import { startServer, sendMail, untilWaiting } from './server.mjs';

const server = await startServer();
const mp = new MailpitClient(server.baseURL);

function waitFor(query, wait, extra = {}) {
  const url = new URL('/api/v1/message/latest', server.baseURL);
  url.searchParams.set('query', query);
  url.searchParams.set('wait', String(wait));
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  const started = performance.now();
  return fetch(url).then(async (res) => ({
    status: res.status,
    body: await res.text(),
    at: performance.now(),
    elapsed: performance.now() - started,
  }));
}

test('a waiting request resolves with the matching mail within moments of its arrival', async () => {
  const pending = waitFor('subject:"long poll target"', 5);
  let settled = false;
  pending.then(() => (settled = true));
  await untilWaiting(server, 1);
  // A non-matching message must not release the waiter.
  await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'unrelated', text: 'x' });
  await untilWaiting(server, 1);
  assert.equal(settled, false, 'the request is still waiting after a non-matching mail');

  const sent = await sendMail(server, {
    from: 'a@example.com',
    to: 'b@example.com',
    subject: 'long poll target',
    text: 'arrived',
  });
  const sentAt = performance.now();
  const res = await pending;
  assert.equal(res.status, 200, res.body);
  const msg = JSON.parse(res.body);
  assert.equal(msg.Subject, 'long poll target');
  if (sent.id) assert.equal(msg.ID, sent.id);
  assert.match(msg.Text, /arrived/);
  const lag = res.at - sentAt;
  // Released by the arrival, long before its 5 s wait would have ended.
  assert.ok(lag < 1500, `answered ${lag.toFixed(0)} ms after the mail was accepted`);
  await untilWaiting(server, 0);
});

test('a wait with no matching mail answers 404 after about the wait time', async () => {
  const res = await waitFor('subject:"never sent anywhere"', 2);
  assert.equal(res.status, 404, res.body);
  assert.ok(res.elapsed >= 1900, `gave up after ${res.elapsed.toFixed(0)} ms, expected ~2000`);
  assert.ok(res.elapsed < 3500, `gave up after ${res.elapsed.toFixed(0)} ms, expected ~2000`);
});

test('a mail stored before the request answers at once', async () => {
  await sendMail(server, { from: 'early@example.com', to: 'b@example.com', subject: 'already here', text: 'x' });
  const res = await waitFor('from:early@example.com', 5);
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).Subject, 'already here');
  assert.ok(res.elapsed < 1000, `took ${res.elapsed.toFixed(0)} ms`);
});

test('since=<ID> ignores the match already stored and waits for a newer one', async () => {
  const first = await sendMail(server, { from: 'a@example.com', to: 'since@example.net', subject: 'since one', text: 'x' });
  const firstID = first.id ?? (await mp.searchMessages({ query: 'subject:"since one"' })).messages[0].ID;

  const pending = waitFor('to:since@example.net', 5, { since: firstID });
  // Waiting: the match already stored did not answer it.
  await untilWaiting(server, 1);
  const sentAt = performance.now();
  await sendMail(server, { from: 'a@example.com', to: 'since@example.net', subject: 'since two', text: 'x' });
  const res = await pending;
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).Subject, 'since two');
  assert.ok(res.at - sentAt < 1500, 'released by the arrival');

  const none = await waitFor('to:since@example.net', 1, { since: JSON.parse(res.body).ID });
  assert.equal(none.status, 404, none.body);
});

test('many concurrent waiters are all released by one matching mail', async () => {
  const waiters = Array.from({ length: 20 }, () => waitFor('subject:"fan out"', 5));
  await untilWaiting(server, 20);
  const sentAt = performance.now();
  await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'fan out', text: 'x' });
  const results = await Promise.all(waiters);
  assert.ok(results.every((r) => r.at - sentAt < 1500), 'all released by the one arrival');
  assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
  assert.ok(results.every((r) => JSON.parse(r.body).Subject === 'fan out'));
});

test('the waited-for message is then readable through the client, marked read', async () => {
  const pending = waitFor('subject:"read after wait"', 5);
  await untilWaiting(server, 1);
  await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'read after wait', text: 'x' });
  const res = await pending;
  assert.equal(res.status, 200, res.body);
  const { ID } = JSON.parse(res.body);
  const list = await mp.searchMessages({ query: 'subject:"read after wait"' });
  assert.deepEqual(list.messages.map((m) => [m.ID, m.Read]), [[ID, true]]);
});

test('a malformed wait value is a 400', async () => {
  const res = await waitFor('subject:x', 'soon');
  assert.equal(res.status, 400, res.body);
});
