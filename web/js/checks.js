// The message's checks, as Mailpit's UI has them: HTML check (how well mail clients support the
// HTML and CSS, from caniemail.com's data, scored for the platforms the user picks), Links (the
// status of every link, only when asked: the server then requests each one) and Spam
// (SpamAssassin's score and rules; a tab only when the server has SpamAssassin).
// Everything from the server is shown as text. caniemail's descriptions and notes arrive as HTML:
// a small tag scanner turns them into text plus a few elements of our own (code, emphasis,
// http(s) links); the browser's HTML parser never sees them.

import { ApiError, request } from './api.js';
import { h, icon, replace, plural, prefs } from './dom.js';

export const CHECK_TABS = [
  { id: 'html-check', label: 'HTML check' },
  { id: 'links', label: 'Links' },
  { id: 'spam', label: 'Spam' },
];

/** Mailpit's platforms, in Mailpit's order; any other the server names follows, A–Z. */
const PLATFORMS = {
  windows: 'Windows',
  'windows-mail': 'Windows Mail',
  'outlook-com': 'Outlook.com',
  macos: 'macOS',
  ios: 'iOS',
  android: 'Android',
  'desktop-webmail': 'Desktop webmail',
  'mobile-webmail': 'Mobile webmail',
};
/** The platforms left out of the score, remembered per browser (new platforms count by default). */
const PLATFORMS_OFF = 'html-check-off';
const LINK_FOLLOW = 'link-check-follow';
/**
 * CSS found only in style blocks (pseudo-classes, at-rules) may apply to no element at all, so
 * it weighs this much in the score (Mailpit's rule: a linked framework would otherwise dominate).
 */
const AT_RULE_WEIGHT = 0.05;
/** SpamAssassin's default required_score: Mailpit calls a message spam from here. */
const SPAM_SCORE = 5;

const enc = encodeURIComponent;

// ---- requests ------------------------------------------------------------------------------------

/**
 * GET of a JSON object through api.js's request (so under --webroot too): a failed status throws
 * its ApiError with the server's reason, and an answer that is not a JSON object throws too.
 */
async function getJson(path, params = {}) {
  let json;
  try {
    json = await request('GET', path, { params });
  } catch (e) {
    if (e instanceof ApiError) throw e;
    json = undefined;
  }
  if (json === undefined || json === null || typeof json !== 'object') throw new ApiError(200, 'The server’s answer is not JSON');
  return json;
}

let spamAsked = null;
let spamOn = null;

/** Whether the server has SpamAssassin (`api/v1/webui`), asked once per page; false if it cannot say. */
export function spamAssassin() {
  spamAsked ??= getJson('api/v1/webui').then((ui) => (spamOn = ui.SpamAssassin === true), () => {
    // Not known: asked again with the next message.
    spamAsked = null;
    return false;
  });
  return spamAsked;
}

/** true or false once `api/v1/webui` has answered, else null. */
export function spamAssassinKnown() {
  return spamOn;
}

/**
 * One open message's check results, kept while it stays open (re-rendering or coming back to a
 * tab asks nothing again). A failure is not kept: the next attempt asks again. `badges` holds what
 * each tab's badge says, so that a re-render shows it again.
 */
export class CheckResults {
  constructor(id) {
    this.id = id;
    this.asked = new Map();
    this.badges = new Map();
  }

  htmlCheck() {
    return this.ask('html', () => getJson(`api/v1/message/${enc(this.id)}/html-check`).then(htmlAnswer));
  }

  /** The last link check with this `follow` setting, or null: it runs only through `runLinks`. */
  linkCheck(follow) {
    return this.asked.get(`links ${follow}`) || null;
  }

  runLinks(follow) {
    this.asked.delete(`links ${follow}`);
    return this.ask(`links ${follow}`, () => getJson(`api/v1/message/${enc(this.id)}/link-check`, { follow: follow ? 'true' : undefined }).then(linksAnswer));
  }

  spamCheck() {
    return this.ask('spam', () => getJson(`api/v1/message/${enc(this.id)}/sa-check`).then(spamAnswer));
  }

  /** The answer under `key`, asked for with `run()` unless it is there; dropped if it fails. */
  ask(key, run) {
    if (!this.asked.has(key)) {
      const p = run();
      this.asked.set(key, p);
      p.catch(() => {
        if (this.asked.get(key) === p) this.asked.delete(key);
      });
    }
    return this.asked.get(key);
  }
}

function htmlAnswer(json) {
  if (json.Error) throw new ApiError(200, json.Error);
  if (!Array.isArray(json.Warnings)) throw new ApiError(200, 'The server’s answer has no Warnings');
  return json;
}

function linksAnswer(json) {
  if (json.Error) throw new ApiError(200, json.Error);
  if (!Array.isArray(json.Links)) throw new ApiError(200, 'The server’s answer has no Links');
  return json;
}

function spamAnswer(json) {
  if (typeof json.Score !== 'number' && !json.Error) throw new ApiError(200, 'The server’s answer has no Score');
  return json;
}

// ---- shared pieces ---------------------------------------------------------------------------------

function loading(text) {
  return h('div', { class: 'msg-loading check-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** The reason a check failed, said where its result would be, with a way to try again. */
function failure(title, e, retry) {
  let reason = e?.message || String(e);
  // A bare 404 (no reason given): the route is not there, not the message gone.
  if (e?.status === 404 && /^404\b/.test(reason)) reason = `This server does not offer this check (${reason}).`;
  return h('div', { class: 'check-error', role: 'alert' },
    h('p', { class: 'check-error-title', text: title }),
    h('p', { class: 'check-error-text', text: reason }),
    retry ? h('button', { type: 'button', class: 'btn btn-sm', text: 'Try again', onclick: retry }) : null);
}

/** An http(s) URL as a string, else null (nothing else becomes a link). */
function httpUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** A link that opens in a new tab, telling the other site nothing of this page. */
function external(href, children, attrs = {}) {
  return h('a', { ...attrs, href, target: '_blank', rel: 'noopener noreferrer' }, children);
}

const KEEP = new Set(['code', 'em', 'strong', 'b', 'i']);
const SKIP = new Set(['script', 'style', 'template', 'noscript', 'textarea', 'title']);
const BLOCK = new Set(['p', 'li', 'div', 'ul', 'ol', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'tr']);
const TAG = /<!--[\s\S]*?-->|<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b((?:[^>"']|"[^"]*"|'[^']*')*)>/g;
const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,6});/gi, (all, e) => {
    if (e[0] !== '#') return ENTITIES[e.toLowerCase()] ?? all;
    const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return n > 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff) ? String.fromCodePoint(n) : all;
  });
}

function attribute(attrs, name) {
  const m = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(attrs);
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3]) : null;
}

/**
 * caniemail's Markdown-made HTML as our own nodes: text, code, emphasis and http(s) links only.
 * Read by a small tag scanner, never by the browser's HTML parser (which would create elements,
 * and their handlers and loads, from the server's text).
 */
export function richText(html) {
  if (!html) return [];
  const root = h('span');
  const open = [{ tag: '', el: root }];
  let skipping = 0;
  let last = 0;
  const text = (s) => {
    if (s && !skipping) open[open.length - 1].el.append(decodeEntities(s));
  };
  for (const m of html.matchAll(TAG)) {
    text(html.slice(last, m.index));
    last = m.index + m[0].length;
    if (!m[2]) continue;
    const closing = m[1] === '/';
    const tag = m[2].toLowerCase();
    if (SKIP.has(tag)) skipping = Math.max(0, skipping + (closing ? -1 : 1));
    else if (skipping) continue;
    else if (tag === 'br') open[open.length - 1].el.append(h('br'));
    else if (BLOCK.has(tag)) text(closing ? ' ' : '');
    else if (tag === 'a' || KEEP.has(tag)) {
      if (closing) {
        const i = open.findLastIndex((o) => o.tag === tag);
        if (i > 0) open.length = i;
        continue;
      }
      const href = tag === 'a' ? httpUrl(attribute(m[3], 'href')) : null;
      const el = tag === 'a' ? (href ? external(href, []) : h('span')) : h(tag);
      open[open.length - 1].el.append(el);
      open.push({ tag, el });
    }
  }
  text(html.slice(last));
  return [...root.childNodes];
}

/** 87.5, 100, 4.2: a percentage to one decimal at most. */
export function pct(v) {
  const n = Math.round((Number.isFinite(v) ? v : 0) * 10) / 10;
  return `${n.toLocaleString(undefined, { maximumFractionDigits: 1 })}%`;
}

/**
 * A stacked bar of supported / partial / unsupported (percentages), with its numbers said to
 * screen readers. Widths are set through the CSSOM (the page's policy forbids style attributes).
 */
function meter({ supported, partial, unsupported }, { small = false } = {}) {
  const total = Math.max(100, supported + partial + unsupported);
  const seg = (cls, v) => {
    const el = h('span', { class: `meter-seg ${cls}` });
    el.style.width = `${Math.max(0, (v / total) * 100)}%`;
    return el;
  };
  return h('span', {
    class: `meter${small ? ' meter-sm' : ''}`, role: 'img',
    'aria-label': `${pct(supported)} supported, ${pct(partial)} partial, ${pct(unsupported)} not supported`,
  }, seg('is-yes', supported), seg('is-partial', partial), seg('is-no', unsupported));
}

/** Mailpit's colours for a score: good, so-so, bad. */
function scoreTone({ partial, unsupported }) {
  if (unsupported < 5 && partial < 10) return 'ok';
  if (unsupported < 10 && partial < 15) return 'warn';
  return 'bad';
}

// ---- HTML check ------------------------------------------------------------------------------------

/** The platforms of an answer, Mailpit's first: [{id, label, clients}]. */
export function platformsOf(check) {
  const map = check.Platforms && typeof check.Platforms === 'object' ? { ...check.Platforms } : {};
  for (const w of check.Warnings) {
    for (const r of w.Results || []) if (r.Platform && !(r.Platform in map)) map[r.Platform] = [];
  }
  const known = Object.keys(PLATFORMS).filter((k) => k in map);
  const others = Object.keys(map).filter((k) => !(k in PLATFORMS)).sort();
  return [...known, ...others].map((id) => ({ id, label: PLATFORMS[id] || id, clients: Array.isArray(map[id]) ? map[id] : [] }));
}

/**
 * The score for the platforms in `on` (a Set), computed here as Mailpit's UI does so that leaving
 * platforms out changes it: each warning's support is recounted over those platforms' results
 * (a warning with none there goes); it weighs by how often it was found against the message's
 * HTML nodes (style-block-only CSS weighs 5 %); the worst weighted partial and unsupported shares
 * are the total's. Warnings come worst first. A warning with no results at all (<script>) keeps
 * the server's score whatever the platforms.
 */
export function htmlScore(check, on) {
  const nodes = check.Total?.Nodes || 0;
  const warnings = [];
  for (const w of check.Warnings) {
    const all = w.Results || [];
    const found = w.Score?.Found || 0;
    let score = { supported: w.Score?.Supported || 0, partial: w.Score?.Partial || 0, unsupported: w.Score?.Unsupported || 0 };
    let results = all;
    if (all.length) {
      results = all.filter((r) => on.has(r.Platform));
      if (!results.length) continue;
      const yes = results.filter((r) => r.Support === 'yes').length;
      const partial = results.filter((r) => r.Support === 'partial').length;
      const n = results.length;
      score = { supported: (yes / n) * 100, partial: (partial / n) * 100, unsupported: ((n - yes - partial) / n) * 100 };
    }
    const atRule = /^[:@]/.test(w.Title || '');
    const weight = atRule ? AT_RULE_WEIGHT : nodes > 0 && found < nodes ? found / nodes : 1;
    warnings.push({ warning: w, results, found, score, weight, atRule });
  }
  let partial = 0;
  let unsupported = 0;
  for (const x of warnings) {
    partial = Math.max(partial, x.score.partial * x.weight);
    unsupported = Math.max(unsupported, x.score.unsupported * x.weight);
  }
  const badness = (x) => (x.score.unsupported + x.score.partial) * x.weight;
  warnings.sort((a, b) => badness(b) - badness(a) || b.score.unsupported - a.score.unsupported
    || (a.warning.Title || '').localeCompare(b.warning.Title || ''));
  return { supported: Math.max(0, 100 - partial - unsupported), partial, unsupported, warnings };
}

function platformsOff() {
  try {
    const v = JSON.parse(prefs.get(PLATFORMS_OFF, '[]'));
    return new Set(Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
  } catch {
    return new Set();
  }
}

/** "Outlook Windows (2016)" → ["Outlook Windows", "2016"]. */
function clientName(r) {
  const m = /^(.*\S)\s*\(([^()]*)\)$/.exec(r.Name || '');
  return m ? [m[1], m[2]] : [r.Name || `${r.Family || ''} ${r.Platform || ''}`.trim(), r.Version || ''];
}

/** The results that are not "yes", by support, then by client: [[client, [{version, note}]]]. */
function clientGroups(results, support) {
  const groups = new Map();
  for (const r of results) {
    if (r.Support !== support) continue;
    const [client, version] = clientName(r);
    if (!groups.has(client)) groups.set(client, []);
    groups.get(client).push({ version, note: r.NoteNumber || '' });
  }
  const byVersion = (a, b) => a.version.localeCompare(b.version, undefined, { numeric: true });
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([c, vs]) => [c, vs.sort(byVersion)]);
}

function clientList(title, cls, groups) {
  if (!groups.length) return null;
  return h('div', { class: `hc-clients ${cls}` },
    h('h4', { class: 'hc-h', text: `${title} (${groups.reduce((n, [, vs]) => n + vs.length, 0)})` }),
    h('ul', { class: 'hc-client-list' }, groups.map(([client, versions]) => h('li', {},
      h('span', { class: 'hc-client', text: client }), ' ',
      versions.flatMap((v, i) => [
        h('span', { class: 'hc-version', text: v.version }),
        v.note ? h('sup', { class: 'hc-note-ref', title: `See note ${v.note}`, text: v.note }) : null,
        i < versions.length - 1 ? ', ' : '',
      ])))));
}

function warningItem(x) {
  const w = x.warning;
  const notes = Object.entries(w.NotesByNumber || {}).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  const url = httpUrl(w.URL);
  const verdict = [
    x.score.unsupported > 0 ? `${pct(x.score.unsupported)} not supported` : '',
    x.score.partial > 0 ? `${pct(x.score.partial)} partial` : '',
  ].filter(Boolean).join(' · ') || `${pct(x.score.supported)} supported`;
  return h('li', { class: 'hc-warning', dataset: { slug: w.Slug || '' } },
    h('details', {},
      h('summary', { class: 'hc-warn-sum' },
        h('span', { class: 'hc-warn-title', text: w.Title || w.Slug || '(untitled)' }),
        h('span', { class: 'hc-warn-chips' },
          w.Category ? h('span', { class: 'chip', title: 'Category', text: w.Category.toUpperCase() }) : null,
          h('span', { class: 'chip', title: 'How many times it was found', text: `×${x.found}` })),
        h('span', { class: 'hc-warn-score' }, meter(x.score, { small: true }), h('span', { class: 'hc-warn-verdict', text: verdict }))),
      h('div', { class: 'hc-warn-body' },
        x.atRule ? h('p', { class: 'notice hc-at-rule', text: `Found ${plural(x.found, 'time')} in style blocks, where it cannot be told which elements it applies to: it weighs little in the score.` }) : null,
        w.Description ? h('p', { class: 'hc-desc' }, richText(w.Description)) : null,
        clientList('Not supported', 'is-no', clientGroups(x.results, 'no')),
        clientList('Partial support', 'is-partial', clientGroups(x.results, 'partial')),
        notes.length ? h('div', { class: 'hc-notes' }, h('h4', { class: 'hc-h', text: 'Notes' }),
          h('ol', { class: 'hc-note-list' }, notes.map(([n, text]) => h('li', { dataset: { note: n } },
            h('span', { class: 'hc-note-n', text: n }), h('span', {}, richText(text)))))) : null,
        url ? h('p', { class: 'hc-ref' }, external(url, [icon('external'), ` ${w.Title || 'This feature'} on caniemail.com`])) : null)));
}

export function buildHtmlCheck(panel, checks, { badge }) {
  const run = () => {
    replace(panel, loading('Checking the HTML against caniemail.com’s data…'));
    panel.setAttribute('aria-busy', 'true');
    checks.htmlCheck().then((check) => {
      panel.removeAttribute('aria-busy');
      showHtmlCheck(panel, check, badge);
    }, (e) => {
      panel.removeAttribute('aria-busy');
      replace(panel, failure('The HTML check could not be run.', e, run));
      badge('!', 'warn');
    });
  };
  run();
}

function showHtmlCheck(panel, check, badge) {
  const platforms = platformsOf(check);
  const off = platformsOff();
  const summary = h('div', { class: 'hc-summary', id: 'html-check-summary', 'aria-live': 'polite' });
  const warnings = h('section', { class: 'hc-warnings', 'aria-label': 'Warnings' });
  const boxes = [];
  const show = () => {
    const on = new Set(platforms.filter((p) => !off.has(p.id)).map((p) => p.id));
    if (platforms.length && !on.size) {
      replace(summary, h('p', { class: 'notice', text: 'Pick at least one platform to score the HTML for.' }));
      replace(warnings);
      badge('', '');
      return;
    }
    const s = htmlScore(check, on);
    const tone = scoreTone(s);
    badge(`${Math.round(s.supported)}%`, tone);
    replace(summary,
      h('p', { class: `hc-big tone-${tone}` }, h('span', { class: 'hc-big-num', id: 'html-check-score', text: pct(s.supported) }), h('span', { class: 'hc-big-label', text: ' supported' })),
      meter(s),
      h('ul', { class: 'hc-legend' },
        h('li', { class: 'is-yes', dataset: { kind: 'supported' } }, h('span', { class: 'dot', 'aria-hidden': 'true' }), `${pct(s.supported)} supported`),
        h('li', { class: 'is-partial', dataset: { kind: 'partial' } }, h('span', { class: 'dot', 'aria-hidden': 'true' }), `${pct(s.partial)} partially supported`),
        h('li', { class: 'is-no', dataset: { kind: 'unsupported' } }, h('span', { class: 'dot', 'aria-hidden': 'true' }), `${pct(s.unsupported)} not supported`)),
      h('p', { class: 'muted hc-facts', text: [
        `${plural(check.Total?.Tests || 0, 'test')} of ${plural(check.Total?.Nodes || 0, 'HTML node')}`,
        platforms.length ? `for ${on.size} of ${plural(platforms.length, 'platform')}` : '',
      ].filter(Boolean).join(', ') }));
    replace(warnings,
      h('h3', { class: 'hc-warnings-title', id: 'html-check-count', text: s.warnings.length ? plural(s.warnings.length, 'warning') : 'No warnings' }),
      s.warnings.length
        ? h('ol', { class: 'hc-warning-list' }, s.warnings.map(warningItem))
        : h('p', { class: 'notice', text: 'Nothing in this HTML is known to be unsupported on the chosen platforms.' }));
  };
  const rows = platforms.map((p) => {
    const box = h('input', { type: 'checkbox', id: `hc-platform-${p.id}`, value: p.id });
    box.checked = !off.has(p.id);
    box.addEventListener('change', () => {
      if (box.checked) off.delete(p.id);
      else off.add(p.id);
      prefs.set(PLATFORMS_OFF, off.size ? JSON.stringify([...off]) : null);
      show();
    });
    boxes.push(box);
    // Each platform alone: which of them the HTML suits least.
    const alone = htmlScore(check, new Set([p.id]));
    const clients = p.clients.join(', ');
    return h('li', { class: 'hc-platform', dataset: { platform: p.id } },
      h('label', { class: 'hc-platform-label', for: box.id, title: clients || p.label },
        box,
        h('span', { class: 'hc-platform-text' },
          h('span', { class: 'hc-platform-name', text: p.label }),
          clients ? h('span', { class: 'hc-platform-clients muted', text: clients }) : null)),
      meter(alone, { small: true }),
      h('span', { class: `hc-platform-pct tone-${scoreTone(alone)}`, text: pct(alone.supported) }));
  });
  const all = h('button', {
    type: 'button', class: 'link-btn', id: 'html-check-all', text: 'Tick all',
    onclick: () => {
      off.clear();
      prefs.set(PLATFORMS_OFF, null);
      for (const b of boxes) b.checked = true;
      show();
    },
  });
  replace(panel,
    h('div', { class: 'hc-top' },
      h('section', { class: 'hc-score', 'aria-label': 'Overall support' }, summary),
      platforms.length ? h('fieldset', { class: 'hc-platforms', id: 'html-check-platforms' },
        h('legend', {}, 'Platforms'),
        h('p', { class: 'muted hc-platforms-hint' }, 'Ticked ones make the score; each shows its own support. ', all),
        h('ul', { class: 'hc-platform-list' }, rows)) : null),
    warnings,
    h('p', { class: 'muted hc-source' }, 'Support data from ', external('https://www.caniemail.com/', 'caniemail.com'),
      '. Scores weigh each finding by how often it occurs among the HTML nodes; the worst ones make the total.'));
  show();
}

// ---- Links -----------------------------------------------------------------------------------------

const isError = (l) => l.StatusCode === 0 || l.StatusCode >= 400;

function linkRow(l) {
  const href = httpUrl(l.URL);
  const kind = isError(l) ? 'is-error' : l.StatusCode >= 300 ? 'is-redirect' : 'is-ok';
  const status = l.Status || (l.StatusCode === 0 ? 'Cannot connect to server' : '');
  return h('li', { class: `lc-row ${kind}`, dataset: { code: String(l.StatusCode ?? '') } },
    h('span', { class: 'lc-code', title: status, text: l.StatusCode ? String(l.StatusCode) : 'Failed' }),
    h('span', { class: 'lc-main' },
      href ? external(href, l.URL, { class: 'lc-url' }) : h('span', { class: 'lc-url', text: l.URL || '' }),
      h('span', { class: 'lc-status', text: status })));
}

export function buildLinkCheck(panel, checks, { badge }) {
  const follow = h('input', { type: 'checkbox', id: 'link-check-follow' });
  follow.checked = prefs.get(LINK_FOLLOW) === '1';
  const runLabel = h('span', { text: 'Check links' });
  const runBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'link-check-run' }, runLabel);
  const result = h('div', { class: 'lc-result', id: 'link-check-result', 'aria-live': 'polite' });
  let running = false;

  const showResult = (p, setting) => {
    if (!p) {
      runLabel.textContent = 'Check links';
      replace(result);
      return;
    }
    running = true;
    runBtn.setAttribute('aria-disabled', 'true');
    runLabel.textContent = 'Checking…';
    replace(result, loading('Checking links…'));
    result.setAttribute('aria-busy', 'true');
    p.then((answer) => {
      if (follow.checked !== setting) return;
      const links = [...answer.Links].sort((a, b) => rank(a) - rank(b));
      const errors = Number.isFinite(answer.Errors) ? answer.Errors : answer.Links.filter(isError).length;
      badge(errors ? String(errors) : '✓', errors ? 'bad' : 'ok');
      replace(result,
        h('p', { class: 'lc-summary', id: 'link-check-summary' },
          answer.Links.length ? `${plural(answer.Links.length, 'link')} checked` : 'No links found',
          answer.Links.length ? [' · ', h('span', { class: `chip ${errors ? 'chip-bad' : 'chip-ok'}`, id: 'link-check-errors', text: errors ? plural(errors, 'error') : 'no errors' })] : null,
          h('span', { class: 'muted', text: setting ? ' · redirects followed' : ' · redirects not followed' })),
        links.length ? h('ul', { class: 'lc-list', id: 'link-check-list' }, links.map(linkRow)) : null);
    }, (e) => {
      if (follow.checked !== setting) return;
      badge('!', 'warn');
      replace(result, failure('The links could not be checked.', e, null));
    }).finally(() => {
      if (follow.checked !== setting) return;
      running = false;
      runBtn.removeAttribute('aria-disabled');
      result.removeAttribute('aria-busy');
      runLabel.textContent = checks.linkCheck(setting) ? 'Check again' : 'Check links';
    });
  };
  const rank = (l) => (isError(l) ? 0 : l.StatusCode >= 300 ? 1 : 2);

  // Disabled buttons drop the keyboard focus, so a running check only ignores clicks.
  runBtn.addEventListener('click', () => {
    if (running) return;
    showResult(checks.runLinks(follow.checked), follow.checked);
  });
  follow.addEventListener('change', () => {
    prefs.set(LINK_FOLLOW, follow.checked ? '1' : null);
    running = false;
    runBtn.removeAttribute('aria-disabled');
    result.removeAttribute('aria-busy');
    // The result of this setting if it ran already; never a new check by itself.
    showResult(checks.linkCheck(follow.checked), follow.checked);
  });

  replace(panel,
    h('p', { class: 'muted lc-intro', text: 'Checks each unique link, image and stylesheet of the HTML and text with a request from the server. It runs only when you ask: a link may unsubscribe, confirm or track.' }),
    h('div', { class: 'check-bar' }, runBtn,
      h('label', { class: 'inline-check', for: follow.id, title: 'Remembered in this browser' }, follow, ' Follow redirects')),
    result);
  showResult(checks.linkCheck(follow.checked), follow.checked);
}

// ---- Spam ------------------------------------------------------------------------------------------

function signed(n) {
  const v = Number(n) || 0;
  return v > 0 ? `+${v}` : String(v);
}

export function buildSpamCheck(panel, checks, { badge }) {
  const run = () => {
    replace(panel, loading('Asking SpamAssassin…'));
    panel.setAttribute('aria-busy', 'true');
    checks.spamCheck().then((sa) => {
      panel.removeAttribute('aria-busy');
      if (sa.Error) {
        badge('!', 'warn');
        replace(panel, failure('SpamAssassin could not check this message.', new Error(sa.Error), null));
        return;
      }
      showSpam(panel, sa, badge);
    }, (e) => {
      panel.removeAttribute('aria-busy');
      badge('!', 'warn');
      replace(panel, failure('The spam check could not be run.', e, run));
    });
  };
  run();
}

function showSpam(panel, sa, badge) {
  const score = Number(sa.Score) || 0;
  const tone = sa.IsSpam ? 'bad' : score >= SPAM_SCORE - 1 ? 'warn' : 'ok';
  badge(String(score), tone);
  const rules = [...(sa.Rules || [])].sort((a, b) => (Number(b.Score) || 0) - (Number(a.Score) || 0) || String(a.Name).localeCompare(String(b.Name)));
  const gauge = h('span', { class: 'sa-gauge-fill' });
  gauge.style.width = `${Math.min(100, Math.max(0, (score / SPAM_SCORE) * 100))}%`;
  replace(panel,
    h('div', { class: `sa-summary tone-${tone}`, id: 'spam-summary' },
      h('p', { class: 'sa-score' },
        h('span', { class: 'sa-num', id: 'spam-score', text: String(score) }),
        h('span', { class: 'sa-of', text: ` / ${SPAM_SCORE}` }),
        h('span', { class: `chip ${sa.IsSpam ? 'chip-bad' : 'chip-ok'}`, id: 'spam-verdict', text: sa.IsSpam ? 'Spam' : 'Not spam' })),
      h('span', { class: 'sa-gauge', role: 'img', 'aria-label': `Score ${score} of ${SPAM_SCORE}` }, gauge),
      h('p', { class: 'muted sa-note', text: `SpamAssassin calls a message spam from ${SPAM_SCORE} points (its default); the rules below add or take away points.` })),
    rules.length
      ? h('table', { class: 'sa-rules', id: 'spam-rules' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Score' }), h('th', { scope: 'col', text: 'Rule' }), h('th', { scope: 'col', text: 'Description' }))),
        h('tbody', {}, rules.map((r) => {
          const n = Number(r.Score) || 0;
          return h('tr', { class: n > 0 ? 'is-plus' : n < 0 ? 'is-minus' : 'is-zero' },
            h('td', { class: 'sa-rule-score', text: signed(n) }),
            h('td', { class: 'sa-rule-name' }, h('code', { text: r.Name || '' })),
            h('td', { class: 'sa-rule-desc', text: r.Description || '' }));
        })))
      : h('p', { class: 'notice', text: 'No SpamAssassin rules matched.' }));
}
