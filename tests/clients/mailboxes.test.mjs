// Parallel CI jobs sharing one server, each isolated in its own mailbox: the job logs in over SMTP
// as itself (nodemailer), and points the unchanged npm clients at /mailbox/<job>: mailpit-api with
// the base URL http://host:8025/mailbox/<job>, blueimp's mailhog with basePath /mailbox/<job>/api.
// Every job sends, waits, asserts and deletes all mid-run while the others do the same; no job may
// ever see another's mail, and one job's delete-all must not touch the others'.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { MailpitClient } from 'mailpit-api';
import mailhog from 'mailhog';
import { startServer } from './server.mjs';

const server = await startServer();
const JOBS = 16;

function transportAs(user) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.smtpPort,
    secure: false,
    ignoreTLS: true,
    auth: { user, pass: 'any' },
    connectionTimeout: 10_000,
    socketTimeout: 20_000,
  });
}

/** Every subject this job can see, through both clients. */
async function seen(mp, mh) {
  const list = await mp.listMessages(0, 500);
  const hog = await mh.messages(0, 500);
  return {
    mailpit: list.messages.map((m) => m.Subject),
    total: list.total,
    mailhog: (hog?.items ?? []).map((m) => m.subject),
  };
}

function assertOnlyOwn(job, view, when) {
  for (const subject of [...view.mailpit, ...view.mailhog]) {
    assert.ok(subject.startsWith(`${job} `), `${job} ${when}: saw another job's mail: ${subject}`);
  }
}

async function runJob(i) {
  const job = `job-${String(i).padStart(2, '0')}`;
  const mp = new MailpitClient(`${server.baseURL}/mailbox/${job}`);
  const mh = mailhog({ host: '127.0.0.1', port: server.httpPort, basePath: `/mailbox/${job}/api` });
  const smtp = transportAs(job);
  try {
    const send = (k) =>
      smtp.sendMail({ from: `${job}@ci.example`, to: `user${k}@app.example`, subject: `${job} message ${k}`, text: `body ${k}` });
    for (let k = 0; k < 3; k++) await send(k);
    // The client's own wait (it polls its search) finds this job's mail, and only it.
    const three = await mp.waitForMessages({ query: `subject:"${job} message"`, count: 3 }, { timeout: 20_000, interval: 50 });
    assert.equal(three.messages_count, 3, `${job}: its three messages`);
    let view = await seen(mp, mh);
    assertOnlyOwn(job, view, 'after sending three');
    assert.equal(view.total, 3, `${job}: the mailbox total counts its own mail alone`);
    assert.equal(view.mailhog.length, 3, `${job}: MailHog's API shows the same three`);

    // Delete all, mid-run, while the other jobs are sending.
    await mp.deleteMessages();
    view = await seen(mp, mh);
    assert.equal(view.total, 0, `${job}: empty after its delete-all`);

    for (let k = 3; k < 5; k++) await send(k);
    const two = await mp.waitForMessages({ count: 2, exact: true }, { timeout: 20_000, interval: 50 });
    assert.equal(two.messages_count, 2);
    const latest = await mp.getMessageSummary('latest');
    assert.equal(latest.Subject, `${job} message 4`);
    view = await seen(mp, mh);
    assertOnlyOwn(job, view, 'at the end');
    assert.deepEqual([...view.mailhog].sort(), [`${job} message 3`, `${job} message 4`]);
    // MailHog's search is scoped too.
    const found = await mh.search(`${job} message`, 'containing');
    assert.equal(found.total, 2, `${job}: MailHog search sees its two`);
    return job;
  } finally {
    smtp.close();
  }
}

test(`${JOBS} concurrent CI jobs, each in its own mailbox, never see each other's mail`, { timeout: 120_000 }, async () => {
  const jobs = await Promise.all(Array.from({ length: JOBS }, (_, i) => runJob(i)));
  assert.equal(jobs.length, JOBS);
  // The root view holds what every mailbox still holds: two per job.
  const root = new MailpitClient(server.baseURL);
  const all = await root.listMessages(0, 1000);
  assert.equal(all.total, JOBS * 2);
  const res = await fetch(`${server.baseURL}/api/v1/mailboxes`);
  const { mailboxes } = await res.json();
  assert.equal(mailboxes.length, JOBS);
  for (const m of mailboxes) assert.equal(m.Total, 2, `${m.Name} holds two`);
  // Delete-all at the root clears every mailbox.
  await root.deleteMessages();
  const after = await new MailpitClient(`${server.baseURL}/mailbox/job-00`).listMessages();
  assert.equal(after.total, 0);
});
