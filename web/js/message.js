// The message view: headers at the top, then tabs (HTML, Text, Source, Headers, Parts, Envelope).
// Captured HTML is only ever shown through `view/{ID}.html` in an iframe sandboxed without
// scripts (the server's policy says the same), and links clicked in it are opened here, in a new
// tab with no opener; everything else is built as text nodes.

import { api, urls } from './api.js';
import { h, icon, replace, formatSize, relativeTime, exactTime, addressText, linkify, prefs, plural } from './dom.js';

export const TABS = [
  { id: 'html', label: 'HTML' },
  { id: 'text', label: 'Text' },
  { id: 'source', label: 'Source' },
  { id: 'headers', label: 'Headers' },
  { id: 'parts', label: 'Parts' },
  { id: 'envelope', label: 'Envelope' },
];

const DEVICES = [
  { id: 'phone', label: 'Phone', width: 375, icon: 'phone' },
  { id: 'tablet', label: 'Tablet', width: 768, icon: 'tablet' },
  { id: 'desktop', label: 'Desktop', width: 0, icon: 'desktop' },
];

const SOURCE_LIMIT = 2_000_000;
// No scripts, forms, popups or top navigation. Same-origin only so that this page can see which
// link was clicked (a document without scripts can do nothing with the origin).
const IFRAME_SANDBOX = 'allow-same-origin';

/**
 * Opens links clicked in the preview in a new tab, from this page, with no opener and no
 * referrer: the sandbox stays closed, and the page a reset or verify mail links to opens normally.
 * Only web and mail links are followed, never one into mailsnare itself.
 */
function followLinks(frame) {
  let doc;
  try {
    doc = frame.contentDocument;
  } catch {
    return;
  }
  if (!doc) return;
  const follow = (event) => {
    if (event.type === 'auxclick' && event.button !== 1) return;
    const link = event.target instanceof doc.defaultView.Element ? event.target.closest('a[href], area[href]') : null;
    if (!link) return;
    const raw = link.getAttribute('href') || '';
    if (raw.startsWith('#')) return; // a jump inside the mail
    event.preventDefault();
    let url;
    try {
      url = new URL(raw, doc.baseURI);
    } catch {
      return;
    }
    const ours = url.origin === window.location.origin;
    if ((url.protocol === 'http:' || url.protocol === 'https:') && !ours) {
      window.open(url.href, '_blank', 'noopener,noreferrer');
    } else if (url.protocol === 'mailto:') {
      window.open(url.href, '_blank', 'noopener,noreferrer');
    }
  };
  doc.addEventListener('click', follow, true);
  doc.addEventListener('auxclick', follow, true);
}

export class MessageView {
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.message = null;
    this.id = null;
    this.tab = prefs.get('tab', 'html');
    this.device = prefs.get('device', 'desktop');
    this.remote = false;
    this.panels = new Map();
    this.tabButtons = new Map();
    this.seq = 0;
  }

  get openId() {
    return this.id;
  }

  async open(id) {
    const seq = ++this.seq;
    this.id = id;
    this.remote = false;
    this.root.hidden = false;
    this.root.setAttribute('aria-busy', 'true');
    if (!this.message || this.message.ID !== id) {
      replace(this.root, h('div', { class: 'msg-loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading message…'));
    }
    let message;
    try {
      message = await api.message(id);
    } catch (e) {
      if (seq !== this.seq) return null;
      this.root.removeAttribute('aria-busy');
      replace(this.root, h('div', { class: 'msg-error' },
        h('p', { class: 'msg-error-title', text: e.status === 404 ? 'This message no longer exists.' : 'The message could not be loaded.' }),
        h('p', { class: 'msg-error-text', text: e.status === 404 ? 'It was deleted, perhaps from another tab.' : e.message }),
        h('button', { type: 'button', class: 'btn', text: 'Back to the list', onclick: () => this.actions.close() })));
      return null;
    }
    if (seq !== this.seq) return null;
    this.message = message;
    this.render();
    this.root.removeAttribute('aria-busy');
    return message;
  }

  close() {
    this.seq++;
    this.id = null;
    this.message = null;
    this.root.hidden = true;
    replace(this.root);
  }

  /** The open message was marked read or unread elsewhere. */
  setRead(read) {
    if (!this.message) return;
    this.message.Read = read;
    this.updateReadButton();
  }

  render() {
    const m = this.message;
    this.panels.clear();
    this.tabButtons.clear();
    const readBtn = h('button', { type: 'button', class: 'btn btn-sm', id: 'msg-toggle-read', onclick: () => this.actions.toggleRead(m.ID) });
    this.readBtn = readBtn;
    const toolbar = h('div', { class: 'msg-toolbar', role: 'toolbar', 'aria-label': 'Message actions' },
      h('button', { type: 'button', class: 'btn btn-sm btn-ghost msg-back', title: 'Back to the list (Esc)', onclick: () => this.actions.close() },
        icon('back'), h('span', { text: 'Back' })),
      h('div', { class: 'msg-nav' },
        h('button', { type: 'button', class: 'icon-btn', title: 'Newer message (k)', 'aria-label': 'Newer message', onclick: () => this.actions.step(-1) }, icon('up')),
        h('button', { type: 'button', class: 'icon-btn', title: 'Older message (j)', 'aria-label': 'Older message', onclick: () => this.actions.step(1) }, icon('down'))),
      h('span', { class: 'grow' }),
      readBtn,
      h('a', { class: 'btn btn-sm', href: urls.eml(m.ID), download: `${m.ID}.eml`, title: 'Download the message as .eml' },
        icon('download'), h('span', { class: 'btn-label', text: '.eml' })),
      h('button', { type: 'button', class: 'btn btn-sm btn-danger-ghost', id: 'msg-delete', title: 'Delete (Del)', onclick: () => this.actions.delete(m.ID) },
        icon('trash'), h('span', { class: 'btn-label', text: 'Delete' })));
    this.updateReadButton();

    const head = h('header', { class: 'msg-head' },
      h('h1', { class: 'msg-subject', id: 'msg-subject', text: m.Subject || '(no subject)' }),
      h('dl', { class: 'msg-meta' },
        metaRow('From', m.From ? [m.From] : [], { empty: '(no sender)' }),
        metaRow('To', m.To),
        metaRow('Cc', m.Cc),
        metaRow('Bcc', m.Bcc),
        metaRow('Reply-To', m.ReplyTo),
        h('dt', { text: 'Date' }),
        h('dd', {},
          h('time', { dateTime: m.Date, title: exactTime(m.Date), text: exactTime(m.Date) }),
          ' ',
          h('span', { class: 'muted nowrap', text: `· ${relativeTime(m.Date)}` }))),
      h('p', { class: 'msg-facts' },
        h('span', { class: 'chip', text: formatSize(m.Size) }),
        m.Attachments.length ? h('span', { class: 'chip' }, icon('clip'), plural(m.Attachments.length, 'attachment')) : null,
        m.Username ? h('span', { class: 'chip', text: `AUTH ${m.Username}` }) : null,
        ...(m.Tags || []).map((t) => h('span', { class: 'chip chip-tag', text: t }))));

    const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Message parts' });
    const panelsEl = h('div', { class: 'tab-panels' });
    for (const tab of TABS) {
      const count = tab.id === 'parts' ? m.Attachments.length + m.Inline.length : 0;
      const btn = h('button', {
        type: 'button', role: 'tab', class: 'tab', id: `tab-${tab.id}`,
        'aria-controls': `panel-${tab.id}`, 'aria-selected': 'false', tabindex: '-1',
        onclick: () => this.setTab(tab.id, { focus: false }),
        onkeydown: (ev) => this.tabKey(ev, tab.id),
      }, tab.label, count ? h('span', { class: 'tab-count', text: String(count) }) : null);
      if (tab.id === 'html' && !m.HTML) btn.classList.add('is-absent');
      if (tab.id === 'text' && !m.Text) btn.classList.add('is-absent');
      this.tabButtons.set(tab.id, btn);
      tablist.append(btn);
      const panel = h('div', { class: `tab-panel panel-${tab.id}`, role: 'tabpanel', id: `panel-${tab.id}`, 'aria-labelledby': `tab-${tab.id}`, tabindex: '0', hidden: true });
      this.panels.set(tab.id, panel);
      panelsEl.append(panel);
    }
    replace(this.root, toolbar, head, tablist, panelsEl);
    let tab = this.tab;
    if (tab === 'html' && !m.HTML) tab = 'text';
    if (tab === 'text' && !m.Text && m.HTML) tab = 'html';
    this.setTab(tab, { focus: false, remember: false });
  }

  updateReadButton() {
    if (!this.readBtn || !this.message) return;
    const read = this.message.Read !== false;
    replace(this.readBtn, icon(read ? 'unread' : 'read'), h('span', { class: 'btn-label', text: read ? 'Mark unread' : 'Mark read' }));
    this.readBtn.title = `${read ? 'Mark unread' : 'Mark read'} (u)`;
  }

  tabKey(ev, id) {
    const ids = TABS.map((t) => t.id);
    let i = ids.indexOf(id);
    if (ev.key === 'ArrowRight') i = (i + 1) % ids.length;
    else if (ev.key === 'ArrowLeft') i = (i - 1 + ids.length) % ids.length;
    else if (ev.key === 'Home') i = 0;
    else if (ev.key === 'End') i = ids.length - 1;
    else return;
    ev.preventDefault();
    this.setTab(ids[i], { focus: true });
  }

  setTab(id, { focus = false, remember = true } = {}) {
    if (!this.message || !this.panels.has(id)) return;
    if (remember) {
      this.tab = id;
      prefs.set('tab', id);
    }
    for (const [tid, btn] of this.tabButtons) {
      const on = tid === id;
      btn.setAttribute('aria-selected', String(on));
      btn.tabIndex = on ? 0 : -1;
      this.panels.get(tid).hidden = !on;
    }
    if (focus) this.tabButtons.get(id).focus();
    this.tabButtons.get(id).scrollIntoView({ block: 'nearest', inline: 'nearest' });
    const panel = this.panels.get(id);
    if (!panel.dataset.built) {
      panel.dataset.built = '1';
      this.build(id, panel);
    }
  }

  build(id, panel) {
    const m = this.message;
    switch (id) {
      case 'html': return this.buildHtml(panel);
      case 'text':
        return replace(panel, m.Text
          ? h('pre', { class: 'text-body' }, linkify(m.Text))
          : notice('This message has no plain-text part.'));
      case 'source': return this.buildSource(panel);
      case 'headers': return this.buildHeaders(panel);
      case 'parts': return this.buildParts(panel);
      case 'envelope': return this.buildEnvelope(panel);
      default: return null;
    }
  }

  buildHtml(panel) {
    const m = this.message;
    if (!m.HTML) return replace(panel, notice('This message has no HTML part.'));
    const remoteCount = countRemote(m.HTML);
    const stage = h('div', { class: 'html-stage' });
    const frame = h('iframe', {
      class: 'html-frame',
      sandbox: IFRAME_SANDBOX,
      src: urls.view(m.ID, this.remote),
      title: 'HTML body of the message',
      referrerpolicy: 'no-referrer',
      loading: 'eager',
    });
    frame.addEventListener('load', () => followLinks(frame));
    stage.append(frame);
    const deviceButtons = DEVICES.map((d) => h('button', {
      type: 'button', class: 'seg-btn', 'aria-pressed': String(this.device === d.id),
      title: d.width ? `${d.label} width (${d.width} px)` : 'Full width',
      dataset: { device: d.id },
      onclick: () => {
        this.device = d.id;
        prefs.set('device', d.id);
        for (const b of deviceButtons) b.setAttribute('aria-pressed', String(b.dataset.device === d.id));
        applyDevice();
      },
    }, icon(d.icon), h('span', { class: 'seg-label', text: d.width ? `${d.width}` : 'Full' })));
    const applyDevice = () => {
      const d = DEVICES.find((x) => x.id === this.device) || DEVICES[2];
      stage.dataset.device = d.id;
      frame.style.width = d.width ? `${d.width}px` : '';
    };
    applyDevice();
    const remoteBox = h('input', { type: 'checkbox', id: 'remote-toggle' });
    remoteBox.checked = this.remote;
    remoteBox.addEventListener('change', () => {
      this.remote = remoteBox.checked;
      frame.src = urls.view(m.ID, this.remote);
    });
    const bar = h('div', { class: 'html-bar' },
      h('div', { class: 'seg', role: 'group', 'aria-label': 'Preview width' }, deviceButtons),
      h('label', { class: 'switch', for: 'remote-toggle' }, remoteBox,
        h('span', { class: 'switch-track', 'aria-hidden': 'true' }),
        h('span', { text: 'Remote images' }),
        remoteCount ? h('span', { class: 'muted remote-count', text: `(${remoteCount} blocked)` }) : null),
      h('span', { class: 'grow' }),
      h('a', { class: 'btn btn-sm btn-ghost', href: urls.view(m.ID, false), target: '_blank', rel: 'noopener noreferrer', title: 'Open the HTML alone in a new tab (still sandboxed)' },
        icon('external'), h('span', { class: 'btn-label', text: 'Open' })));
    replace(panel, bar, stage);
  }

  async buildSource(panel) {
    const m = this.message;
    replace(panel, loading('Loading source…'));
    let raw;
    try {
      raw = await api.raw(m.ID);
    } catch (e) {
      return replace(panel, notice(`The source could not be loaded: ${e.message}`));
    }
    if (this.message !== m) return null;
    let truncated = false;
    if (raw.length > SOURCE_LIMIT) {
      raw = raw.slice(0, SOURCE_LIMIT);
      truncated = true;
    }
    const lines = raw.split(/\r?\n/);
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    const gutter = lines.map((_, i) => i + 1).join('\n');
    return replace(panel,
      h('div', { class: 'source-bar' },
        h('span', { class: 'muted', text: `${plural(lines.length, 'line')} · ${formatSize(m.Size)}` }),
        h('span', { class: 'grow' }),
        h('a', { class: 'btn btn-sm btn-ghost', href: urls.raw(m.ID), target: '_blank', rel: 'noopener noreferrer' }, icon('external'), h('span', { class: 'btn-label', text: 'Raw' })),
        h('a', { class: 'btn btn-sm btn-ghost', href: urls.eml(m.ID), download: `${m.ID}.eml` }, icon('download'), h('span', { class: 'btn-label', text: '.eml' }))),
      truncated ? notice('Only the first 2 MB are shown; download the .eml for the rest.') : null,
      h('div', { class: 'source' },
        h('pre', { class: 'source-gutter', 'aria-hidden': 'true', text: gutter }),
        h('pre', { class: 'source-code', text: lines.join('\n') })));
  }

  async buildHeaders(panel) {
    const m = this.message;
    replace(panel, loading('Loading headers…'));
    let headers;
    try {
      headers = await api.headers(m.ID);
    } catch (e) {
      return replace(panel, notice(`The headers could not be loaded: ${e.message}`));
    }
    if (this.message !== m) return null;
    const names = Object.keys(headers).sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
    const rows = [];
    let count = 0;
    for (const name of names) {
      const values = Array.isArray(headers[name]) ? headers[name] : [String(headers[name])];
      values.forEach((v, i) => {
        count++;
        rows.push(h('tr', { dataset: { name: name.toLowerCase() } },
          h('th', { scope: 'row', text: name },
            values.length > 1 ? h('span', { class: 'hdr-n', text: ` ${i + 1}/${values.length}` }) : null),
          h('td', { text: v })));
      });
    }
    const filter = h('input', { type: 'search', class: 'input input-sm', placeholder: 'Filter headers', 'aria-label': 'Filter headers' });
    const table = h('table', { class: 'hdr-table' }, h('tbody', {}, rows));
    filter.addEventListener('input', () => {
      const q = filter.value.trim().toLowerCase();
      for (const tr of table.tBodies[0].rows) {
        tr.hidden = q !== '' && !tr.dataset.name.includes(q) && !tr.cells[1].textContent.toLowerCase().includes(q);
      }
    });
    return replace(panel,
      h('div', { class: 'source-bar' },
        h('span', { class: 'muted', text: `${plural(count, 'header')}, ${plural(names.length, 'name')}` }),
        h('span', { class: 'grow' }),
        filter),
      table);
  }

  buildParts(panel) {
    const m = this.message;
    const section = (title, parts) => parts.length === 0 ? null : h('section', { class: 'parts-section' },
      h('h2', { class: 'parts-title', text: `${title} (${parts.length})` }),
      h('ul', { class: 'parts' }, parts.map((p) => partItem(m, p))));
    const total = m.Attachments.length + m.Inline.length;
    replace(panel,
      total === 0 ? notice('This message has no attachments or inline parts.') : null,
      section('Attachments', m.Attachments),
      section('Inline', m.Inline));
  }

  buildEnvelope(panel) {
    const m = this.message;
    const env = m.Envelope;
    if (!env) return replace(panel, notice('No SMTP envelope was recorded for this message.'));
    const lower = (a) => (a || '').toLowerCase();
    const inTo = new Set((m.To || []).map((a) => lower(a.Address)));
    const inCc = new Set((m.Cc || []).map((a) => lower(a.Address)));
    const rcpts = (env.RcptTo || []).map((r) => {
      const kind = inTo.has(lower(r)) ? 'To' : inCc.has(lower(r)) ? 'Cc' : 'Bcc';
      return h('li', {}, h('code', { text: r }), h('span', { class: `chip chip-${kind.toLowerCase()}`, text: kind, title: kind === 'Bcc' ? 'In the envelope only: in no To or Cc header' : `Also in the ${kind} header` }));
    });
    const yes = (b) => (b ? 'Yes' : 'No');
    return replace(panel, h('dl', { class: 'env' },
      h('dt', { text: 'Received' }), h('dd', {}, h('time', { dateTime: env.Received, text: exactTime(env.Received) }), h('span', { class: 'muted', text: ` · ${relativeTime(env.Received)}` })),
      h('dt', { text: 'Client address' }), h('dd', {}, h('code', { text: env.ClientAddr || '(unknown)' })),
      h('dt', { text: 'HELO / EHLO' }), h('dd', {}, h('code', { text: env.Helo || '(none)' }), h('span', { class: 'muted', text: env.ESMTP ? ' · EHLO (ESMTP)' : ' · HELO' })),
      h('dt', { text: 'MAIL FROM' }), h('dd', {}, h('code', { text: `<${env.MailFrom || ''}>` })),
      h('dt', { text: `RCPT TO (${(env.RcptTo || []).length})` }), h('dd', {}, h('ul', { class: 'rcpts' }, rcpts)),
      h('dt', { text: 'TLS' }), h('dd', { text: yes(env.TLS) }),
      h('dt', { text: 'AUTH user' }), h('dd', {}, env.AuthUser ? h('code', { text: env.AuthUser }) : h('span', { class: 'muted', text: '(not authenticated)' })),
      h('dt', { text: 'SMTPUTF8' }), h('dd', { text: yes(env.SMTPUTF8) }),
      h('dt', { text: 'Return-Path' }), h('dd', {}, h('code', { text: m.ReturnPath || '' })),
      h('dt', { text: 'Message-ID' }), h('dd', {}, h('code', { text: m.MessageID || '(none)' })),
      h('dt', { text: 'Stored ID' }), h('dd', {}, h('code', { text: m.ID }))));
  }
}

function metaRow(label, list, { empty = null } = {}) {
  if (!list || list.length === 0) {
    return empty ? [h('dt', { text: label }), h('dd', { class: 'muted', text: empty })] : [];
  }
  const LIMIT = 4;
  const dd = h('dd', { class: 'addr-list' });
  const renderAll = (all) => {
    const shown = all ? list : list.slice(0, LIMIT);
    replace(dd, ...shown.map((a, i) => [addrNode(a), i < shown.length - 1 ? ', ' : '']).flat());
    if (!all && list.length > LIMIT) {
      dd.append(' ', h('button', { type: 'button', class: 'link-btn', text: `+${list.length - LIMIT} more`, onclick: () => renderAll(true) }));
    }
  };
  renderAll(false);
  return [h('dt', { text: label }), dd];
}

function addrNode(a) {
  if (a.Name) {
    return h('span', { class: 'addr', title: addressText(a) },
      h('span', { class: 'addr-name', text: a.Name }), ' ', h('span', { class: 'addr-email', text: `<${a.Address}>` }));
  }
  return h('span', { class: 'addr addr-email-only', text: a.Address });
}

function partItem(m, p) {
  const url = urls.part(m.ID, p.PartID);
  const isImage = /^image\/(png|jpe?g|gif|webp|bmp|avif)$/i.test(p.ContentType || '');
  const name = p.FileName || (p.ContentID ? `cid:${p.ContentID}` : `part ${p.PartID}`);
  return h('li', { class: 'part' },
    h('span', { class: 'part-thumb' }, isImage ? h('img', { src: url, alt: '', loading: 'lazy' }) : icon('file')),
    h('span', { class: 'part-info' },
      h('span', { class: 'part-name', text: name, title: name }),
      h('span', { class: 'part-meta muted', text: [p.ContentType, formatSize(p.Size), p.ContentID ? `cid:${p.ContentID}` : ''].filter(Boolean).join(' · ') })),
    h('a', { class: 'btn btn-sm', href: url, download: p.FileName || '', 'aria-label': `Download ${name}` }, icon('download'), h('span', { class: 'btn-label', text: 'Download' })));
}

function notice(text) {
  return h('p', { class: 'notice', text });
}

function loading(text) {
  return h('div', { class: 'msg-loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** How many remote resources (http/https src, background, CSS url()) the HTML references. */
function countRemote(html) {
  const re = /(?:\bsrc|\bbackground|\bposter)\s*=\s*["']?\s*(?:https?:)?\/\/|url\(\s*["']?\s*(?:https?:)?\/\//gi;
  let n = 0;
  while (re.exec(html)) n++;
  return n;
}
