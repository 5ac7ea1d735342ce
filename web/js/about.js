// The about panel: what this server is (version, where to send mail, the limits in force, from
// the EXT `api/v1/about`) and how it is doing (counts and runtime stats, from Mailpit's
// `api/v1/info`). Read again every time it is shown, and on Refresh.

import { api } from './api.js';
import { h, replace, formatSize, durationText } from './dom.js';
import { dialAddress } from './welcome.js';

const n = (v) => (Number.isFinite(v) ? v.toLocaleString() : '–');
const limit = (v, show = n) => (v > 0 ? show(v) : 'unlimited');
const yes = (b) => (b ? 'Yes' : 'No');
/** A configured time, exactly: "90 s", "5 min", "2 h". */
const seconds = (s) => (s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s.toLocaleString()} s`);

function facts(id, title, rows) {
  const items = rows.filter(Boolean).flatMap(([name, value, note]) => [
    h('dt', { text: name }),
    h('dd', {}, value instanceof Node ? value : String(value), note ? h('span', { class: 'muted', text: ` ${note}` }) : null),
  ]);
  return h('section', { class: 'about-section', 'aria-labelledby': `${id}-title` },
    h('h3', { class: 'settings-h', id: `${id}-title`, text: title }),
    h('dl', { class: 'about-facts', id }, items));
}

const addr = (listen) => h('code', { class: 'about-addr', text: dialAddress(listen) });

export class AboutPanel {
  constructor(root) {
    this.root = root;
    this.seq = 0;
  }

  async load() {
    const seq = ++this.seq;
    if (!this.root.firstChild) replace(this.root, h('p', { class: 'muted', text: 'Loading…' }));
    const [about, info] = await Promise.all([
      api.about().catch((e) => ({ error: e })),
      api.info().catch((e) => ({ error: e })),
    ]);
    if (seq !== this.seq) return;
    const refocus = document.activeElement?.id === 'about-refresh';
    this.render(about.error ? null : about, info.error ? null : info, [about.error, info.error].filter(Boolean));
    if (refocus) this.root.querySelector('#about-refresh')?.focus();
  }

  render(about, info, errors) {
    const l = about?.Listeners || {};
    const lim = about?.Limits || {};
    const rs = info?.RuntimeStats || {};
    const version = about?.Version || info?.Version || '';
    const sections = [];
    if (about) {
      const smtpNotes = [l.STARTTLS ? 'STARTTLS' : '', lim.SMTPAuthRequired ? 'AUTH required' : '', lim.SMTPTLSRequired ? 'TLS required' : ''].filter(Boolean);
      sections.push(facts('about-listeners', 'Where to send mail', [
        l.SMTP && ['SMTP', addr(l.SMTP), smtpNotes.length ? `· ${smtpNotes.join(' · ')}` : ''],
        l.SMTPS && ['SMTPS', addr(l.SMTPS), '· implicit TLS'],
        l.POP3 && ['POP3', addr(l.POP3)],
        l.POP3S && ['POP3S', addr(l.POP3S)],
        l.IMAP && ['IMAP', addr(l.IMAP)],
        l.IMAPS && ['IMAPS', addr(l.IMAPS)],
        l.HTTP && [l.HTTPS ? 'Web and API (HTTPS)' : 'Web and API', addr(l.HTTP)],
      ]));
    }
    if (info) {
      const tagCount = info.Tags ? Object.keys(info.Tags).length : 0;
      sections.push(facts('about-counts', 'Messages', [
        ['Stored', n(info.Messages), Number.isFinite(info.DatabaseSize) ? `· ${formatSize(info.DatabaseSize)}` : ''],
        ['Unread', n(info.Unread)],
        ['Tags in use', n(tagCount)],
        ['Deleted since start', n(rs.MessagesDeleted)],
        about?.Activity && ['Evicted by the limits', n(about.Activity.MessagesEvicted)],
      ]));
      sections.push(facts('about-runtime', 'Runtime', [
        ['Uptime', Number.isFinite(rs.Uptime) ? durationText(rs.Uptime * 1000) : '–'],
        ['SMTP accepted', n(rs.SMTPAccepted), Number.isFinite(rs.SMTPAcceptedSize) ? `· ${formatSize(rs.SMTPAcceptedSize)}` : ''],
        ['SMTP rejected', n(rs.SMTPRejected)],
        ['SMTP ignored', n(rs.SMTPIgnored)],
        ['Memory', Number.isFinite(rs.Memory) && rs.Memory > 0 ? formatSize(rs.Memory) : '–', 'resident'],
      ]));
    }
    if (about) {
      sections.push(facts('about-limits', 'Limits in force', [
        ['Message size', limit(lim.MaxMessageSize, formatSize)],
        ['Recipients per message', limit(lim.MaxRecipients)],
        ['Messages kept', limit(lim.MaxMessages), lim.MaxMessages > 0 ? '· the oldest go first' : ''],
        ['Bytes kept', limit(lim.MaxBytes, formatSize)],
        ['SMTP connections at once', limit(lim.MaxConnections)],
        ['SMTP idle timeout', limit(lim.IdleTimeoutSeconds, seconds)],
        ['SMTP AUTH required', yes(lim.SMTPAuthRequired)],
        ['SMTP TLS required', yes(lim.SMTPTLSRequired)],
      ]));
    }
    replace(this.root,
      h('div', { class: 'about-head' },
        h('p', { class: 'about-version', id: 'about-version' },
          h('strong', { text: 'mailsnare' }), version ? ` ${version}` : '',
          about?.Hostname ? h('span', { class: 'muted', text: ` · ${about.Hostname}` }) : null),
        h('button', { type: 'button', class: 'btn btn-sm', id: 'about-refresh', text: 'Refresh', onclick: () => this.load() })),
      errors.length
        ? h('p', { class: 'form-error', id: 'about-error', role: 'alert', text: `Not everything could be loaded: ${errors.map((e) => e.message).join('; ')}` })
        : null,
      h('div', { class: 'about-grid' }, sections),
      h('p', { class: 'muted setting-note', id: 'about-asof', text: `As of ${new Date().toLocaleTimeString()}` }));
  }
}
