// Shared helpers for the browser tests: start the real mailsnare binary on ephemeral ports, send
// mail to it over SMTP (a tiny pipelining client, no dependencies), and drive Debian's Chromium
// with playwright-core. No browser is ever downloaded: CHROMIUM (default /usr/bin/chromium) is used.
//
// The binary is $MAILSNARE_BIN, else <repo>/target/debug/mailsnare (build it with `cargo build`).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
export const BIN = process.env.MAILSNARE_BIN || resolve(REPO, 'target', 'debug', 'mailsnare');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = resolve(here, 'screenshots');

const STARTUP_TIMEOUT_MS = 20_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts mailsnare on 127.0.0.1:0 (SMTP and HTTP) plus `extraArgs`, waits for the two
 * "… listening on ADDR" lines on stderr and stops it when the test file ends.
 */
export async function startServer(extraArgs = [], { http = '127.0.0.1:0' } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`mailsnare binary not found at ${BIN}: run \`cargo build\` or set MAILSNARE_BIN`);
  }
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(MAILSNARE_|MP_|MH_)/.test(k)) continue;
    env[k] = v;
  }
  const child = spawn(BIN, ['--smtp', '127.0.0.1:0', '--http', http, ...extraArgs], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let exited = null;
  const exit = new Promise((r) => child.on('exit', (code, signal) => r((exited = { code, signal }))));
  const ports = await new Promise((resolvePorts, reject) => {
    let smtpPort = null;
    let httpPort = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mailsnare did not report both listeners in time; stderr:\n${log}`));
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
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mailsnare exited (${code}) before listening; stderr:\n${log}`));
    });
  });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(killer);
  };
  after(stop);
  const base = `http://127.0.0.1:${ports.httpPort}`;
  return { ...ports, base, stop, stderr: () => log };
}

function matchPort(text, kind) {
  const m = new RegExp(`${kind} listening on 127\\.0\\.0\\.1:(\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}

/** JSON (or text) from the server's API. */
export async function apiJson(server, path, init) {
  const res = await fetch(`${server.base}${path}`, init);
  if (!res.ok) throw new Error(`${init?.method || 'GET'} ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// ---- SMTP ------------------------------------------------------------------------------------

/** A minimal SMTP client: EHLO, then one round trip per message thanks to PIPELINING. */
export class Smtp {
  static async connect(port) {
    const c = new Smtp(net.connect(port, '127.0.0.1'));
    await c.reply(220);
    c.write('EHLO browser-tests.local\r\n');
    await c.reply(250);
    return c;
  }

  constructor(socket) {
    this.socket = socket;
    this.buf = '';
    this.lines = [];
    this.waiters = [];
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 2);
      }
      this.pump();
    });
    socket.on('error', (e) => {
      for (const w of this.waiters.splice(0)) w.reject(e);
    });
  }

  write(s) {
    this.socket.write(s);
  }

  pump() {
    while (this.waiters.length) {
      const end = this.lines.findIndex((l) => /^\d{3} /.test(l) || /^\d{3}$/.test(l));
      if (end < 0) return;
      const lines = this.lines.splice(0, end + 1);
      const w = this.waiters.shift();
      const code = Number(lines[lines.length - 1].slice(0, 3));
      if (w.code && code !== w.code) w.reject(new Error(`SMTP: expected ${w.code}, got ${lines.join(' | ')}`));
      else w.resolve(lines.join('\n'));
    }
  }

  reply(code) {
    return new Promise((resolveReply, reject) => {
      this.waiters.push({ code, resolve: resolveReply, reject });
      this.pump();
    });
  }

  /** Sends one message; resolves to the stored ID from "250 … queued as ID". */
  async send({ from, to, data }) {
    const rcpts = Array.isArray(to) ? to : [to];
    this.write(`MAIL FROM:<${from}>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
    const replies = [this.reply(250), ...rcpts.map(() => this.reply(250)), this.reply(354)];
    await Promise.all(replies);
    const body = data.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    const done = await this.reply(250);
    const m = /queued as ([0-9a-fA-F-]{36})/.exec(done);
    return m ? m[1] : null;
  }

  async quit() {
    this.write('QUIT\r\n');
    await this.reply(221).catch(() => {});
    this.socket.end();
  }
}

/** Sends each message in `messages` ({from, to, data}) over one connection; returns the IDs. */
export async function sendAll(server, messages) {
  const c = await Smtp.connect(server.smtpPort);
  const ids = [];
  try {
    for (const m of messages) ids.push(await c.send(m));
  } finally {
    await c.quit();
  }
  return ids;
}

/** Sends `n` messages made by `make(i)` over `conns` connections at once; returns the IDs. */
export async function sendMany(server, n, make, conns = 4) {
  const parts = await Promise.all(Array.from({ length: conns }, (_, c) => {
    const mine = [];
    for (let i = c; i < n; i += conns) mine.push(make(i));
    return sendAll(server, mine);
  }));
  return parts.flat();
}

export async function sendOne(server, message) {
  const [id] = await sendAll(server, [message]);
  return id;
}

let counter = 0;

/**
 * RFC 5322 text for a message. `html` and `text` make multipart/alternative; `inline` images
 * ({cid, type, base64}) make it multipart/related; `attachments` ({name, type, base64}) mixed.
 * Headers are ASCII; a non-ASCII subject is sent as an encoded word. `date: null` leaves out the
 * Date header; `qp` sends the text parts quoted-printable (soft line breaks, =3D) instead of base64.
 */
export function buildMessage({
  from = 'Alice Sender <alice@example.com>', to = ['bob@example.com'], cc = [], subject = 'Hello',
  text, html, inline = [], attachments = [], headers = {}, date = new Date(), qp = false,
}) {
  const part = qp ? qpPart : b64Part;
  counter++;
  const boundary = (k) => `=_b${k}_${counter}_${Date.now().toString(36)}`;
  const hdr = [
    `From: ${from}`,
    `To: ${to.join(', ')}`,
    ...(cc.length ? [`Cc: ${cc.join(', ')}`] : []),
    `Subject: ${encodeWord(subject)}`,
    ...(date ? [`Date: ${date.toUTCString().replace('GMT', '+0000')}`] : []),
    `Message-ID: <t${counter}.${Date.now()}@browser-tests.local>`,
    'MIME-Version: 1.0',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  const textPart = text !== undefined ? part('text/plain; charset=utf-8', text) : null;
  let htmlPart = html !== undefined ? part('text/html; charset=utf-8', html) : null;
  if (htmlPart && inline.length) {
    const b = boundary('r');
    htmlPart = multipart('related', b, [htmlPart, ...inline.map((i) => [
      `Content-Type: ${i.type}`, 'Content-Transfer-Encoding: base64', `Content-ID: <${i.cid}>`,
      'Content-Disposition: inline', '', wrap(i.base64)].join('\r\n'))]);
  }
  let body;
  if (textPart && htmlPart) body = multipart('alternative', boundary('a'), [textPart, htmlPart]);
  else body = htmlPart || textPart || part('text/plain; charset=utf-8', '');
  if (attachments.length) {
    body = multipart('mixed', boundary('m'), [body, ...attachments.map((a) => [
      `Content-Type: ${a.type}; name="${a.name}"`, 'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${a.name}"`, '', wrap(a.base64)].join('\r\n'))]);
  }
  return `${hdr.join('\r\n')}\r\n${body}`;
}

function b64Part(type, content) {
  const b64 = Buffer.from(content, 'utf8').toString('base64');
  return `Content-Type: ${type}\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrap(b64)}`;
}

/** Quoted-printable (RFC 2045 6.7): =XX for '=' and non-ASCII, soft breaks before 76 columns. */
export function quotedPrintable(content) {
  const lines = content.split(/\r?\n/).map((line) => {
    let out = '';
    let col = 0;
    for (const byte of Buffer.from(line, 'utf8')) {
      const c = String.fromCharCode(byte);
      const enc = byte === 0x3d || byte > 0x7e || (byte < 0x20 && byte !== 0x09) ? `=${byte.toString(16).toUpperCase().padStart(2, '0')}` : c;
      if (col + enc.length > 75) {
        out += '=\r\n';
        col = 0;
      }
      out += enc;
      col += enc.length;
    }
    return out.replace(/[ \t]$/, (w) => `=${w.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  });
  return lines.join('\r\n');
}

function qpPart(type, content) {
  return `Content-Type: ${type}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(content)}`;
}

function multipart(kind, b, parts) {
  return `Content-Type: multipart/${kind}; boundary="${b}"\r\n\r\n${parts.map((p) => `--${b}\r\n${p}\r\n`).join('')}--${b}--\r\n`;
}

function wrap(b64) {
  return b64.replace(/.{1,76}/g, '$&\r\n').replace(/\r\n$/, '');
}

function encodeWord(s) {
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

/** A valid 1x1 PNG (red). */
export const PNG_RED = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

// ---- browser -----------------------------------------------------------------------------------

/** Chromium, headless; `args` are added (e.g. `--host-resolver-rules` to give a test site a name). */
export async function launch(args = []) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (never download a browser)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', ...args],
  });
  after(() => browser.close());
  return browser;
}

/**
 * A page in a fresh context that records console errors, page errors and CSP violations of the
 * UI's own document (problems inside the captured mail's sandboxed frame are tracked apart).
 */
export async function openPage(browser, url, { viewport = { width: 1280, height: 800 }, colorScheme = 'light', context } = {}) {
  const ctx = context || await browser.newContext({ viewport, colorScheme });
  const page = await ctx.newPage();
  const problems = [];
  const frameProblems = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && !/Content.Security.Policy/i.test(msg.text())) return;
    const frameUrl = msg.location()?.url || '';
    const entry = `${msg.type()}: ${msg.text()} (${frameUrl})`;
    if (/\/view\//.test(frameUrl)) frameProblems.push(entry);
    else problems.push(entry);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.addInitScript(() => {
    if (window !== window.top) return;
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="1"]', { timeout: 15_000 });
  return { page, context: ctx, problems, frameProblems };
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__csp || []);
}

/** Elements matching `selector` (inside `within`) that stick out of the viewport sideways. */
export async function outsideViewport(page, selector, within = 'body') {
  return page.evaluate(([sel, root]) => {
    const vw = document.documentElement.clientWidth;
    return [...document.querySelector(root).querySelectorAll(sel)]
      .filter((el) => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) return false;
        if (el.closest('.sr-only, [hidden]')) return false;
        return r.left < -1 || r.right > vw + 1;
      })
      .map((el) => {
        const r = el.getBoundingClientRect();
        return `${el.tagName.toLowerCase()}.${el.className?.baseVal ?? el.className} [${Math.round(r.left)}..${Math.round(r.right)}] of ${vw}`;
      });
  }, [selector, within]);
}

/** Records every text `selector` shows (a MutationObserver), read back with `textsOf`. */
export async function recordTexts(page, selector, key) {
  await page.evaluate(([sel, k]) => {
    const el = document.querySelector(sel);
    const seen = [el.textContent];
    window[`__texts_${k}`] = seen;
    new MutationObserver(() => {
      if (seen[seen.length - 1] !== el.textContent) seen.push(el.textContent);
    }).observe(el, { childList: true, characterData: true, subtree: true });
  }, [selector, key]);
}

export async function textsOf(page, key) {
  return page.evaluate((k) => window[`__texts_${k}`], key);
}

/** The rows of the list that show a loaded message, as {subject, from, unread}. */
export async function visibleRows(page) {
  return page.$$eval('.row:not(.is-loading)', (rows) => rows
    .map((r) => ({
      top: new DOMMatrix(getComputedStyle(r).transform).m42,
      subject: r.querySelector('.row-subject').textContent,
      from: r.querySelector('.row-from').textContent,
      unread: r.classList.contains('is-unread'),
      cursor: r.classList.contains('is-cursor'),
    }))
    .sort((a, b) => a.top - b.top));
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SHOTS, `${name}.png`) });
}
