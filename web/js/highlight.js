// A small HTML highlighter for the "HTML source" view. It tokenizes the text (tags, attributes,
// values, comments, entities, and the raw text of <style> and <script>) and builds text nodes in
// classed spans, one block per line so long lines can wrap beside their numbers. Nothing is
// parsed as HTML: the mail's markup only ever becomes text.

import { h } from './dom.js';

const TAG = /<(\/?)([A-Za-z][^\s/>]*)/y;
const SPACE = /[\s]+/y;
const ATTR = /[^\s"'>/=]+/y;
const EQ = /\s*=\s*/y;
const QUOTED = /"[^"]*"?|'[^']*'?/y;
const UNQUOTED = /[^\s>]+/y;
const ENTITY = /&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);/y;
const RAW = new Set(['script', 'style', 'textarea', 'title']);

function at(re, src, i) {
  re.lastIndex = i;
  const m = re.exec(src);
  return m ? m[0] : null;
}

/** [class, text] runs covering `src` exactly. */
export function tokenizeHtml(src) {
  const out = [];
  const push = (cls, text) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last[0] === cls) last[1] += text;
    else out.push([cls, text]);
  };
  const n = src.length;
  let i = 0;
  while (i < n) {
    const c = src[i];
    if (c === '<' && src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      const stop = end < 0 ? n : end + 3;
      push('hl-comment', src.slice(i, stop));
      i = stop;
      continue;
    }
    if (c === '<' && (src[i + 1] === '!' || src[i + 1] === '?')) {
      const end = src.indexOf('>', i);
      const stop = end < 0 ? n : end + 1;
      push('hl-doctype', src.slice(i, stop));
      i = stop;
      continue;
    }
    if (c === '<') {
      TAG.lastIndex = i;
      const m = TAG.exec(src);
      if (m) {
        push('hl-punct', `<${m[1]}`);
        push('hl-tag', m[2]);
        i = TAG.lastIndex;
        // Attributes up to the closing '>'.
        while (i < n && src[i] !== '>') {
          let t = at(SPACE, src, i);
          if (t) {
            push('', t);
            i += t.length;
            continue;
          }
          if (src[i] === '/') {
            push('hl-punct', '/');
            i++;
            continue;
          }
          t = at(ATTR, src, i) || src[i];
          push('hl-attr', t);
          i += t.length;
          const eq = at(EQ, src, i);
          if (eq) {
            push('hl-punct', eq);
            i += eq.length;
            const v = at(QUOTED, src, i) || at(UNQUOTED, src, i);
            if (v) {
              push('hl-value', v);
              i += v.length;
            }
          }
        }
        if (i < n) {
          push('hl-punct', '>');
          i++;
        }
        const name = m[2].toLowerCase();
        if (!m[1] && RAW.has(name)) {
          // Everything up to the matching end tag is text (CSS, script, a title).
          const lower = src.slice(i).toLowerCase();
          const end = lower.indexOf(`</${name}`);
          const stop = end < 0 ? n : i + end;
          push(name === 'style' || name === 'script' ? 'hl-raw' : '', src.slice(i, stop));
          i = stop;
        }
        continue;
      }
    }
    if (c === '&') {
      const e = at(ENTITY, src, i);
      if (e) {
        push('hl-entity', e);
        i += e.length;
        continue;
      }
    }
    let next = i + 1;
    while (next < n && src[next] !== '<' && src[next] !== '&') next++;
    push('', src.slice(i, next));
    i = next;
  }
  return out;
}

/**
 * The lines of `src` as block elements (class "src-line", numbered by CSS), highlighted as HTML
 * when `html`, else plain text.
 */
export function sourceLines(src, { html = false } = {}) {
  const frag = document.createDocumentFragment();
  let line = h('span', { class: 'src-line' });
  let count = 0;
  const endLine = () => {
    // An empty line still takes a line's height.
    if (!line.firstChild) line.append('\u200b');
    frag.append(line);
    count++;
    line = h('span', { class: 'src-line' });
  };
  const tokens = html ? tokenizeHtml(src) : [['', src]];
  for (const [cls, text] of tokens) {
    const pieces = text.split(/\r?\n/);
    pieces.forEach((piece, k) => {
      if (k > 0) endLine();
      if (!piece) return;
      line.append(cls ? h('span', { class: cls, text: piece }) : document.createTextNode(piece));
    });
  }
  if (line.firstChild) endLine();
  return { frag, count };
}
