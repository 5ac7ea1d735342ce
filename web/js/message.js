// The message view: headers at the top, then tabs (HTML, Text, Source, Headers, Parts, Envelope,
// and the checks of checks.js: HTML check, Links, Spam).
// Captured HTML is only ever shown through `view/{ID}.html` in an iframe sandboxed without
// scripts (the server's policy says the same; preview.js reaches into it only to open clicked
// links in a new tab, forward keys and pick light or dark); everything else is built as text nodes.

import { api, urls } from './api.js';
import { h, icon, replace, formatSize, relativeTime, exactTime, durationText, addressText, linkify, prefs, plural } from './dom.js';
import { wireFrame, applyScheme, supportsDark } from './preview.js';
import { sourceLines } from './highlight.js';
import { receivedHeaders } from './headers.js';
import { buildParts } from './parts.js';
import { TagEditor } from './tags.js';
import { extractStrip } from './extract.js';
import { CHECK_TABS, CheckResults, spamAssassin, spamAssassinKnown, buildHtmlCheck, buildLinkCheck, buildSpamCheck } from './checks.js';

export const TABS = [
  { id: 'html', label: 'HTML' },
  { id: 'text', label: 'Text' },
  { id: 'source', label: 'Source' },
  { id: 'headers', label: 'Headers' },
  { id: 'parts', label: 'Parts' },
  { id: 'envelope', label: 'Envelope' },
  ...CHECK_TABS,
];

const DEVICES = [
  { id: 'phone', label: 'Phone', width: 375, icon: 'phone' },
  { id: 'tablet', label: 'Tablet', width: 768, icon: 'tablet' },
  { id: 'desktop', label: 'Desktop', width: 0, icon: 'desktop' },
];

const SOURCE_LIMIT = 2_000_000;
// Longer HTML is shown as plain text: highlighting builds a node per token.
const HIGHLIGHT_LIMIT = 600_000;
// No scripts, forms, popups or top navigation. Same-origin only so that this page can see which
// link was clicked (a document without scripts can do nothing with the origin).
const IFRAME_SANDBOX = 'allow-same-origin';
/** A Date header further than this from the arrival time is worth a warning (clock, time zone). */
const DATE_SKEW_MS = 10 * 60_000;

/** A segmented control: [{id, label, title}], the pressed id, onPick(id). */
function segmented(label, options, current, onPick) {
  const buttons = options.map((o) => h('button', {
    type: 'button', class: 'seg-btn', 'aria-pressed': String(o.id === current), title: o.title || o.label,
    dataset: { value: o.id }, disabled: o.disabled || false,
    onclick: (ev) => {
      for (const b of buttons) b.setAttribute('aria-pressed', String(b === ev.currentTarget));
      onPick(o.id);
    },
  }, o.icon ? icon(o.icon) : null, h('span', { class: o.icon ? 'seg-label' : '', text: o.label })));
  return h('div', { class: 'seg', role: 'group', 'aria-label': label }, buttons);
}

export class MessageView {
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.message = null;
    this.id = null;
    this.failed = false;
    this.tab = prefs.get('tab', 'html');
    this.device = prefs.get('device', 'desktop');
    // Remembered per browser, off until the user allows them.
    this.remote = prefs.get('remote') === '1';
    this.scheme = prefs.get('preview-scheme') === 'dark' ? 'dark' : 'light';
    this.sourceView = prefs.get('source-view') === 'html' ? 'html' : 'raw';
    this.headerOrder = prefs.get('headers-order') === 'sorted' ? 'sorted' : 'received';
    this.panels = new Map();
    this.tabButtons = new Map();
    this.seq = 0;
    /** The open message's check results (checks.js), kept while it stays open. */
    this.checks = null;
    // Whether there is a Spam tab: asked once, early, so that it is known by the first message.
    spamAssassin();
  }

  get openId() {
    return this.id;
  }

  async open(id, { quiet = false } = {}) {
    const seq = ++this.seq;
    this.id = id;
    this.root.hidden = false;
    this.root.setAttribute('aria-busy', 'true');
    if (!quiet && (!this.message || this.message.ID !== id)) {
      replace(this.root, h('div', { class: 'msg-loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading message…'));
    }
    // The headers say whether there is a Date header at all (the message's Date falls back to
    // the arrival time); the envelope says when it arrived. Both are small and asked at once.
    const headers = api.headers(id).catch(() => null);
    const envelope = api.envelope(id).catch(() => null);
    let message;
    try {
      message = await api.message(id);
    } catch (e) {
      if (seq !== this.seq) return null;
      this.showError(e);
      return null;
    }
    const [hdrs, env] = await Promise.all([headers, envelope]);
    if (seq !== this.seq) return null;
    this.failed = false;
    this.message = message;
    this.headers = hdrs;
    this.envelope = env || message.Envelope || null;
    this.raw = null;
    if (this.checks?.id !== id) this.checks = new CheckResults(id);
    this.render();
    this.root.removeAttribute('aria-busy');
    return message;
  }

  showError(e) {
    this.failed = true;
    this.message = null;
    this.root.removeAttribute('aria-busy');
    const gone = e.status === 404;
    const unreachable = e.status === 0;
    replace(this.root, h('div', { class: 'msg-error', dataset: { reason: gone ? 'gone' : unreachable ? 'unreachable' : 'error' } },
      h('p', { class: 'msg-error-title', text: gone ? 'This message no longer exists.' : 'The message could not be loaded.' }),
      h('p', { class: 'msg-error-text', text: gone ? 'It was deleted, perhaps from another tab, or the server was restarted.' : unreachable ? 'The server cannot be reached. It is tried again as soon as the connection is back.' : e.message }),
      h('div', { class: 'msg-error-buttons' },
        gone ? null : h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => this.open(this.id) }),
        h('button', { type: 'button', class: 'btn', text: 'Back to the list', onclick: () => this.actions.close() }))));
  }

  /**
   * The connection came back (maybe to a restarted server): a failed load is tried again, and a
   * message that is gone says so.
   */
  async revalidate() {
    const id = this.id;
    if (!id) return;
    if (this.failed || !this.message) {
      await this.open(id);
      return;
    }
    try {
      await api.envelope(id);
    } catch (e) {
      if (this.id === id && e.status === 404) {
        this.seq++;
        this.showError(e);
      }
    }
  }

  close() {
    this.seq++;
    this.id = null;
    this.message = null;
    this.tags = null;
    this.checks = null;
    this.failed = false;
    this.root.hidden = true;
    replace(this.root);
  }

  /** The open message's tags changed (here, in another tab, or through the API). */
  setTags(tags) {
    if (!this.message) return;
    this.message.Tags = [...tags];
    this.tags?.set(tags);
  }

  tagEditor(m) {
    this.tags = new TagEditor({
      save: (tags) => this.actions.saveTags(m.ID, tags),
      suggestions: () => this.actions.tagsInUse(),
    });
    this.tags.set(m.Tags || []);
    return this.tags.el;
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
      h('h1', { class: 'msg-subject', id: 'msg-subject', tabindex: '-1', text: m.Subject || '(no subject)' }),
      h('dl', { class: 'msg-meta' },
        metaRow('From', m.From ? [m.From] : [], { empty: '(no sender)' }),
        metaRow('To', m.To),
        metaRow('Cc', m.Cc),
        metaRow('Bcc', m.Bcc),
        metaRow('Reply-To', m.ReplyTo),
        this.dateRows()),
      h('p', { class: 'msg-facts' },
        h('span', { class: 'chip', text: formatSize(m.Size) }),
        m.Attachments.length ? h('span', { class: 'chip' }, icon('clip'), plural(m.Attachments.length, 'attachment')) : null,
        m.Username ? h('span', { class: 'chip', text: `AUTH ${m.Username}` }) : null),
      this.tagEditor(m),
      extractStrip(m.ID, { toast: this.actions.toast }));

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
      // There is nothing to check without HTML; the Spam tab waits for the server to say it has SpamAssassin.
      if (tab.id === 'html-check' && !m.HTML) btn.hidden = true;
      if (tab.id === 'spam' && spamAssassinKnown() !== true) btn.hidden = true;
      this.tabButtons.set(tab.id, btn);
      tablist.append(btn);
      const panel = h('div', { class: `tab-panel panel-${tab.id}`, role: 'tabpanel', id: `panel-${tab.id}`, 'aria-labelledby': `tab-${tab.id}`, tabindex: '0', hidden: true });
      this.panels.set(tab.id, panel);
      panelsEl.append(panel);
    }
    replace(this.root, toolbar, head, tablist, panelsEl);
    for (const id of this.checks.badges.keys()) this.showBadge(id);
    let tab = this.tab;
    if (this.tabButtons.get(tab)?.hidden) tab = m.HTML ? 'html' : 'text';
    if (tab === 'html' && !m.HTML) tab = 'text';
    if (tab === 'text' && !m.Text && m.HTML) tab = 'html';
    this.setTab(tab, { focus: false, remember: false });
    const spam = this.tabButtons.get('spam');
    if (spam.hidden && spamAssassinKnown() === null) {
      spamAssassin().then((on) => {
        if (!on || this.tabButtons.get('spam') !== spam) return;
        spam.hidden = false;
        // The remembered tab, shown as soon as it exists (unless another was picked meanwhile).
        if (this.tab === 'spam') this.setTab('spam', { focus: false, remember: false });
      });
    }
  }

  /** A check's tab says its outcome ("87%", "2", "!"), once known; '' takes it away. */
  setBadge(checks, id, text, tone) {
    if (text) checks.badges.set(id, { text, tone });
    else checks.badges.delete(id);
    if (this.checks === checks) this.showBadge(id);
  }

  showBadge(id) {
    const btn = this.tabButtons.get(id);
    if (!btn) return;
    const b = this.checks?.badges.get(id);
    let el = btn.querySelector('.tab-count');
    if (!b) {
      el?.remove();
      return;
    }
    if (!el) {
      el = h('span', {});
      btn.append(el);
    }
    el.className = `tab-count tone-${b.tone}`;
    el.textContent = b.text;
  }

  /**
   * "Date" is the Date header, as the sender wrote it; "Received" is when it arrived here (the
   * list's order and time). A missing Date header or one far from the arrival is what a developer
   * is looking for, so it is said, not hidden behind the arrival time.
   */
  dateRows() {
    const m = this.message;
    const received = this.envelope?.Received || null;
    const names = this.headers ? Object.keys(this.headers).map((k) => k.toLowerCase()) : null;
    const missing = names ? !names.includes('date') : false;
    const rows = [h('dt', { text: 'Date' })];
    if (missing) {
      rows.push(h('dd', { class: 'msg-date' },
        h('span', { class: 'muted', text: '(none) ' }),
        h('span', { class: 'chip chip-warn', id: 'date-warning', title: 'RFC 5322 requires a Date header. Many clients show the time they received the mail instead, which hides this.', text: 'No Date header' })));
    } else {
      const skew = received ? Date.parse(m.Date) - Date.parse(received) : 0;
      rows.push(h('dd', { class: 'msg-date' },
        h('time', { dateTime: m.Date, title: exactTime(m.Date), text: exactTime(m.Date) }),
        ' ',
        h('span', { class: 'muted nowrap', text: `· ${relativeTime(m.Date)}` }),
        Math.abs(skew) > DATE_SKEW_MS
          ? [' ', h('span', { class: 'chip chip-warn', id: 'date-warning', title: 'The Date header is far from the time the message arrived: check the sending clock or time zone.', text: `${durationText(skew)} ${skew < 0 ? 'before' : 'after'} it was received` })]
          : null));
    }
    if (received) {
      rows.push(h('dt', { text: 'Received' }), h('dd', { class: 'msg-received' },
        h('time', { dateTime: received, title: exactTime(received), text: exactTime(received) }),
        ' ',
        h('span', { class: 'muted nowrap', text: `· ${relativeTime(received)}` })));
    }
    return rows;
  }

  updateReadButton() {
    if (!this.readBtn || !this.message) return;
    const read = this.message.Read !== false;
    replace(this.readBtn, icon(read ? 'unread' : 'read'), h('span', { class: 'btn-label', text: read ? 'Mark unread' : 'Mark read' }));
    this.readBtn.title = `${read ? 'Mark unread' : 'Mark read'} (u)`;
  }

  tabKey(ev, id) {
    const ids = TABS.map((t) => t.id).filter((t) => !this.tabButtons.get(t)?.hidden);
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
    if (!this.message || !this.panels.has(id) || this.tabButtons.get(id).hidden) return;
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
      case 'parts': return buildParts(panel, m, { toast: this.actions.toast });
      case 'envelope': return this.buildEnvelope(panel);
      case 'html-check': return buildHtmlCheck(panel, this.checks, this.badgeFor(id));
      case 'links': return buildLinkCheck(panel, this.checks, this.badgeFor(id));
      case 'spam': return buildSpamCheck(panel, this.checks, this.badgeFor(id));
      default: return null;
    }
  }

  badgeFor(id) {
    const checks = this.checks;
    return { badge: (text, tone) => this.setBadge(checks, id, text, tone) };
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
    const darkNote = h('span', { class: 'muted scheme-note', hidden: true, text: 'no dark-mode styles' });
    let doc = null;
    const showScheme = () => {
      const dark = doc ? this.scheme === 'dark' && supportsDark(doc) : false;
      stage.dataset.scheme = dark ? 'dark' : 'light';
      darkNote.hidden = !(doc && this.scheme === 'dark' && !dark);
    };
    frame.addEventListener('load', () => {
      doc = wireFrame(frame, { onKey: (ev) => this.actions.key(ev, { inFrame: true }), scheme: this.scheme });
      showScheme();
    });
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
      prefs.set('remote', this.remote ? '1' : null);
      frame.src = urls.view(m.ID, this.remote);
    });
    const scheme = segmented('Preview colours', [
      { id: 'light', label: 'Light', icon: 'sun', title: 'Preview the mail as a light-mode client shows it' },
      { id: 'dark', label: 'Dark', icon: 'moon', title: 'Preview the mail as a dark-mode client shows it (its own dark-mode styles)' },
    ], this.scheme, (id) => {
      this.scheme = id;
      prefs.set('preview-scheme', id === 'dark' ? 'dark' : null);
      if (doc) applyScheme(doc, id);
      showScheme();
    });
    scheme.id = 'preview-scheme';
    const bar = h('div', { class: 'html-bar' },
      h('div', { class: 'seg', role: 'group', 'aria-label': 'Preview width' }, deviceButtons),
      scheme,
      darkNote,
      h('label', { class: 'switch', for: 'remote-toggle', title: 'Remembered in this browser' }, remoteBox,
        h('span', { class: 'switch-track', 'aria-hidden': 'true' }),
        h('span', { text: 'Remote images' }),
        remoteCount && !this.remote ? h('span', { class: 'muted remote-count', text: `(${remoteCount} blocked)` }) : null),
      h('span', { class: 'grow' }),
      h('a', { class: 'btn btn-sm btn-ghost', href: urls.view(m.ID, false), target: '_blank', rel: 'noopener noreferrer', title: 'Open the HTML alone in a new tab (still sandboxed)' },
        icon('external'), h('span', { class: 'btn-label', text: 'Open' })));
    replace(panel, bar, stage);
  }

  /** The raw source, fetched once per open message (Source and Headers share it). */
  rawSource() {
    const m = this.message;
    if (!this.raw) this.raw = api.raw(m.ID);
    return this.raw;
  }

  buildSource(panel) {
    const m = this.message;
    const body = h('div', { class: 'source-body' });
    const views = segmented('Source view', [
      { id: 'raw', label: 'Raw message', title: 'Exactly the bytes received' },
      { id: 'html', label: 'HTML source', title: 'The HTML part, decoded (no quoted-printable or base64), highlighted', disabled: !m.HTML },
    ], this.sourceView === 'html' && m.HTML ? 'html' : 'raw', (id) => {
      this.sourceView = id;
      prefs.set('source-view', id === 'html' ? 'html' : null);
      show(id);
    });
    views.id = 'source-view';
    const show = (id) => (id === 'html' && m.HTML ? this.showHtmlSource(body) : this.showRaw(body));
    replace(panel, h('div', { class: 'source-bar' }, views, h('span', { class: 'grow' }),
      h('a', { class: 'btn btn-sm btn-ghost', href: urls.raw(m.ID), target: '_blank', rel: 'noopener noreferrer' }, icon('external'), h('span', { class: 'btn-label', text: 'Raw' })),
      h('a', { class: 'btn btn-sm btn-ghost', href: urls.eml(m.ID), download: `${m.ID}.eml` }, icon('download'), h('span', { class: 'btn-label', text: '.eml' }))),
    body);
    show(this.sourceView);
  }

  async showRaw(body) {
    const m = this.message;
    replace(body, loading('Loading source…'));
    let raw;
    try {
      raw = await this.rawSource();
    } catch (e) {
      return replace(body, notice(`The source could not be loaded: ${e.message}`));
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
    return replace(body,
      h('p', { class: 'muted source-facts', text: `${plural(lines.length, 'line')} · ${formatSize(m.Size)}` }),
      truncated ? notice('Only the first 2 MB are shown; download the .eml for the rest.') : null,
      h('div', { class: 'source' },
        h('pre', { class: 'source-gutter', 'aria-hidden': 'true', text: gutter }),
        h('pre', { class: 'source-code', text: lines.join('\n') })));
  }

  showHtmlSource(body) {
    const html = this.message.HTML;
    const { frag, count } = sourceLines(html, { html: html.length <= HIGHLIGHT_LIMIT });
    const wrap = prefs.get('source-wrap') !== '0';
    const code = h('pre', { class: `html-source${wrap ? ' is-wrapped' : ''}`, id: 'html-source' }, frag);
    const wrapBox = h('input', { type: 'checkbox', id: 'source-wrap' });
    wrapBox.checked = wrap;
    wrapBox.addEventListener('change', () => {
      code.classList.toggle('is-wrapped', wrapBox.checked);
      prefs.set('source-wrap', wrapBox.checked ? null : '0');
    });
    replace(body,
      h('p', { class: 'muted source-facts' },
        `${plural(count, 'line')} · ${formatSize(new Blob([html]).size)} decoded`,
        html.length > HIGHLIGHT_LIMIT ? ' · too long to highlight' : '',
        h('label', { class: 'inline-check' }, wrapBox, ' Wrap long lines')),
      code);
  }

  async buildHeaders(panel) {
    const m = this.message;
    const body = h('div', { class: 'headers-body' });
    const filter = h('input', { type: 'search', class: 'input input-sm', placeholder: 'Filter headers', 'aria-label': 'Filter headers' });
    const facts = h('span', { class: 'muted' });
    const order = segmented('Header order', [
      { id: 'received', label: 'As received', title: 'In the order of the message (top first)' },
      { id: 'sorted', label: 'A–Z', title: 'Sorted by name, values decoded by the server' },
    ], this.headerOrder, (id) => {
      this.headerOrder = id;
      prefs.set('headers-order', id === 'sorted' ? 'sorted' : null);
      show();
    });
    order.id = 'headers-order';
    const applyFilter = () => {
      const q = filter.value.trim().toLowerCase();
      const table = body.querySelector('.hdr-table');
      if (!table) return;
      for (const tr of table.tBodies[0].rows) {
        tr.hidden = q !== '' && !tr.dataset.name.includes(q) && !tr.cells[1].textContent.toLowerCase().includes(q);
      }
    };
    filter.addEventListener('input', applyFilter);
    const show = async () => {
      replace(body, loading('Loading headers…'));
      let list;
      try {
        list = this.headerOrder === 'sorted' ? await this.sortedHeaders() : receivedHeaders(await this.rawSource());
      } catch (e) {
        return replace(body, notice(`The headers could not be loaded: ${e.message}`));
      }
      if (this.message !== m) return null;
      const seen = new Map();
      for (const { name } of list) seen.set(name.toLowerCase(), (seen.get(name.toLowerCase()) || 0) + 1);
      const nth = new Map();
      const rows = list.map(({ name, value }) => {
        const key = name.toLowerCase();
        const n = (nth.get(key) || 0) + 1;
        nth.set(key, n);
        const many = seen.get(key);
        return h('tr', { dataset: { name: key } },
          h('th', { scope: 'row', text: name }, many > 1 ? h('span', { class: 'hdr-n', text: ` ${n}/${many}` }) : null),
          h('td', { text: value }));
      });
      facts.textContent = `${plural(list.length, 'header')}, ${plural(seen.size, 'name')}`;
      replace(body, h('table', { class: 'hdr-table', id: 'hdr-table' }, h('tbody', {}, rows)));
      applyFilter();
      return null;
    };
    replace(panel, h('div', { class: 'source-bar' }, order, facts, h('span', { class: 'grow' }), filter), body);
    show();
  }

  async sortedHeaders() {
    const headers = this.headers || await api.headers(this.message.ID);
    this.headers = headers;
    const names = Object.keys(headers).sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
    const list = [];
    for (const name of names) {
      const values = Array.isArray(headers[name]) ? headers[name] : [String(headers[name])];
      for (const value of values) list.push({ name, value });
    }
    return list;
  }

  buildEnvelope(panel) {
    const m = this.message;
    const env = this.envelope;
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
      h('dt', { text: 'TLS' }), h('dd', { text: env.TLS ? `Yes${env.TLSVersion ? ` (${env.TLSVersion})` : ''}` : 'No' }),
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
