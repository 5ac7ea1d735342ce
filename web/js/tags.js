// Tags: chips on list rows, the editor on the open message (add with Enter, remove with ×), and
// the tag filter (the tags in use; picking one searches `tag:NAME`; rename and delete are there
// too). The server cleans what is typed (Mailpit's rules) and says what it kept in an `update`
// event, so the UI shows what it asked for at once and what the server kept when that arrives.

import { h, icon, replace } from './dom.js';

/** The search term for a tag: `tag:name`, quoted when the name has a space. */
export function tagQuery(tag) {
  return /\s/.test(tag) ? `tag:"${tag}"` : `tag:${tag}`;
}

/** The tag a query filters by when it is exactly one `tag:` term (as the filter writes it), else null. */
export function activeTag(query) {
  const m = /^tag:(?:"([^"]+)"|([^\s"]+))$/i.exec((query || '').trim());
  return m ? (m[1] ?? m[2]) : null;
}

const same = (a, b) => a.toLowerCase() === b.toLowerCase();

/** The set `tags` plus `added` (split at commas), without a second spelling of any. */
export function withTags(tags, added) {
  const out = [...tags];
  for (const raw of added.split(',')) {
    const t = raw.trim().replace(/\s+/g, ' ');
    if (t && !out.some((x) => same(x, t))) out.push(t);
  }
  return out;
}

/** Equal as sets of names, case-insensitively (the server keeps one spelling). */
export function sameTags(a = [], b = []) {
  return a.length === b.length && a.every((t) => b.some((u) => same(t, u)));
}

/** Chips for a list row (not interactive: the row is one link); at most `max`, then "+N". */
export function rowChips(tags, max = 3) {
  if (!tags || tags.length === 0) return [];
  const shown = tags.slice(0, max).map((t) => h('span', { class: 'chip chip-tag chip-row', text: t }));
  if (tags.length > max) shown.push(h('span', { class: 'chip chip-row chip-more', text: `+${tags.length - max}`, title: tags.slice(max).join(', ') }));
  return [h('span', { class: 'sr-only', text: `Tags: ${tags.join(', ')}. ` }), ...shown];
}

/**
 * The open message's tags: a chip with a labelled × per tag, and an input that adds on Enter.
 * `save(tags)` stores a new set (a promise; a rejection is shown beside the input);
 * `suggestions()` is the tags in use, offered as the input's completions.
 */
export class TagEditor {
  constructor({ save, suggestions }) {
    this.save = save;
    this.suggestions = suggestions;
    this.tags = [];
    this.chips = h('ul', { class: 'tag-chips', 'aria-label': 'Tags' });
    this.list = h('datalist', { id: 'tag-suggestions' });
    this.input = h('input', {
      type: 'text', class: 'input input-sm tag-input', id: 'tag-add', list: 'tag-suggestions',
      placeholder: 'Add tag', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Add a tag',
      'aria-describedby': 'tag-error', maxlength: '100',
    });
    this.error = h('p', { class: 'tag-error', id: 'tag-error', 'aria-live': 'polite', hidden: true });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter' || ev.isComposing) return;
      ev.preventDefault();
      this.add();
    });
    this.input.addEventListener('focus', () => this.fillSuggestions());
    this.input.addEventListener('input', () => this.showError(null));
    this.el = h('div', { class: 'msg-tags', id: 'msg-tags' }, this.chips, this.input, this.list, this.error);
  }

  /** Shows `tags` (from the message, or an update event), keeping the focus where it was. */
  set(tags) {
    const next = [...(tags || [])];
    if (sameTags(next, this.tags) && next.every((t, i) => t === this.tags[i])) return;
    const focused = this.chips.contains(document.activeElement) ? document.activeElement.dataset.tag : null;
    this.tags = next;
    replace(this.chips, next.map((t) => h('li', { class: 'chip chip-tag chip-edit', dataset: { tag: t } },
      h('span', { class: 'chip-text', text: t }),
      h('button', {
        type: 'button', class: 'chip-x', 'aria-label': `Remove tag ${t}`, title: `Remove tag ${t}`, dataset: { tag: t },
        onclick: () => this.remove(t),
      }, icon('x')))));
    if (focused) {
      const again = [...this.chips.querySelectorAll('.chip-x')].find((b) => b.dataset.tag === focused);
      (again || this.input).focus();
    }
  }

  fillSuggestions() {
    const have = this.tags;
    replace(this.list, this.suggestions().filter((t) => !have.some((x) => same(x, t))).map((t) => h('option', { value: t })));
  }

  async add() {
    const value = this.input.value.trim();
    if (!value) return;
    const next = withTags(this.tags, value);
    if (next.length === this.tags.length) {
      this.input.value = '';
      return;
    }
    if (await this.store(next)) this.input.value = '';
  }

  async remove(tag) {
    const buttons = [...this.chips.querySelectorAll('.chip-x')];
    const i = buttons.findIndex((b) => b.dataset.tag === tag);
    // The focus goes to the next chip's ×, else the previous one's, else the input.
    const after = buttons[i + 1]?.dataset.tag ?? buttons[i - 1]?.dataset.tag ?? null;
    if (!(await this.store(this.tags.filter((t) => t !== tag)))) return;
    const target = after ? [...this.chips.querySelectorAll('.chip-x')].find((b) => b.dataset.tag === after) : null;
    (target || this.input).focus();
  }

  async store(next) {
    this.showError(null);
    try {
      await this.save(next);
    } catch (e) {
      this.showError(`Tags not saved: ${e.message}`);
      return false;
    }
    this.set(next);
    return true;
  }

  showError(text) {
    this.error.hidden = !text;
    this.error.textContent = text || '';
    if (text) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  }
}

/**
 * The tag filter: a button beside the list's count that opens the tags in use. Picking one
 * filters the list (`onPick(tag)`, `onPick(null)` for all mail); each tag can be renamed in place
 * (`rename(tag, name)`) or deleted (`remove(tag)`), both promises whose errors are shown inline.
 */
export class TagFilter {
  constructor(button, panel, { onPick, rename, remove }) {
    this.button = button;
    this.panel = panel;
    this.onPick = onPick;
    this.rename = rename;
    this.remove = remove;
    this.tags = [];
    this.active = null;
    this.editing = null;
    this.label = button.querySelector('.tag-filter-label');
    this.list = h('ul', { class: 'tag-menu-list', id: 'tag-menu-list' });
    this.error = h('p', { class: 'tag-menu-error', id: 'tag-menu-error', role: 'alert', hidden: true });
    this.allBtn = h('button', { type: 'button', class: 'link-btn', id: 'tag-menu-all', text: 'Show all mail', onclick: () => this.pick(null) });
    replace(panel,
      h('p', { class: 'tag-menu-title', id: 'tag-menu-title', text: 'Filter by tag' }),
      this.list, this.error,
      h('p', { class: 'tag-menu-foot' }, this.allBtn));
    panel.setAttribute('aria-labelledby', 'tag-menu-title');
    panel.tabIndex = -1;
    button.addEventListener('click', () => (this.isOpen ? this.close({ focus: false }) : this.open()));
    panel.addEventListener('keydown', (ev) => this.key(ev));
    // Leaving the panel (Tab, a click elsewhere) closes it; a confirmation dialog on top does not.
    const elsewhere = (el) => !!el && !panel.contains(el) && !button.contains(el) && !el.closest?.('dialog[open]');
    // (The focus going nowhere, to the body, is not leaving: a click elsewhere is seen as such.)
    panel.addEventListener('focusout', () => {
      setTimeout(() => {
        const now = document.activeElement;
        if (this.isOpen && !document.querySelector('dialog[open]') && now !== document.body && elsewhere(now)) this.close({ focus: false });
      }, 0);
    });
    document.addEventListener('pointerdown', (ev) => {
      if (this.isOpen && elsewhere(ev.target)) this.close({ focus: false });
    });
    this.render();
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  /** The tags in use (sorted by the server). */
  setTags(tags) {
    const next = [...(tags || [])];
    if (next.length === this.tags.length && next.every((t, i) => t === this.tags[i])) return;
    this.tags = next;
    if (this.editing && !this.tags.includes(this.editing)) this.editing = null;
    this.render();
  }

  /** The tag the list is filtered by, or null. */
  setActive(tag) {
    const match = tag ? this.tags.find((t) => same(t, tag)) || tag : null;
    if (match === this.active) return;
    this.active = match;
    this.render();
  }

  open() {
    this.panel.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.showError(null);
    const pick = [...this.list.querySelectorAll('.tag-pick')];
    (pick.find((b) => b.getAttribute('aria-pressed') === 'true') || pick[0] || this.allBtn).focus();
  }

  close({ focus = true } = {}) {
    if (!this.isOpen) return;
    this.panel.hidden = true;
    this.editing = null;
    this.button.setAttribute('aria-expanded', 'false');
    this.render();
    if (focus) this.button.focus();
  }

  pick(tag) {
    this.close();
    this.onPick(tag);
  }

  key(ev) {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      if (this.editing) this.stopEditing();
      else this.close();
      return;
    }
    if (ev.target.classList?.contains('tag-rename-input')) return;
    // Up and down move between the tags; the shortcuts of the list stay out of the menu.
    const picks = [...this.list.querySelectorAll('.tag-pick')];
    const i = picks.indexOf(ev.target.closest('li')?.querySelector('.tag-pick'));
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (picks.length === 0) return;
      const j = i < 0 ? 0 : (i + (ev.key === 'ArrowDown' ? 1 : picks.length - 1)) % picks.length;
      picks[j].focus();
    } else if (ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey && !ev.altKey && ev.key !== ' ') {
      ev.preventDefault();
    }
  }

  render() {
    const active = this.active;
    this.button.classList.toggle('is-active', !!active);
    this.label.textContent = active ? active : 'Tags';
    this.button.setAttribute('aria-label', active ? `Tags: filtered by ${active}` : 'Tags');
    this.button.hidden = this.tags.length === 0 && !active;
    this.allBtn.hidden = !active;
    // The list is rebuilt whenever the tags in use change (maybe while one is focused): the
    // focus stays on the same control, else on its tag, else at the same place in the list.
    const had = this.list.contains(document.activeElement) ? document.activeElement : null;
    const focusedLi = had?.closest('li');
    const focusedIndex = focusedLi ? [...this.list.children].indexOf(focusedLi) : -1;
    const focusedTag = focusedLi?.dataset.tag;
    const focusedKind = had?.dataset.kind;
    replace(this.list, this.tags.length === 0
      ? h('li', { class: 'muted tag-menu-empty', text: 'No tags in use' })
      : this.tags.map((t) => (t === this.editing ? this.editRow(t) : this.row(t))));
    if (!had || !this.isOpen) return;
    const items = [...this.list.children];
    const li = items.find((x) => x.dataset.tag === focusedTag);
    const target = li?.querySelector(`[data-kind="${focusedKind}"]`) || li?.querySelector('[data-kind]')
      || items[Math.min(focusedIndex, items.length - 1)]?.querySelector('.tag-pick')
      || (this.allBtn.hidden ? this.panel : this.allBtn);
    target.focus();
    if (target === this.panel) this.close();
  }

  row(t) {
    const on = !!this.active && same(t, this.active);
    return h('li', { class: `tag-menu-item${on ? ' is-active' : ''}`, dataset: { tag: t } },
      h('button', {
        type: 'button', class: 'tag-pick', 'aria-pressed': String(on), dataset: { kind: 'pick' },
        title: on ? 'Filtering by this tag: press to show all mail' : `Show messages tagged ${t}`,
        onclick: () => this.pick(on ? null : t),
      }, h('span', { class: 'chip chip-tag', text: t })),
      h('button', {
        type: 'button', class: 'icon-btn tag-act', 'aria-label': `Rename tag ${t}`, title: `Rename ${t}`, dataset: { kind: 'rename' },
        onclick: () => this.startEditing(t),
      }, icon('pencil')),
      h('button', {
        type: 'button', class: 'icon-btn tag-act tag-act-danger', 'aria-label': `Delete tag ${t}`, title: `Delete ${t} from every message`, dataset: { kind: 'delete' },
        onclick: () => this.deleteTag(t),
      }, icon('trash')));
  }

  editRow(t) {
    // Kept across rebuilds, so that what is being typed survives a change of the tags in use.
    if (this.editLi?.dataset.tag === t) return this.editLi;
    const input = h('input', {
      type: 'text', class: 'input input-sm tag-rename-input', value: t, maxlength: '100', spellcheck: 'false', dataset: { kind: 'edit' },
      'aria-label': `New name for tag ${t}`, 'aria-describedby': 'tag-menu-error',
    });
    const save = async () => {
      const name = input.value.trim();
      if (!name || name === t) return this.stopEditing();
      try {
        await this.rename(t, name);
      } catch (e) {
        this.showError(`Not renamed: ${e.message}`);
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return null;
      }
      this.editing = null;
      this.showError(null);
      this.render();
      this.focusTag(name, 'rename');
      return null;
    };
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        save();
      }
    });
    this.editLi = h('li', { class: 'tag-menu-item is-editing', dataset: { tag: t } }, input,
      h('button', { type: 'button', class: 'btn btn-sm', text: 'Save', dataset: { kind: 'save' }, onclick: () => save() }));
    return this.editLi;
  }

  startEditing(t) {
    this.editing = t;
    this.editLi = null;
    this.showError(null);
    this.render();
    const input = this.list.querySelector('.tag-rename-input');
    input?.focus();
    input?.select();
  }

  stopEditing() {
    const t = this.editing;
    this.editing = null;
    this.showError(null);
    this.render();
    this.focusTag(t, 'rename');
  }

  focusTag(t, kind) {
    const li = [...this.list.children].find((x) => x.dataset.tag && same(x.dataset.tag, t));
    (li?.querySelector(`[data-kind="${kind}"]`) || this.list.querySelector('.tag-pick') || this.allBtn).focus();
  }

  async deleteTag(t) {
    const li = [...this.list.children];
    const i = li.findIndex((x) => x.dataset.tag === t);
    const next = li[i + 1]?.dataset.tag ?? li[i - 1]?.dataset.tag ?? null;
    let done;
    try {
      done = await this.remove(t);
    } catch (e) {
      this.showError(`Not deleted: ${e.message}`);
      return;
    }
    if (done === false) {
      this.focusTag(t, 'delete');
      return;
    }
    this.showError(null);
    this.tags = this.tags.filter((x) => x !== t);
    this.render();
    if (!this.isOpen) return;
    if (next) this.focusTag(next, 'delete');
    else this.allBtn.hidden ? this.button.focus() : this.allBtn.focus();
  }

  showError(text) {
    this.error.hidden = !text;
    this.error.textContent = text || '';
  }
}
