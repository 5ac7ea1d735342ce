// The message list: a sparse model of the (live or searched) list, filled page by page as rows
// come into view, and a virtual view that only ever builds the rows on screen. Smooth with tens of
// thousands of messages: scrolling touches a few dozen reused row elements, never the whole list.
// The reading position is a message, not an index: the cursor follows its message when mail
// arrives or leaves above it, and a reload keeps the row being read where it was on screen.

import { api } from './api.js';
import { rowChips } from './tags.js';
import { h, icon, replace, formatSize, relativeTime, listTime, exactTime, addressShort, addressText, recipientsShort } from './dom.js';

export const PAGE = 100;

/** The page-aligned request covering [first, last]. */
function span(first, last) {
  const start = Math.max(0, Math.floor(Math.max(0, first) / PAGE) * PAGE);
  const end = Math.max(start + PAGE, Math.ceil((last + 1) / PAGE) * PAGE);
  return { start, end };
}

/**
 * What is selected: some messages by ID, or the whole list (or search) however long it is, which
 * is what "Select all 3 012" means. Toggling one row of a whole-list selection turns it back into
 * IDs (the loaded ones), as in a mail client.
 */
export class Selection {
  constructor(loadedIds) {
    this.loadedIds = loadedIds;
    this.ids = new Set();
    this.all = false;
  }

  get any() {
    return this.all || this.ids.size > 0;
  }

  get size() {
    return this.ids.size;
  }

  has(id) {
    return this.all || this.ids.has(id);
  }

  /** The user selects one. */
  add(id) {
    this.ids.add(id);
  }

  /** The user unselects one. */
  delete(id) {
    if (this.all) {
      this.all = false;
      this.ids = new Set(this.loadedIds());
    }
    this.ids.delete(id);
  }

  /** A message is gone: it can no longer be selected. */
  forget(id) {
    this.ids.delete(id);
  }

  selectAll() {
    this.all = true;
    this.ids.clear();
  }

  clear() {
    this.all = false;
    this.ids.clear();
  }

  [Symbol.iterator]() {
    return this.ids[Symbol.iterator]();
  }
}

export class ListModel {
  constructor({ onChange, onInconsistent }) {
    this.onChange = onChange;
    this.onInconsistent = onInconsistent;
    this.source = { kind: 'all', query: '' };
    this.items = [];
    this.byId = new Map();
    this.total = 0;
    this.unread = 0;
    this.gen = 0;
    this.loading = new Set();
    this.loaded = false;
    this.error = null;
    this.inflight = null;
  }

  get searching() {
    return this.source.kind === 'search';
  }

  fetchPage(start, limit, signal, around) {
    return this.searching ? api.search(this.source.query, start, limit, signal, around) : api.list(start, limit, signal, around);
  }

  /**
   * Switches between the live list and a search, and loads its first page. A search the server
   * cannot parse (400) leaves the previous list in place and rejects with the error.
   */
  async setSource(source, visible = [0, PAGE - 1]) {
    const previous = { source: this.source, loaded: this.loaded };
    this.source = source;
    this.loaded = false;
    const result = await this.refresh(visible, { quiet400: source.kind === 'search' });
    if (result && result.error) {
      this.source = previous.loaded ? previous.source : { kind: 'all', query: '' };
      if (previous.loaded) this.loaded = true;
      else await this.refresh(visible);
      throw result.error;
    }
    return result;
  }

  /**
   * Reloads the pages covering `visible` and forgets everything else (for searches after new
   * mail, and the live list after a gap). The old rows stay on screen until the answer is in.
   * With `anchor` ({id, index}), the rows are those around where that message is now, placed by
   * the server in the same request: `index` (its old place, or -1 when unknown) says how many
   * rows go above it. Resolves to {index} (the anchor's index now, or -1), or null when
   * overtaken by a later reload.
   */
  async refresh([first, last] = [0, PAGE - 1], { anchor = null, quiet400 = false } = {}) {
    const gen = ++this.gen;
    this.loading.clear();
    this.inflight?.abort();
    const ctl = new AbortController();
    this.inflight = ctl;
    const { start, end } = span(first, last);
    let limit = end - start;
    let around;
    if (anchor) {
      // Rows above the anchor: as on screen, or centred when its place is unknown; and half a
      // page more each side, so a little scrolling finds rows loaded.
      const above = anchor.index >= 0 ? anchor.index - first : Math.floor((last - first) / 2);
      around = { id: anchor.id, before: Math.max(0, above) + PAGE / 2 };
      limit = Math.max(limit, last - first + 1 + PAGE);
    }
    this.loading.add(start);
    try {
      const resp = await this.fetchPage(start, limit, ctl.signal, around);
      if (gen !== this.gen) return null;
      // The server says where the page starts (around the anchor, or `start` if it is gone).
      const at = resp.start ?? start;
      const index = anchor ? indexIn(resp, at, anchor.id) : -1;
      this.loading.clear();
      this.error = null;
      this.items = new Array(resp.messages_count);
      this.byId.clear();
      this.total = resp.messages_count;
      this.unread = resp.messages_unread ?? resp.unread;
      this.place(at, resp.messages, 0);
      this.loaded = true;
      this.onChange({ kind: 'reset', counts: { total: resp.total, unread: resp.unread }, tags: resp.tags });
      return { index };
    } catch (e) {
      if (gen !== this.gen || e.name === 'AbortError') return null;
      this.loading.clear();
      if (quiet400 && e.status === 400) return { error: e };
      this.error = e;
      this.onChange({ kind: 'error', error: e });
      return null;
    } finally {
      if (this.inflight === ctl) this.inflight = null;
    }
  }

  /**
   * Where message `id` is in the list now, or -1 (gone, or overtaken by a reload): the server
   * places a page around it in one request, exact however fast mail arrives, and those rows are
   * kept.
   */
  async locate(id) {
    const gen = this.gen;
    const resp = await this.fetchPage(0, PAGE, undefined, { id, before: PAGE / 4 });
    if (gen !== this.gen) return -1;
    const at = resp.start ?? 0;
    const k = resp.messages.findIndex((m) => m.ID === id);
    if (k < 0) return -1;
    if (this.searching && resp.messages_count !== this.total) {
      this.onInconsistent();
      return -1;
    }
    // As in load(): what arrived since the server answered is already applied here.
    const shift = this.searching ? 0 : this.total - resp.messages_count;
    if (!this.place(at, resp.messages, shift)) {
      this.onInconsistent();
      return -1;
    }
    this.onChange({ kind: 'page' });
    return at + k + shift;
  }

  /** Loads any missing page that overlaps [first, last]. */
  ensure(first, last) {
    if (!this.loaded) return;
    first = Math.max(0, first);
    last = Math.min(this.total - 1, last);
    for (let p = Math.floor(first / PAGE) * PAGE; p <= last; p += PAGE) {
      if (this.loading.has(p)) continue;
      const end = Math.min(this.total, p + PAGE);
      let missing = false;
      for (let i = p; i < end; i++) {
        if (this.items[i] === undefined) {
          missing = true;
          break;
        }
      }
      if (missing) this.load(p);
    }
  }

  async load(start) {
    const gen = this.gen;
    this.loading.add(start);
    let resp;
    try {
      resp = await this.fetchPage(start, PAGE);
    } catch (e) {
      if (gen === this.gen) {
        this.loading.delete(start);
        this.onChange({ kind: 'error', error: e });
      }
      return;
    }
    if (gen !== this.gen) return;
    this.loading.delete(start);
    if (this.searching && resp.messages_count !== this.total) {
      // The matches changed under us: reload what is shown.
      this.onInconsistent();
      return;
    }
    // In the live list, messages that arrived (or left) since the server answered are already
    // applied here from the event stream; their count is how far the server's positions are off.
    const shift = this.searching ? 0 : this.total - resp.messages_count;
    if (!this.place(start, resp.messages, shift)) this.onInconsistent();
    this.onChange({ kind: 'page' });
  }

  /**
   * Puts a page's messages at their positions; false (and nothing placed) when any contradicts
   * what is known: the shift is off (live frames still in flight), and placing the rest would put
   * them at wrong places beside the right ones, where a click or j/k would open the wrong mail.
   */
  place(start, messages, shift) {
    const at = (k) => start + k + shift;
    const fits = (i) => i >= 0 && i < this.total;
    const contradicts = messages.some((m, k) => {
      const i = at(k);
      if (!fits(i)) return false;
      const current = this.items[i];
      return (current && current.ID !== m.ID) || (this.byId.has(m.ID) && current?.ID !== m.ID);
    });
    if (contradicts) return false;
    messages.forEach((m, k) => {
      const i = at(k);
      if (!fits(i)) return;
      this.items[i] = m;
      this.byId.set(m.ID, m);
    });
    return true;
  }

  /** A page or a reload is on its way. */
  get busy() {
    return this.inflight !== null || this.loading.size > 0;
  }

  /** New messages (newest last in `batch`), live list only: they go on top. */
  prepend(batch) {
    const fresh = batch.filter((m) => !this.byId.has(m.ID)).reverse();
    if (fresh.length === 0) return 0;
    for (const m of fresh) this.byId.set(m.ID, m);
    this.items.splice(0, 0, ...fresh);
    this.total += fresh.length;
    // Pages in flight now land `fresh.length` further down; `load` corrects by the total.
    return fresh.length;
  }

  /**
   * Removes a message; returns its index, or -1 when it was not loaded. A message that was not
   * loaded sat somewhere in a part not fetched yet (or, in a search, maybe not in the results):
   * the live list only knows it is one shorter, and the caller reloads what is on screen.
   */
  remove(id) {
    const m = this.byId.get(id);
    if (!m) {
      if (!this.searching && this.total > 0) {
        this.total -= 1;
        this.items.length = this.total;
      }
      return -1;
    }
    const i = this.items.indexOf(m);
    this.byId.delete(id);
    if (i >= 0) this.items.splice(i, 1);
    this.total = Math.max(0, this.total - 1);
    this.items.length = this.total;
    return i;
  }

  clear() {
    this.gen++;
    this.inflight?.abort();
    this.loading.clear();
    this.items = [];
    this.byId.clear();
    this.total = 0;
  }

  setRead(id, read) {
    const m = this.byId.get(id);
    if (!m || m.Read === read) return false;
    m.Read = read;
    return true;
  }

  /** A message's tags changed (here or elsewhere); false when it is not loaded. */
  setTags(id, tags) {
    const m = this.byId.get(id);
    if (!m) return false;
    m.Tags = [...tags];
    return true;
  }

  indexOf(id) {
    const m = this.byId.get(id);
    return m ? this.items.indexOf(m) : -1;
  }
}

function indexIn(resp, start, id) {
  const k = resp.messages.findIndex((m) => m.ID === id);
  return k >= 0 ? start + k : -1;
}

/** The rows on screen, reused as the list scrolls. */
export class ListView {
  constructor(model, { scroll, spacer, selection, isOpen, onOpen, onSelect, onCursor }) {
    this.model = model;
    this.scroll = scroll;
    this.spacer = spacer;
    this.selection = selection;
    this.isOpen = isOpen;
    this.onOpen = onOpen;
    this.onSelect = onSelect;
    this.onCursor = onCursor;
    this.rowH = 76;
    this.active = new Map();
    this.pool = [];
    this.cursor = -1;
    /** The message under the cursor ({id}): the cursor follows it when rows move. */
    this.cursorRef = null;
    this.tabRow = -1;
    this.fresh = new Map();
    this.lastChecked = -1;
    this.frame = 0;
    this.clockTick = 0;
    this.timeMode = 'absolute';
    this.measure();
    scroll.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => {
      this.measure();
      this.schedule();
    }).observe(scroll);
    setInterval(() => {
      this.clockTick++;
      this.schedule();
    }, 30_000);
  }

  measure() {
    const v = parseFloat(getComputedStyle(this.scroll).getPropertyValue('--row-h'));
    if (v > 0 && v !== this.rowH) {
      const top = this.scroll.scrollTop / this.rowH;
      this.rowH = v;
      this.syncHeight();
      this.scroll.scrollTop = top * v;
      for (const row of this.active.values()) row.key = '';
    }
  }

  /** The spacer's height now, so that a scroll position set next is not clamped to the old one. */
  syncHeight() {
    this.spacer.style.height = `${this.model.total * this.rowH}px`;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** The index range on screen. */
  visibleRange() {
    const first = Math.floor(this.scroll.scrollTop / this.rowH);
    const count = Math.ceil(this.scroll.clientHeight / this.rowH);
    return [first, Math.min(this.model.total - 1, first + count)];
  }

  /** Whether row `i` is (at least half) on screen. */
  isVisible(i) {
    if (i < 0) return false;
    const top = i * this.rowH - this.scroll.scrollTop;
    return top > -this.rowH / 2 && top + this.rowH / 2 < this.scroll.clientHeight;
  }

  render() {
    const { model } = this;
    const total = model.total;
    this.syncHeight();
    const [first, last] = this.visibleRange();
    const from = Math.max(0, first - 8);
    const to = Math.min(total - 1, last + 8);
    // One tab stop for the whole list: the cursor's row, else the first one on screen.
    this.tabRow = this.cursor >= from && this.cursor <= to ? this.cursor : Math.min(first, to);
    const hadFocus = this.spacer.contains(document.activeElement);
    const next = new Map();
    for (const [i, row] of this.active) {
      if (i >= from && i <= to) next.set(i, row);
      else this.pool.push(row);
    }
    for (let i = from; i <= to; i++) {
      let row = next.get(i);
      if (!row) {
        row = this.pool.pop() || this.createRow();
        next.set(i, row);
      }
      this.fill(row, i, model.items[i]);
    }
    for (const row of this.pool) {
      if (row.el.parentNode) row.el.remove();
      row.index = -1;
    }
    this.active = next;
    // Keep the document order the visual order, for assistive technology and Tab.
    let prev = null;
    for (let i = from; i <= to; i++) {
      const el = next.get(i).el;
      const want = prev ? prev.nextSibling : this.spacer.firstChild;
      if (want !== el) this.spacer.insertBefore(el, want);
      prev = el;
    }
    if (hadFocus && !this.spacer.contains(document.activeElement)) this.focusCursor();
    model.ensure(first - PAGE / 2, last + PAGE / 2);
  }

  createRow() {
    const check = h('input', { type: 'checkbox', class: 'row-check', tabindex: '-1' });
    const unread = h('span', { class: 'sr-only' });
    const from = h('span', { class: 'row-from' });
    const to = h('span', { class: 'row-to' });
    const time = h('time', { class: 'row-time' });
    const subject = h('span', { class: 'row-subject' });
    const clip = icon('clip', 'row-clip');
    const size = h('span', { class: 'row-size' });
    const snippet = h('span', { class: 'row-snippet' });
    const tags = h('span', { class: 'row-tags' });
    const link = h('a', { class: 'row-link', tabindex: '-1' },
      h('span', { class: 'row-line row-line1' }, unread, h('span', { class: 'row-dot', 'aria-hidden': 'true' }), from, to, time),
      h('span', { class: 'row-line row-line2' }, subject, clip, size),
      h('span', { class: 'row-line row-line3' }, tags, snippet));
    const el = h('div', { class: 'row', role: 'listitem' }, check, link);
    const row = { el, check, link, unread, from, to, time, subject, clip, size, snippet, tags, index: -1, key: '' };
    check.addEventListener('click', (ev) => this.onCheck(row, ev));
    link.addEventListener('click', (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      if (row.index >= 0 && this.model.items[row.index]) this.onOpen(row.index, { focus: false });
    });
    link.addEventListener('focus', () => {
      if (row.index >= 0 && row.index !== this.cursor) this.setCursor(row.index, { scroll: false, focus: false });
    });
    return row;
  }

  fill(row, i, m) {
    if (!row.el.parentNode) this.spacer.append(row.el);
    if (row.index !== i) {
      row.el.style.transform = `translateY(${i * this.rowH}px)`;
      row.index = i;
    }
    // The tab stop moves as the list scrolls: only the attribute changes, not the whole row.
    const tab = i === this.tabRow ? 0 : -1;
    if (row.link.tabIndex !== tab) row.link.tabIndex = tab;
    const selected = m ? this.selection.has(m.ID) : false;
    const key = m
      ? `${m.ID}|${m.Read}|${(m.Tags || []).join('\u0000')}|${selected}|${i === this.cursor}|${this.isOpen(m.ID)}|${this.fresh.has(m.ID)}|${this.clockTick}|${this.timeMode}|${i}|${this.model.total}`
      : `empty|${i}|${i === this.cursor}`;
    if (row.key === key) return;
    row.key = key;
    row.el.setAttribute('aria-posinset', String(i + 1));
    row.el.setAttribute('aria-setsize', String(this.model.total));
    row.el.classList.toggle('is-cursor', i === this.cursor);
    if (!m) {
      row.el.classList.add('is-loading');
      row.el.classList.remove('is-unread', 'is-selected', 'is-open', 'is-new');
      row.check.disabled = true;
      row.check.checked = false;
      row.link.removeAttribute('href');
      for (const part of [row.from, row.to, row.time, row.subject, row.size, row.snippet, row.unread, row.tags]) part.textContent = '';
      row.check.setAttribute('aria-label', 'Loading');
      return;
    }
    row.el.classList.remove('is-loading');
    row.el.classList.toggle('is-unread', !m.Read);
    row.el.classList.toggle('is-selected', selected);
    row.el.classList.toggle('is-open', this.isOpen(m.ID));
    row.el.classList.toggle('is-new', this.fresh.has(m.ID));
    row.check.disabled = false;
    row.check.checked = selected;
    row.link.href = this.hrefFor(m.ID);
    if (this.isOpen(m.ID)) row.link.setAttribute('aria-current', 'true');
    else row.link.removeAttribute('aria-current');
    const subject = m.Subject || '(no subject)';
    row.check.setAttribute('aria-label', `Select: ${subject}`);
    row.unread.textContent = m.Read ? '' : 'Unread. ';
    row.from.textContent = addressShort(m.From) || '(no sender)';
    row.from.title = addressText(m.From);
    const recipients = [...(m.To || []), ...(m.Cc || [])];
    const bcc = m.Bcc || [];
    row.to.textContent = recipients.length || bcc.length
      ? `→ ${recipientsShort(recipients.length ? recipients : bcc)}`
      : '';
    row.to.title = [...recipients, ...bcc].map(addressText).join(', ');
    // The list shows when each message arrived (its order), not its Date header.
    row.time.textContent = this.timeMode === 'relative' ? relativeTime(m.Created) : listTime(m.Created);
    row.time.title = `Received ${exactTime(m.Created)}`;
    row.time.dateTime = m.Created;
    row.subject.textContent = subject;
    row.subject.classList.toggle('is-empty', !m.Subject);
    row.clip.classList.toggle('is-hidden', !(m.Attachments > 0));
    row.size.textContent = formatSize(m.Size);
    row.size.title = m.Attachments > 0
      ? `${m.Size.toLocaleString()} bytes, ${m.Attachments} attachment${m.Attachments === 1 ? '' : 's'}`
      : `${m.Size.toLocaleString()} bytes`;
    row.snippet.textContent = m.Snippet || '';
    replace(row.tags, rowChips(m.Tags));
  }

  onCheck(row, ev) {
    const m = this.model.items[row.index];
    if (!m) return;
    const on = row.check.checked;
    if (ev.shiftKey && this.lastChecked >= 0 && this.lastChecked !== row.index) {
      const [a, b] = [Math.min(this.lastChecked, row.index), Math.max(this.lastChecked, row.index)];
      for (let i = a; i <= b; i++) {
        const x = this.model.items[i];
        if (x) on ? this.selection.add(x.ID) : this.selection.delete(x.ID);
      }
    } else if (on) this.selection.add(m.ID);
    else this.selection.delete(m.ID);
    this.lastChecked = row.index;
    this.onSelect();
    this.invalidate();
  }

  hrefFor(id) {
    return this.linkFor ? this.linkFor(id) : `#m=${encodeURIComponent(id)}`;
  }

  /** Forces every row to be filled again on the next frame. */
  invalidate() {
    for (const row of this.active.values()) row.key = '';
    this.schedule();
  }

  /** Marks a message as just arrived, for a short highlight. */
  markFresh(id) {
    this.fresh.set(id, setTimeout(() => {
      this.fresh.delete(id);
      this.schedule();
    }, 2500));
  }

  setCursor(i, { scroll = true, focus = true } = {}) {
    const total = this.model.total;
    if (total === 0) {
      this.cursor = -1;
      this.cursorRef = null;
      this.invalidate();
      return;
    }
    i = Math.max(0, Math.min(total - 1, i));
    this.cursor = i;
    const m = this.model.items[i];
    this.cursorRef = m ? { id: m.ID } : this.cursorRef;
    if (scroll) this.scrollToIndex(i);
    this.invalidate();
    this.onCursor?.(i);
    if (focus) {
      // The row may not exist until the next frame.
      this.render();
      this.focusCursor();
    }
  }

  /** Puts the cursor on row `i` (no scrolling, no focus), remembering its message. */
  placeCursor(i) {
    this.cursor = i;
    const m = this.model.items[i];
    if (m) this.cursorRef = { id: m.ID };
  }

  /** After the rows were replaced: the cursor goes back to its message if that is loaded. */
  followCursor() {
    if (this.cursorRef) {
      const i = this.model.indexOf(this.cursorRef.id);
      if (i >= 0) this.cursor = i;
    }
    if (this.cursor >= this.model.total) this.cursor = this.model.total - 1;
  }

  focusCursor() {
    for (const row of this.active.values()) {
      if (row.index === this.cursor) {
        row.link.focus({ preventScroll: true });
        return;
      }
    }
  }

  scrollToIndex(i, { center = false } = {}) {
    const top = i * this.rowH;
    const bottom = top + this.rowH;
    const view = this.scroll;
    this.syncHeight();
    if (center) view.scrollTop = Math.max(0, top - (view.clientHeight - this.rowH) / 2);
    else if (top < view.scrollTop) view.scrollTop = top;
    else if (bottom > view.scrollTop + view.clientHeight) view.scrollTop = bottom - view.clientHeight;
  }

  /**
   * `n` rows were inserted (n > 0) or removed (n < 0) at index `at`. The cursor follows its
   * message; the rows on screen stay still when the list is scrolled, or when `keep` (the open
   * message's row is on screen: a burst of new mail must not push it away).
   */
  shiftAnchor(n, at = 0, { keep = false } = {}) {
    if (this.cursor >= at && this.cursor >= 0) this.cursor = Math.max(0, this.cursor + n);
    const topIndex = this.scroll.scrollTop / this.rowH;
    if ((this.scroll.scrollTop > 0 || keep) && at <= topIndex) {
      this.syncHeight();
      this.scroll.scrollTop += n * this.rowH;
    }
    if (this.lastChecked >= at) this.lastChecked += n;
  }

  /** What to keep still across a reload: the open row if on screen, else the top row. */
  anchor(openId) {
    const top = this.scroll.scrollTop;
    const openIndex = openId ? this.model.indexOf(openId) : -1;
    const at = (i) => {
      const m = this.model.items[i];
      return m ? { id: m.ID, index: i, offset: i * this.rowH - top } : null;
    };
    if (openIndex >= 0 && this.isVisible(openIndex)) return at(openIndex);
    if (top <= 0) return null;
    return at(Math.floor(top / this.rowH));
  }

  /** Puts row `index` at `offset` px from the top of the list (after a reload). */
  restore(index, offset) {
    this.syncHeight();
    this.scroll.scrollTop = Math.max(0, index * this.rowH - offset);
  }
}
