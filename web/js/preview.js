// The HTML preview's frame, seen from the UI. The frame is sandboxed without scripts (and the
// server's policy says the same); it keeps the same origin only so that this page can reach into
// the inert document: to open clicked links in a new tab itself, to forward shortcut keys, and to
// show the mail in light or dark mode. No script of the mail ever runs.

/**
 * Opens links clicked in the preview in a new tab, from this page, with no opener and no
 * referrer: the sandbox stays closed, and the page a reset or verify mail links to opens normally.
 * Only web and mail links are followed, never one into mailsnare itself.
 */
function followLinks(doc) {
  const follow = (event) => {
    if (event.type === 'auxclick' && event.button !== 1) return;
    const link = event.target && event.target.nodeType === 1 ? event.target.closest('a[href], area[href]') : null;
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

// ---- light and dark -------------------------------------------------------------------------

/** Each rewritten media list's original text, so switching back and forth stays exact. */
const originals = new WeakMap();

/** Splits a media query list at its top-level commas. */
function queries(text) {
  const out = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

const FEATURE = /\(\s*prefers-color-scheme\s*:\s*(light|dark)\s*\)/gi;

/** `text` with every (prefers-color-scheme: …) decided for `scheme`. */
export function decideMedia(text, scheme) {
  if (!/prefers-color-scheme/i.test(text)) return text;
  return queries(text).map((q) => {
    let agrees = true;
    const decided = q.replace(FEATURE, (_, v) => {
      if (v.toLowerCase() !== scheme) agrees = false;
      return '(min-width: 0px)';
    });
    if (agrees) return decided;
    // One false feature makes an `and` query false; `not` turns that into true.
    return /^\s*not\b/i.test(q) ? 'all' : 'not all';
  }).join(',');
}

function decideList(list, owner, scheme) {
  if (!list) return;
  if (!originals.has(owner)) {
    if (!/prefers-color-scheme/i.test(list.mediaText)) return;
    originals.set(owner, list.mediaText);
  }
  list.mediaText = decideMedia(originals.get(owner), scheme);
}

function decideRules(rules, scheme) {
  for (const rule of rules) {
    if (rule.media && rule.cssRules) decideList(rule.media, rule, scheme);
    if (rule.cssRules) decideRules(rule.cssRules, scheme);
  }
}

/** Whether the mail says it has a dark design (a color-scheme or a prefers-color-scheme rule). */
export function supportsDark(doc) {
  const meta = doc.querySelector('meta[name="color-scheme" i], meta[name="supported-color-schemes" i]');
  if (meta && /dark/i.test(meta.getAttribute('content') || '')) return true;
  for (const sheet of doc.styleSheets) {
    let rules;
    try {
      rules = sheet.cssRules;
    } catch {
      continue;
    }
    if (sheet.media && /prefers-color-scheme\s*:\s*dark/i.test(sheet.media.mediaText)) return true;
    for (const rule of rules) {
      if (rule.media && /prefers-color-scheme\s*:\s*dark/i.test(rule.media.mediaText)) return true;
      if (/color-scheme\s*:\s*[^;]*dark/i.test(rule.cssText)) return true;
    }
  }
  return false;
}

/**
 * Shows the mail as a mail client in `scheme` ('light' or 'dark') would: its own
 * prefers-color-scheme rules (stylesheets, <picture> sources) are decided for that scheme, and
 * its canvas follows when the mail supports dark. The UI's own theme no longer leaks in.
 */
export function applyScheme(doc, scheme) {
  for (const sheet of doc.styleSheets) {
    try {
      decideList(sheet.media, sheet, scheme);
      decideRules(sheet.cssRules, scheme);
    } catch { /* a remote stylesheet (remote images on): not ours to read */ }
  }
  for (const source of doc.querySelectorAll('source[media]')) {
    if (!originals.has(source)) {
      const media = source.getAttribute('media');
      if (!/prefers-color-scheme/i.test(media)) continue;
      originals.set(source, media);
    }
    source.setAttribute('media', decideMedia(originals.get(source), scheme));
  }
  const dark = scheme === 'dark' && supportsDark(doc);
  doc.documentElement.style.colorScheme = dark ? 'dark' : 'light';
  return dark;
}

/**
 * Wires a loaded preview frame: links, keys (`onKey(event)` for shortcuts), and the scheme.
 * Returns the frame's document, or null when it cannot be reached.
 */
export function wireFrame(frame, { onKey, scheme }) {
  let doc;
  try {
    doc = frame.contentDocument;
  } catch {
    return null;
  }
  if (!doc || !doc.documentElement) return null;
  followLinks(doc);
  doc.addEventListener('keydown', (ev) => onKey(ev));
  applyScheme(doc, scheme);
  return doc;
}
