// Small DOM and formatting helpers. Captured mail is untrusted: everything here builds nodes and
// sets text with textContent / setAttribute. Nothing in the UI parses HTML from strings.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('a', {class: 'x', href: url, text: 'label', onclick: fn}, child, …): an element.
 * `text` sets textContent; `on*` keys take functions only; other keys become attributes
 * (booleans toggle the attribute). Children are nodes or strings (inserted as text).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'class') el.className = value;
    else if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (key === 'style') throw new TypeError('no inline styles (CSP)');
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An icon from the sprite in index.html. */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', `icon ${cls}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

/** Replaces an element's children. */
/** A button that copies `text`, saying so (or why not) through `toast`. */
export function copyButton(text, label, toast) {
  return h('button', {
    type: 'button', class: 'icon-btn copy-btn', title: `Copy ${label}`, 'aria-label': `Copy ${label}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast('Copied');
      } catch {
        toast('The browser did not allow copying: select the text instead', { error: true });
      }
    },
  }, icon('copy'));
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (id) => document.getElementById(id);

// ---- formatting -------------------------------------------------------------------------

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let n = bytes;
  let unit = 'B';
  for (const u of units) {
    if (n < 1000) break;
    n /= 1000;
    unit = u;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${unit}`;
}

const exactFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const yearFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function exactTime(date) {
  const d = date instanceof Date ? date : new Date(date);
  return Number.isNaN(d.getTime()) ? '' : exactFormat.format(d);
}

/** "just now", "4 min ago", "3 h ago", "Yesterday 14:02", "Mar 3", "Mar 3, 2023". */
export function relativeTime(date, now = Date.now()) {
  const d = date instanceof Date ? date : new Date(date);
  const t = d.getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 6 * 3600) return `${Math.round(s / 3600)} h ago`;
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  if (t >= today.getTime()) return timeFormat.format(d);
  if (t >= today.getTime() - 86400_000) return `Yesterday ${timeFormat.format(d)}`;
  if (d.getFullYear() === today.getFullYear()) return dayFormat.format(d);
  return yearFormat.format(d);
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/**
 * The list's absolute time, as short as is unambiguous: "14:02:07" today, "Mar 3, 14:02" this
 * year, "Mar 3, 2023" before. Seconds today, because a developer compares mails sent a few
 * seconds apart.
 */
export function listTime(date, now = Date.now()) {
  const d = date instanceof Date ? date : new Date(date);
  const t = d.getTime();
  if (Number.isNaN(t)) return '';
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  if (t >= today.getTime() && t < today.getTime() + 86400_000) return clockFormat.format(d);
  if (d.getFullYear() === today.getFullYear()) return dayTimeFormat.format(d);
  return yearFormat.format(d);
}

/** "3 h 12 min", "45 s", "2 days": a length of time, roughly. */
export function durationText(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return min % 60 ? `${hours} h ${min % 60} min` : `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

export function addressText(a) {
  if (!a) return '';
  return a.Name ? `${a.Name} <${a.Address}>` : a.Address || '';
}

export function addressShort(a) {
  if (!a) return '';
  return a.Name || a.Address || '';
}

/** "Ann, bob@x.org +3" for the list. */
export function recipientsShort(list, max = 2) {
  if (!list || list.length === 0) return '';
  const shown = list.slice(0, max).map(addressShort).join(', ');
  return list.length > max ? `${shown} +${list.length - max}` : shown;
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** Calls `fn` once calls stop for `ms`; with `maxWait`, at least that often while they go on. */
export function debounce(fn, ms, { maxWait = 0 } = {}) {
  let timer = 0;
  let first = 0;
  const run = (args) => {
    clearTimeout(timer);
    timer = 0;
    first = 0;
    fn(...args);
  };
  const wrapped = (...args) => {
    const now = Date.now();
    if (!first) first = now;
    clearTimeout(timer);
    const wait = maxWait ? Math.min(ms, Math.max(0, first + maxWait - now)) : ms;
    timer = setTimeout(() => run(args), wait);
  };
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = 0;
    first = 0;
  };
  wrapped.pending = () => timer !== 0;
  return wrapped;
}

/** Stored preference, tolerant of disabled storage. */
export const prefs = {
  get(key, fallback = null) {
    try {
      const v = localStorage.getItem(`mailsnare.${key}`);
      return v === null ? fallback : v;
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      if (value === null) localStorage.removeItem(`mailsnare.${key}`);
      else localStorage.setItem(`mailsnare.${key}`, value);
    } catch { /* ignore */ }
  },
};

/** Text with http(s) URLs turned into links (built as nodes; other text stays text). */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  const re = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) frag.append(document.createTextNode(text.slice(last, m.index)));
    frag.append(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer', text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}
