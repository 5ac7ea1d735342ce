// The mailbox switcher: which mailbox this page shows (its address is ROOT/mailbox/NAME/, so a
// link to it can be shared, and its list, search and live updates are that mailbox's alone), and
// the others with their unread counts. Hidden while the server has no mailboxes: nothing changes
// for a user with one inbox. A native <select>, so it is keyboard- and screen-reader-ready.

import { api, place } from './api.js';
import { plural } from './dom.js';

/** Counts change in other mailboxes without frames here: look again this often while visible. */
const REFRESH_MS = 15_000;

const ROOT = '';

export class MailboxSwitcher {
  constructor(wrap, select) {
    this.wrap = wrap;
    this.select = select;
    this.timer = 0;
    this.loading = null;
    select.addEventListener('change', () => this.go(select.value));
    // Fresh counts when the user reaches for it.
    select.addEventListener('focus', () => this.refresh());
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.refresh();
    });
  }

  /** Where choosing `value` goes: the root view, or a mailbox's page. */
  href(value) {
    return value === ROOT ? place.root : `${place.root}mailbox/${encodeURIComponent(value)}/`;
  }

  go(value) {
    if (value === (place.mailbox ?? ROOT)) return;
    location.assign(this.href(value));
  }

  /** Soon, at most once at a time (called on live frames too). */
  refresh() {
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  async load() {
    clearTimeout(this.timer);
    let answer;
    try {
      answer = await api.mailboxes();
    } catch {
      // An older server, or a user without the list: no switcher.
      answer = null;
    }
    if (!document.hidden) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
    this.render(answer);
  }

  render(answer) {
    const boxes = answer?.mailboxes ?? [];
    const current = place.mailbox?.toLowerCase() ?? ROOT;
    // This page's mailbox is listed even before its first message made it.
    if (current !== ROOT && !boxes.some((b) => b.Name === current)) boxes.push({ Name: current, Total: 0, Unread: 0 });
    boxes.sort((a, b) => a.Name.localeCompare(b.Name));
    const show = boxes.length > 0 && (boxes.length > 1 || current === ROOT || answer?.root !== false);
    this.wrap.hidden = !show;
    if (!show) return;
    const options = [];
    if (answer?.root !== false) options.push(this.option(ROOT, 'All mailboxes', null));
    for (const b of boxes) options.push(this.option(b.Name, b.Name, b));
    // Keep the element (and its focus) and replace only what changed.
    const key = options.map((o) => `${o.value}\u0000${o.textContent}`).join('\u0001');
    if (key !== this.key) {
      this.key = key;
      this.select.replaceChildren(...options);
    }
    this.select.value = current;
  }

  option(value, label, box) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = box && box.Unread > 0 ? `${label} (${box.Unread.toLocaleString()} unread)` : label;
    if (box) o.title = `${plural(box.Total, 'message')}, ${box.Unread.toLocaleString()} unread`;
    return o;
  }
}
