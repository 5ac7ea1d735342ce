// mailpit-api's sendMessage, getInfo, chaos triggers and the rendered views against mailsnare.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import { startServer, sendMail, PNG_1x1 } from './server.mjs';

const server = await startServer();
const mp = new MailpitClient(server.baseURL);

const lf = (s) => s.replace(/\r\n?/g, '\n');

test('getInfo: Version, Messages, Unread and SMTP runtime stats follow what happened', async () => {
  const info0 = await mp.getInfo();
  assert.equal(typeof info0.Version, 'string');
  assert.ok(info0.Version.length > 0);
  assert.equal(info0.Messages, 0);
  assert.equal(info0.Unread, 0);
  assert.equal(typeof info0.RuntimeStats.Uptime, 'number');
  for (const key of ['Memory', 'MessagesDeleted', 'SMTPAccepted', 'SMTPAcceptedSize', 'SMTPRejected']) {
    assert.equal(typeof info0.RuntimeStats[key], 'number', `RuntimeStats.${key}`);
  }

  const a = await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'info 1', text: 'x'.repeat(100) });
  await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'info 2', text: 'y' });
  await mp.getMessageSummary(a.id ?? 'latest');

  const info1 = await mp.getInfo();
  assert.equal(info1.Messages, 2);
  assert.equal(info1.Unread, 1);
  assert.equal(info1.RuntimeStats.SMTPAccepted - info0.RuntimeStats.SMTPAccepted, 2);
  assert.ok(info1.RuntimeStats.SMTPAcceptedSize - info0.RuntimeStats.SMTPAcceptedSize > 200);

  await mp.deleteMessages();
  const info2 = await mp.getInfo();
  assert.equal(info2.Messages, 0);
  assert.equal(info2.Unread, 0);
  assert.equal(info2.RuntimeStats.MessagesDeleted - info1.RuntimeStats.MessagesDeleted, 2);
});

test('sendMessage (POST /api/v1/send) builds a real message that reads back field by field', async () => {
  const attachment = Buffer.from('col1,col2\n1,2\n');
  const res = await mp.sendMessage({
    From: { Email: 'sender@example.com', Name: 'Sénder Name' },
    To: [{ Email: 'to1@example.net', Name: 'To One' }, { Email: 'to2@example.net' }],
    Cc: [{ Email: 'cc@example.net', Name: 'Cee' }],
    Bcc: ['secret@example.net'],
    ReplyTo: [{ Email: 'reply@example.com' }],
    Subject: 'Sent through the API — ✓',
    Text: 'Plain body with ümlauts',
    HTML: '<p>HTML body <img src="cid:pix"></p>',
    Attachments: [
      { Content: attachment.toString('base64'), Filename: 'table.csv', ContentType: 'text/csv' },
      { Content: PNG_1x1.toString('base64'), Filename: 'pix.png', ContentType: 'image/png', ContentID: 'pix' },
    ],
    Tags: ['api', 'Release-1'],
    Headers: { 'X-Campaign': 'spring' },
  });
  assert.match(res.ID, /^[0-9a-f-]{36}$/i);

  const list = await mp.listMessages();
  assert.equal(list.messages[0].ID, res.ID, 'the sent message is the newest');

  const msg = await mp.getMessageSummary(res.ID);
  assert.deepEqual(msg.From, { Name: 'Sénder Name', Address: 'sender@example.com' });
  assert.deepEqual(msg.To, [
    { Name: 'To One', Address: 'to1@example.net' },
    { Name: '', Address: 'to2@example.net' },
  ]);
  assert.deepEqual(msg.Cc, [{ Name: 'Cee', Address: 'cc@example.net' }]);
  assert.deepEqual(msg.Bcc, [{ Name: '', Address: 'secret@example.net' }]);
  assert.deepEqual(msg.ReplyTo, [{ Name: '', Address: 'reply@example.com' }]);
  assert.equal(msg.Subject, 'Sent through the API — ✓');
  assert.equal(lf(msg.Text).trimEnd(), 'Plain body with ümlauts');
  assert.match(msg.HTML, /<p>HTML body <img src="cid:pix"><\/p>/);
  assert.deepEqual([...msg.Tags].sort(), ['Release-1', 'api']);
  assert.equal(msg.Attachments.length, 1);
  assert.equal(msg.Attachments[0].FileName, 'table.csv');
  assert.match(msg.Attachments[0].ContentType, /^text\/csv/);
  assert.equal(msg.Attachments[0].Size, attachment.length);
  assert.equal(msg.Inline.length, 1);
  assert.equal(msg.Inline[0].ContentID, 'pix');

  const blob = await mp.getMessageAttachment(res.ID, msg.Attachments[0].PartID);
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), attachment);

  const headers = await mp.getMessageHeaders(res.ID);
  assert.deepEqual(headers['X-Campaign'], ['spring']);
  // As Mailpit stores sent mail: Return-Path and a Bcc naming the envelope-only recipient on top
  // (no Received: it did not come over SMTP); the built message itself names no Bcc.
  assert.deepEqual(headers.Bcc, ['secret@example.net']);
  const source = await mp.getMessageSource(res.ID);
  const [trace, built] = source.split(/(?<=^(?:[^\r\n]*\r\n){2})/);
  assert.match(trace, /^Return-Path: <[^>]+>\r\nBcc: secret@example\.net\r\n$/);
  assert.ok(!/secret@example\.net/.test(built), 'the Bcc address is nowhere in the built message');

  const byTag = await mp.searchMessages({ query: 'tag:api' });
  assert.deepEqual(byTag.messages.map((m) => m.ID), [res.ID]);
  const byBcc = await mp.searchMessages({ query: 'bcc:secret@example.net' });
  assert.deepEqual(byBcc.messages.map((m) => m.ID), [res.ID]);
});

test('sendMessage with bad input rejects with 400 and a JSON Error', async () => {
  await assert.rejects(
    mp.sendMessage({ To: [{ Email: 'to@example.net' }], Subject: 'no sender' }),
    (err) => /Mailpit API Error: 400/.test(err.message) && /"Error"\s*:\s*"[^"]+"/.test(err.message),
  );
  await assert.rejects(
    mp.sendMessage({ From: { Email: 'a@example.com' }, Subject: 'no recipient' }),
    /Mailpit API Error: 400/,
  );
});

test('renderMessageHTML rewrites cid: to the part route; renderMessageText is the text alone', async () => {
  const sent = await sendMail(server, {
    from: 'a@example.com',
    to: 'b@example.com',
    subject: 'views',
    text: 'The text view.\nSecond line.',
    html: '<html><body><p>See <img src="cid:img1@x"></p></body></html>',
    attachments: [{ filename: 'i.png', content: PNG_1x1, contentType: 'image/png', cid: 'img1@x' }],
  });
  const id = sent.id ?? (await mp.getMessageSummary('latest')).ID;
  const msg = await mp.getMessageSummary(id);
  const partID = msg.Inline[0].PartID;

  const html = await mp.renderMessageHTML(id);
  assert.ok(!html.includes('cid:img1@x'), 'cid: reference rewritten');
  assert.ok(html.includes(`/api/v1/message/${id}/part/${partID}`), `part route in ${html}`);
  assert.match(html, /<p>See <img src="[^"]+"><\/p>/);

  assert.equal(lf(await mp.renderMessageText(id)).trimEnd(), 'The text view.\nSecond line.');
});

const OFF = { ErrorCode: 451, Probability: 0 };
const triggers = (over) => ({ Sender: OFF, Recipient: OFF, Authentication: { ErrorCode: 535, Probability: 0 }, ...over });

test('chaos: full trigger objects set with setChaosTriggers drive SMTP rejections', async () => {
  const initial = await mp.getChaosTriggers();
  for (const key of ['Sender', 'Recipient', 'Authentication']) {
    assert.equal(typeof initial[key].ErrorCode, 'number', `${key}.ErrorCode`);
    assert.equal(initial[key].Probability, 0, `${key} is off at startup`);
  }

  const set = await mp.setChaosTriggers(triggers({ Recipient: { ErrorCode: 550, Probability: 100 } }));
  assert.deepEqual(set.Recipient, { ErrorCode: 550, Probability: 100 });
  assert.deepEqual((await mp.getChaosTriggers()).Recipient, { ErrorCode: 550, Probability: 100 });

  const before = (await mp.getInfo()).Messages;
  await assert.rejects(
    sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'chaos', text: 'x' }),
    (err) => err.responseCode === 550,
  );

  await mp.setChaosTriggers(triggers({ Sender: { ErrorCode: 451, Probability: 100 } }));
  await assert.rejects(
    sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'chaos', text: 'x' }),
    (err) => err.responseCode === 451,
  );
  assert.equal((await mp.getInfo()).Messages, before, 'nothing was stored while chaos rejected');

  const reset = await mp.setChaosTriggers(triggers({}));
  for (const key of ['Sender', 'Recipient', 'Authentication']) assert.equal(reset[key].Probability, 0);
  const ok = await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'after chaos', text: 'x' });
  assert.deepEqual(ok.accepted, ['b@example.com']);
  assert.equal((await mp.getMessageSummary('latest')).Subject, 'after chaos');

  await assert.rejects(
    mp.setChaosTriggers(triggers({ Sender: { ErrorCode: 451, Probability: 101 } })),
    /Mailpit API Error: 400/,
  );
});

test('chaos: setChaosTriggers with omitted triggers resets them to 0% (the client\'s documented use)', async (t) => {
  // mailpit-api: "Omitted triggers will reset to the default 0% probability";
  // `setChaosTriggers()` sends `{}` to reset everything.
  await mp.setChaosTriggers(triggers({ Sender: { ErrorCode: 451, Probability: 100 } }));
  t.after(() => mp.setChaosTriggers(triggers({})));
  const set = await mp.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 100 } });
  assert.deepEqual(set.Recipient, { ErrorCode: 550, Probability: 100 });
  assert.equal(set.Sender.Probability, 0, 'omitted Sender reset to 0%');
  assert.equal(set.Authentication.Probability, 0, 'omitted Authentication reset to 0%');

  const reset = await mp.setChaosTriggers();
  for (const key of ['Sender', 'Recipient', 'Authentication']) assert.equal(reset[key].Probability, 0, key);
  const ok = await sendMail(server, { from: 'a@example.com', to: 'b@example.com', subject: 'after reset', text: 'x' });
  assert.deepEqual(ok.accepted, ['b@example.com']);
});

test('chaos triggers given at startup (--chaos-triggers) show through getChaosTriggers', async () => {
  const other = await startServer(['--chaos-triggers', 'Sender:451:50,Authentication:535:100']);
  const client = new MailpitClient(other.baseURL);
  const t = await client.getChaosTriggers();
  assert.deepEqual(t.Sender, { ErrorCode: 451, Probability: 50 });
  assert.deepEqual(t.Authentication, { ErrorCode: 535, Probability: 100 });
  assert.equal(t.Recipient.Probability, 0);
  await other.stop();
});
