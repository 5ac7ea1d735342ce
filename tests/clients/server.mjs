// Shared helpers for the npm-client end-to-end tests: start the real `mailsnare` binary on
// ephemeral ports, send mail to it with nodemailer, and stop it when the test file ends.
//
// The binary is $MAILSNARE_BIN, else <repo>/target/debug/mailsnare (build it with `cargo build`).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import nodemailer from 'nodemailer';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
export const BIN = process.env.MAILSNARE_BIN || resolve(REPO, 'target', 'debug', 'mailsnare');

const STARTUP_TIMEOUT_MS = 20_000;

/**
 * Starts mailsnare with `--smtp 127.0.0.1:0 --http 127.0.0.1:0` plus `extraArgs`, waits for the
 * `SMTP listening on` and `HTTP listening on` lines on stderr, and registers an `after()` hook
 * that stops it. Resolves to { smtpPort, httpPort, baseURL, stderr(), stop() }.
 */
export async function startServer(extraArgs = [], { env = {} } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`mailsnare binary not found at ${BIN}: run \`cargo build\` or set MAILSNARE_BIN`);
  }
  const child = spawn(BIN, ['--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', ...extraArgs], {
    // No inherited MAILSNARE_*/MP_*/MH_* settings: each test names what it wants.
    env: { ...cleanEnv(process.env), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let exited = null;
  const exitPromise = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolveExit(exited);
    });
  });

  const ports = await new Promise((resolvePorts, reject) => {
    let smtpPort = null;
    let httpPort = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mailsnare did not report both listeners within ${STARTUP_TIMEOUT_MS} ms; stderr:\n${log}`));
    }, STARTUP_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      smtpPort ??= matchPort(log, 'SMTP');
      httpPort ??= matchPort(log, 'HTTP');
      if (smtpPort && httpPort) {
        clearTimeout(timer);
        resolvePorts({ smtpPort, httpPort });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`mailsnare exited (code ${code}, signal ${signal}) before listening; stderr:\n${log}`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exited) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exitPromise;
    clearTimeout(killer);
  };
  after(stop);

  return {
    ...ports,
    baseURL: `http://127.0.0.1:${ports.httpPort}`,
    stderr: () => log,
    stop,
    get exited() {
      return exited;
    },
  };
}

function matchPort(text, kind) {
  const m = new RegExp(`${kind} listening on 127\\.0\\.0\\.1:(\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}

function cleanEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (/^(MAILSNARE_|MP_|MH_)/.test(k) && k !== 'MAILSNARE_BIN') continue;
    out[k] = v;
  }
  return out;
}

/** A nodemailer SMTP transport to the server, plain text, no STARTTLS. */
export function transport(server) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.smtpPort,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
}

/**
 * Sends `mail` (nodemailer message options) over SMTP and returns nodemailer's info, plus `id`:
 * the stored message's ID taken from the `250 ... queued as <id>` reply, when the server gives one.
 */
export async function sendMail(server, mail) {
  const t = transport(server);
  try {
    const info = await t.sendMail(mail);
    const m = /queued as ([0-9a-fA-F-]{36})/.exec(info.response || '');
    return { ...info, id: m ? m[1] : undefined };
  } finally {
    t.close();
  }
}

/**
 * Builds the exact RFC 5322 bytes nodemailer would send for `mail` (CRLF line ends), without a
 * Bcc header. Send them with `sendRaw` to know byte for byte what the server received.
 */
export async function buildRaw(mail) {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const { bcc: _bcc, ...rest } = mail;
  const info = await t.sendMail(rest);
  return info.message;
}

/** Sends prebuilt bytes with an explicit envelope. */
export async function sendRaw(server, raw, envelope) {
  return sendMail(server, { envelope, raw });
}

/**
 * Asserts that `stored` is `sent` exactly, below the trace headers the server puts on top as
 * Mailpit does: Return-Path, Received (over SMTP only) and a Bcc naming the envelope recipients
 * that no header names (`bcc`, when any). Returns the trace block.
 */
export function assertStoredAsSent(assert, stored, sent, { from, bcc = [], smtp = true } = {}) {
  assert.ok(stored.endsWith(sent), `the client's bytes follow unchanged:\n${stored.slice(0, 600)}`);
  const trace = stored.slice(0, stored.length - sent.length);
  const received = smtp
    ? 'Received: from [^\r\n]+\r\n\tby mailsnare \\(mailsnare\\) with E?SMTPS?A? id [0-9a-f-]{36}(\r\n\tfor <[^>]+>)?; [^\r\n]+\r\n'
    : '';
  const bccLine = bcc.length ? `Bcc: ${bcc.join(', ').replace(/[.+]/g, '\\$&')}\r\n` : '';
  const shape = new RegExp(`^Return-Path: <${from.replace(/[.+]/g, '\\$&')}>\r\n${received}${bccLine}$`);
  assert.match(trace, shape, 'the trace headers on top');
  return trace;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once `n` long polls are waiting inside the server (its `mailsnare_waiting_requests`
 * gauge), so a test sends its mail only when the wake-up path is the one that must answer.
 */
export async function untilWaiting(server, n, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(new URL('/metrics', server.baseURL))).text();
    const m = /^mailsnare_waiting_requests (\d+)/m.exec(text);
    const waiting = m ? Number(m[1]) : -1;
    if (waiting === n) return;
    if (Date.now() > deadline) throw new Error(`expected ${n} waiting requests, the server has ${waiting}`);
    await sleep(10);
  }
}

/** Every byte value 0..255 twice, then a few more: binary content no text codec survives. */
export function binaryFixture() {
  const b = Buffer.alloc(600);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** A valid 1x1 PNG. */
export const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
