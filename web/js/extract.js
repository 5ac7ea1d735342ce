// The "Links & codes" strip under a message's headers: its likely one-time codes and the links a
// reader would click, each with a copy button (EXT `api/v1/message/{ID}/extract`). Hidden when the
// message has neither.

import { api } from './api.js';
import { h, copyButton, plural } from './dom.js';

/** Links shown before "all N links". */
const FIRST_LINKS = 3;

/** The strip for message `id`; it fills itself once the server answers. */
export function extractStrip(id, { toast }) {
  const box = h('section', { class: 'msg-extract', id: 'msg-extract', 'aria-label': 'Links and codes', hidden: true });
  api.extract(id).then((found) => {
    // The message may have been closed or replaced meanwhile.
    if (box.isConnected) fill(box, found, toast);
  }, () => { /* No strip: the message itself says what went wrong, if anything did. */ });
  return box;
}

function fill(box, found, toast) {
  const codes = found?.Codes || [];
  const links = found?.Links || [];
  if (!codes.length && !links.length) return;
  const rows = [];
  if (codes.length) {
    rows.push(h('div', { class: 'extract-row' },
      h('span', { class: 'extract-label', text: codes.length > 1 ? 'Codes' : 'Code' }),
      h('ul', { class: 'extract-codes' }, codes.slice(0, 3).map((c) => h('li', { class: 'extract-code', title: c.Context },
        h('code', { text: c.Code }), copyButton(c.Code, `the code ${c.Code}`, toast))))));
  }
  if (links.length) {
    const list = h('ul', { class: 'extract-links' });
    const show = (n) => list.replaceChildren(...links.slice(0, n).map((l) => {
      const target = l.Visible || l.URL;
      return h('li', { class: 'extract-link' },
        h('a', { href: l.URL, target: '_blank', rel: 'noopener noreferrer', title: l.URL },
          l.Text && l.Text !== target ? h('span', { class: 'extract-link-text', text: l.Text }) : null,
          h('span', { class: 'extract-link-url', text: target })),
        copyButton(target, 'the link', toast));
    }));
    show(FIRST_LINKS);
    const more = links.length > FIRST_LINKS
      ? h('button', { type: 'button', class: 'btn btn-sm btn-ghost extract-more', text: `All ${plural(links.length, 'link')}`,
        onclick: (ev) => { show(links.length); ev.currentTarget.remove(); } })
      : null;
    rows.push(h('div', { class: 'extract-row' }, h('span', { class: 'extract-label', text: 'Links' }), list, more));
  }
  box.replaceChildren(h('h2', { class: 'sr-only', text: 'Links and codes' }), ...rows);
  box.hidden = false;
}
