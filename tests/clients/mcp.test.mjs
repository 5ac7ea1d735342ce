// The MCP endpoint (/mcp) through the official MCP TypeScript SDK's client over Streamable HTTP:
// initialize, list the tools, call each one, and the HTTP auth and origin policy refusing what
// they refuse for every other route.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import nodemailer from 'nodemailer';
import { startServer, sendMail } from './server.mjs';

async function connect(url, requestInit) {
  const client = new Client({ name: 'mailsnare-tests', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit }));
  return client;
}

/** A tool's JSON text result, parsed; fails the test on a tool error. */
async function call(client, name, args = {}) {
  const result = await client.callTool({ name, arguments: args });
  assert.notEqual(result.isError, true, `${name}: ${JSON.stringify(result.content)}`);
  assert.equal(result.content[0].type, 'text');
  return JSON.parse(result.content[0].text);
}

const signup = {
  from: 'App <app@example.com>',
  to: 'alice@example.com',
  subject: 'Confirm your account',
  text: 'Your verification code is 482913.\nConfirm: https://app.test/confirm?t=abc',
  html: '<p>Your verification code is <b>482913</b>.</p><a href="https://app.test/confirm?t=abc">Confirm my address</a>',
};

test('an MCP client lists the tools and does sign-up, wait, link, read, list and delete', async () => {
  const server = await startServer();
  const client = await connect(`${server.baseURL}/mcp`);
  assert.equal(client.getServerVersion()?.name, 'mailsnare');
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(),
    ['delete_messages', 'extract_links_and_codes', 'get_message', 'list_messages', 'wait_for_message']);
  for (const t of tools) assert.ok(t.description.length > 20, `${t.name} says what it does`);

  // The agent starts waiting before the app sends.
  const waiting = call(client, 'wait_for_message', { query: 'to:alice@example.com', timeout_seconds: 20 });
  await sendMail(server, { from: 'x@example.com', to: 'bob@example.com', subject: 'Not this one', text: 'hi' });
  await sendMail(server, signup);
  const found = await waiting;
  assert.equal(found.Message.Subject, 'Confirm your account');
  assert.equal(found.Links[0].URL, 'https://app.test/confirm?t=abc');
  assert.equal(found.Links[0].Text, 'Confirm my address');
  assert.equal(found.Codes[0].Code, '482913');
  const id = found.Message.ID;

  const extracted = await call(client, 'extract_links_and_codes', { id });
  assert.deepEqual(extracted.Codes.map((c) => c.Code), ['482913']);

  const message = await call(client, 'get_message', { id, max_chars: 30 });
  assert.equal(message.Subject, 'Confirm your account');
  assert.equal(message.Text.length, 30, 'bounded as asked');
  assert.equal(message.TextTruncated, true);
  assert.match(message.HTMLAsText, /verification code/);
  assert.deepEqual(message.Envelope.RcptTo, ['alice@example.com']);
  assert.ok(message.Headers.some(([name]) => name === 'Subject'));

  const listed = await call(client, 'list_messages', { query: 'subject:confirm' });
  assert.equal(listed.Total, 1);
  assert.equal(listed.Messages[0].ID, id);
  assert.equal(listed.Messages[0].Read, true, 'get_message marked it read');
  assert.equal((await call(client, 'list_messages')).Total, 2);

  // Errors are tool errors, not protocol failures.
  const bad = await client.callTool({ name: 'get_message', arguments: { id: 'not-an-id' } });
  assert.equal(bad.isError, true);
  const late = await client.callTool({ name: 'wait_for_message', arguments: { query: 'to:nobody@example.com', timeout_seconds: 0 } });
  assert.equal(late.isError, true);
  assert.match(late.content[0].text, /no matching message/);

  assert.deepEqual(await call(client, 'delete_messages', { ids: [id] }), { Deleted: 1 });
  assert.deepEqual(await call(client, 'delete_messages', { all: true }), { Deleted: 1 });
  assert.equal((await call(client, 'list_messages')).Total, 0);
  await client.close();
});

test('under /mailbox/NAME/mcp an agent sees that mailbox only', async () => {
  const server = await startServer();
  // SMTP AUTH as job7 routes the mail to mailbox job7 (the default rule).
  const asJob = nodemailer.createTransport({ host: '127.0.0.1', port: server.smtpPort, secure: false, ignoreTLS: true, auth: { user: 'job7', pass: 'x' } });
  await asJob.sendMail(signup);
  asJob.close();
  await sendMail(server, { from: 'x@example.com', to: 'bob@example.com', subject: 'Root only', text: 'hi' });
  const client = await connect(`${server.baseURL}/mailbox/job7/mcp`);
  const listed = await call(client, 'list_messages');
  assert.deepEqual(listed.Messages.map((m) => m.Subject), ['Confirm your account']);
  await client.close();
});

test('/mcp needs the HTTP credentials and refuses other sites, as every route does', async () => {
  const server = await startServer(['--http-auth', 'agent:secret']);
  await assert.rejects(connect(`${server.baseURL}/mcp`), /401|Unauthorized|authentication required/);
  const auth = { headers: { Authorization: `Basic ${Buffer.from('agent:secret').toString('base64')}` } };
  const client = await connect(`${server.baseURL}/mcp`, auth);
  assert.equal((await call(client, 'list_messages')).Total, 0);
  await client.close();
  // A page on another site posting to it (a browser adds these headers) is refused.
  const response = await fetch(`${server.baseURL}/mcp`, {
    method: 'POST',
    headers: { ...auth.headers, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  assert.equal(response.status, 403);
});
