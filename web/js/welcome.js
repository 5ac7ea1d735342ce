// The empty mailbox: where to send mail (the SMTP address, and POP3/IMAP when they are on), a
// command to try it with, and the version. From the EXT `api/v1/about` route.

import { h, copyButton } from './dom.js';

/** "host:port" as a client should dial it: a wildcard bind means the name this page was reached by. */
export function dialAddress(listen) {
  if (!listen) return '';
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) return listen;
  let host = m[1].replace(/^\[|\]$/g, '');
  if (host === '0.0.0.0' || host === '::' || host === '') host = location.hostname.replace(/^\[|\]$/g, '');
  return `${host.includes(':') ? `[${host}]` : host}:${m[2]}`;
}

export function welcomeCard(about, { toast }) {
  const l = about?.Listeners || {};
  const smtp = dialAddress(l.SMTP);
  const rows = [];
  const row = (name, value, note) => {
    if (!value) return;
    rows.push(h('dt', { text: name }), h('dd', {}, h('code', { class: 'welcome-addr', text: value }), note ? h('span', { class: 'muted', text: ` ${note}` }) : null));
  };
  const notes = [];
  if (l.STARTTLS) notes.push('STARTTLS');
  if (about?.Limits?.SMTPAuthRequired) notes.push('AUTH required');
  if (about?.Limits?.SMTPTLSRequired) notes.push('TLS required');
  row('SMTP', smtp, notes.length ? `· ${notes.join(' · ')}` : '');
  row('SMTPS', dialAddress(l.SMTPS), '· implicit TLS');
  row('POP3', dialAddress(l.POP3));
  row('POP3S', dialAddress(l.POP3S));
  row('IMAP', dialAddress(l.IMAP));
  row('IMAPS', dialAddress(l.IMAPS));
  const base = new URL('.', document.baseURI).href;
  const swaks = `swaks --server ${smtp || 'localhost:1025'} --to test@example.com --header "Subject: Hello"`;
  const curl = `curl -X POST ${base}api/v1/send -H 'Content-Type: application/json' -d '{"From":{"Email":"app@example.com"},"To":[{"Email":"test@example.com"}],"Subject":"Hello","Text":"It works"}'`;
  const command = (text, label) => h('div', { class: 'welcome-cmd' },
    h('pre', {}, h('code', { text })),
    copyButton(text, label, toast));
  return h('section', { class: 'welcome', id: 'welcome', 'aria-label': 'Send mail to this server' },
    h('p', { class: 'welcome-lead', text: smtp ? 'Point your app’s SMTP settings here:' : 'Point your app’s SMTP settings at this server.' }),
    rows.length ? h('dl', { class: 'welcome-facts' }, rows) : null,
    h('p', { class: 'welcome-try', text: 'Try it:' }),
    command(swaks, 'the swaks command'),
    command(curl, 'the curl command'),
    about?.Version ? h('p', { class: 'muted welcome-version', text: `mailsnare ${about.Version}` }) : null);
}
