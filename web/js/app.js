// Wiring: the list, the message view, live updates, search, actions, keyboard and routing.
// The URL fragment holds the state (#q=search&m=ID), so reload, back and forward all work.

import { api } from './api.js';
import { $, h, plural, debounce, prefs } from './dom.js';
import { ListModel, ListView, Selection } from './list.js';
import { MessageView, TABS } from './message.js';
import { Live } from './live.js';
import { installKeys } from './keys.js';
import { initTheme, toggleTheme } from './theme.js';
import { showUnread, initNotifications, notifyNew } from './badge.js';
import { initSplitter } from './splitter.js';
import { welcomeCard, dialAddress } from './welcome.js';
import { TagFilter, tagQuery, activeTag } from './tags.js';
import { ChaosPanel } from './chaos.js';
import { AboutPanel } from './about.js';
import { MailboxSwitcher } from './mailboxes.js';

const narrow = window.matchMedia('(max-width: 760px)');
/** IDs deleted from here, whose delete events are already applied. */
const deletedHere = new Set();
/**
 * The store's totals, always a pair from one moment (a stats frame or a list answer), adjusted
 * locally in between: the count line and the title never mix an old total with a new unread.
 */
const counts = { total: 0, unread: 0 };

function setCounts(total, unread) {
  if (!Number.isFinite(total) || !Number.isFinite(unread)) return;
  counts.total = Math.max(0, total);
  counts.unread = Math.max(0, Math.min(unread, counts.total));
}

// ---- toasts and dialogs ----------------------------------------------------------------

/** One toast at a time: a new one replaces the last, so a burst of errors never piles up. */
const toastState = { el: null, timers: [] };

function toast(text, { error = false } = {}) {
  for (const t of toastState.timers) clearTimeout(t);
  if (!toastState.el) {
    toastState.el = h('div', { class: 'toast' });
    $('toasts').append(toastState.el);
  }
  const el = toastState.el;
  el.className = `toast${error ? ' toast-error' : ''}`;
  el.textContent = text;
  toastState.timers = [
    setTimeout(() => el.classList.add('is-leaving'), error ? 6000 : 3500),
    setTimeout(() => {
      el.remove();
      if (toastState.el === el) toastState.el = null;
    }, error ? 6400 : 3900),
  ];
}

/** Tells screen readers about new mail, at most every few seconds (bursts are summed). */
let announced = 0;
let announceTimer = 0;
function announceNew(n) {
  announced += n;
  if (announceTimer) return;
  announceTimer = setTimeout(() => {
    $('announcer').textContent = `${plural(announced, 'new message')}`;
    announced = 0;
    announceTimer = 0;
  }, 2000);
}

function fail(e) {
  toast(e && e.message ? e.message : String(e), { error: true });
}

function confirmDialog(title, text, okLabel) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

function openHelp() {
  const dialog = $('help-dialog');
  if (!dialog.open) dialog.showModal();
}

// ---- the list ----------------------------------------------------------------------------

/** A step (j/k) pressed before the list had loaded, applied once it has. */
let pendingStep = 0;
/** The cursor's row was not loaded when it should open: open it when it is. */
let wantOpen = false;

const model = new ListModel({
  onChange: (change) => {
    if (change.kind === 'error' && live.state === 'live') toast(`Could not load messages: ${change.error.message}`, { error: true });
    if (change.kind === 'reset') {
      if (change.counts) setCounts(change.counts.total, change.counts.unread);
      if (Array.isArray(change.tags)) setTagsInUse(change.tags);
      fixCursor();
      // After the route's own reset of the cursor (which runs when this reload resolves).
      if (pendingStep) setTimeout(applyPendingStep, 0);
    }
    if (wantOpen && model.items[view.cursor]) {
      wantOpen = false;
      openCursorSoon();
    }
    view.schedule();
    updateChrome();
  },
  onInconsistent: () => resync(),
});

const selection = new Selection(() => model.byId.keys());

let keyHandler = null;

const messageView = new MessageView($('message'), {
  close: () => closeMessage(),
  step: (d) => step(d, { open: true }),
  delete: (id) => deleteIds([id]),
  toggleRead: (id) => toggleRead([id]),
  saveTags: (id, tags) => saveTags(id, tags),
  tagsInUse: () => tagsInUse,
  key: (ev, options) => keyHandler?.(ev, options),
  toast,
});

const view = new ListView(model, {
  scroll: $('list-scroll'),
  spacer: $('list-spacer'),
  selection,
  isOpen: (id) => messageView.openId === id,
  onOpen: (i) => {
    const m = model.items[i];
    if (m) openMessage(m.ID, { push: true });
  },
  onSelect: () => updateChrome(),
  onCursor: () => {},
});
view.linkFor = (id) => routeHash({ q: route.q, m: id });
view.timeMode = prefs.get('list-times') === 'relative' ? 'relative' : 'absolute';

/** After the rows were replaced: the cursor is on its message again, or on the open one. */
function fixCursor() {
  view.followCursor();
  const open = messageView.openId;
  if (open) {
    const i = model.indexOf(open);
    if (i >= 0) view.placeCursor(i);
  }
}

/**
 * The list's length when the user last saw its top: what came since arrived above the rows kept
 * still on screen, and a pill says how much (new mail only ever goes on top of the live list).
 */
let totalAtTop = 0;

function showNewAbove() {
  const pill = $('list-new');
  const atTop = $('list-scroll').scrollTop < view.rowH;
  if (atTop || model.searching) totalAtTop = model.total;
  const n = model.total - totalAtTop;
  // Runs on every scroll event: touch the DOM only when something changes.
  const hide = atTop || n <= 0;
  if (pill.hidden !== hide) pill.hidden = hide;
  const label = hide ? '' : `${plural(n, 'new message')} above`;
  if (!hide && $('list-new-label').textContent !== label) $('list-new-label').textContent = label;
}
$('list-scroll').addEventListener('scroll', () => showNewAbove(), { passive: true });
$('list-new').addEventListener('click', () => {
  $('list-scroll').scrollTop = 0;
  showNewAbove();
});

/**
 * Reloads what is on screen after a gap or a coalesced burst, keeping the reading position: the
 * open row (or the top row) stays where it was on screen, wherever it has moved in the list.
 */
// Live changes arrived while a reload was in flight: its answer may predate them.
let changedDuringReload = false;

async function reload() {
  // The server finds the anchor wherever it is now; the range only says how many rows go above.
  const anchor = view.anchor(messageView.openId);
  changedDuringReload = false;
  const refreshing = model.refresh(view.visibleRange(), { anchor });
  showBusy();
  const result = await refreshing;
  showBusy();
  // What arrived meanwhile was applied to rows the answer then replaced: ask again (debounced, so
  // a flood settles on its last state rather than looping).
  if (changedDuringReload) {
    changedDuringReload = false;
    resync();
  }
  if (!result) return;
  if (anchor && result.index >= 0) view.restore(result.index, anchor.offset);
  fixCursor();
  showNewAbove();
  view.invalidate();
  view.render();
}

const resyncSoon = debounce(() => reload(), 150, { maxWait: 1000 });
const refreshSearch = debounce(() => reload(), 400, { maxWait: 2000 });
/** Live frames received and not yet applied: processQueue applies them together. */
let queue = [];
let queueTimer = 0;

/** Reloads what is shown, soon (debounced: a flood settles on its last state). */
function resync() {
  resyncSoon();
  showBusy();
}

/**
 * `aria-busy` on the list while what it shows is being brought up to date (live frames waiting,
 * a reload due or on its way, a page loading): assistive technology waits for the rows to settle,
 * and so do the browser tests.
 */
function showBusy() {
  const busy = model.busy || queue.length > 0 || resyncSoon.pending() || refreshSearch.pending();
  const list = $('list-scroll');
  // Runs on every frame: touch the DOM only when it changes.
  if (list.hasAttribute('aria-busy') === busy) return;
  if (busy) list.setAttribute('aria-busy', 'true');
  else list.removeAttribute('aria-busy');
}

function updateChrome() {
  showBusy();
  const count = $('list-count');
  const loadedIds = model.byId.size;
  if (!model.loaded) {
    count.textContent = model.error ? 'Could not load messages' : 'Loading…';
  } else if (selection.all) {
    count.textContent = model.searching ? `All ${plural(model.total, 'match', 'matches')} selected` : `All ${plural(model.total, 'message')} selected`;
  } else if (selection.size > 0 && selection.size >= model.total) {
    count.textContent = model.searching ? `All ${plural(model.total, 'match', 'matches')} selected` : `All ${plural(model.total, 'message')} selected`;
  } else if (selection.size > 0) {
    count.textContent = `${selection.size.toLocaleString()} of ${model.total.toLocaleString()} selected`;
  } else if (model.searching) {
    count.textContent = plural(model.total, 'match', 'matches');
  } else {
    count.textContent = counts.unread > 0
      ? `${plural(counts.total, 'message')} · ${counts.unread.toLocaleString()} unread`
      : plural(counts.total, 'message');
  }
  count.classList.toggle('is-stale', live.state !== 'live' && live.state !== 'connecting');
  $('bulk-actions').hidden = !selection.any;
  $('all-actions').hidden = selection.any || model.total === 0;
  $('all-delete-label').textContent = model.searching ? 'Delete matches' : 'Delete all';
  $('all-read-label').textContent = model.searching ? 'Mark matches read' : 'Mark all read';
  $('all-delete').title = $('all-delete-label').textContent;
  $('all-read').title = $('all-read-label').textContent;
  $('all-read').hidden = !model.searching && counts.unread === 0;

  // The header checkbox selects the loaded rows; then the whole list is offered, by its size.
  const all = $('select-all');
  let chosen = 0;
  for (const id of model.byId.keys()) if (selection.has(id)) chosen++;
  all.disabled = loadedIds === 0;
  all.closest('label').hidden = model.total === 0;
  all.checked = selection.all || (loadedIds > 0 && chosen === loadedIds);
  all.indeterminate = !selection.all && chosen > 0 && chosen < loadedIds;
  const banner = $('select-banner');
  const everyLoaded = !selection.all && selection.size > 0 && chosen === loadedIds && model.total > selection.size;
  banner.hidden = !(selection.all || everyLoaded);
  if (selection.all) {
    $('select-banner-text').textContent = model.searching
      ? `All ${plural(model.total, 'match', 'matches')} for “${model.source.query}” are selected.`
      : `All ${plural(model.total, 'message')} are selected.`;
    $('select-banner-action').textContent = 'Clear selection';
  } else if (everyLoaded) {
    $('select-banner-text').textContent = `The ${plural(selection.size, 'loaded message')} ${selection.size === 1 ? 'is' : 'are'} selected.`;
    $('select-banner-action').textContent = model.searching
      ? `Select all ${plural(model.total, 'match', 'matches')}`
      : `Select all ${plural(model.total, 'message')}`;
  }

  const empty = model.loaded && model.total === 0;
  const mailboxEmpty = empty && !model.searching;
  $('list-empty').hidden = !empty;
  document.body.classList.toggle('is-empty', empty);
  document.body.classList.toggle('is-mailbox-empty', mailboxEmpty);
  if (empty) {
    $('list-empty-title').textContent = model.searching ? 'No matches' : 'No mail yet';
    $('list-empty-text').textContent = model.searching
      ? `Nothing matches “${model.source.query}”. Try fewer words, or press Escape to see all mail.`
      : 'Messages sent to this server show up here the moment they arrive.';
  }
  // Nothing to select: no "Select a message" then.
  $('placeholder-title').textContent = empty ? (model.searching ? 'Nothing matches this search' : 'Waiting for mail') : 'Select a message';
  placeWelcome();
  $('search-banner').hidden = !model.searching;
  if (model.searching) $('search-banner-text').textContent = `Results for “${model.source.query}”`;
  showUnread(counts.unread);
}

// ---- the empty state: where to send mail -------------------------------------------------

let about = null;

async function loadAbout() {
  try {
    about = await api.about();
  } catch {
    // An older server: the version at least.
    try {
      const info = await api.info();
      about = { Version: info.Version, Listeners: {} };
    } catch {
      about = null;
    }
  }
  placeWelcome({ rebuild: true });
  showReaders();
}

/** The header's POP3/IMAP addresses, for pointing a mail client at the catch. */
function showReaders() {
  const l = about?.Listeners || {};
  const box = $('readers');
  const entries = [['IMAP', l.IMAP], ['IMAPS', l.IMAPS], ['POP3', l.POP3], ['POP3S', l.POP3S]]
    .filter(([, a]) => a)
    .map(([name, a]) => [name, dialAddress(a)]);
  box.replaceChildren(...entries.map(([name, a]) => h('span', { class: 'reader', 'data-protocol': name },
    `${name} `, h('code', { text: a }))));
  box.title = 'Read this catch with a mail client: a login named like a mailbox reads that mailbox, any other the whole catch';
  box.hidden = entries.length === 0;
}

let welcome = null;

/** The "send mail here" card goes in the message pane, or in the list on a phone. */
function placeWelcome({ rebuild = false } = {}) {
  const show = document.body.classList.contains('is-mailbox-empty');
  if (!show) {
    welcome?.remove();
    return;
  }
  if (!welcome || rebuild) {
    welcome?.remove();
    welcome = welcomeCard(about, { toast });
  }
  const home = narrow.matches ? $('list-empty') : $('message-placeholder');
  if (welcome.parentNode !== home) home.append(welcome);
}

// ---- routing -------------------------------------------------------------------------------

let route = { q: '', m: null };

function parseHash() {
  const raw = location.hash.slice(1);
  if (raw && !raw.includes('=')) return null; // an in-page anchor (the skip link)
  const params = new URLSearchParams(raw);
  return { q: params.get('q') || '', m: params.get('m') || null };
}

function routeHash({ q, m }) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (m) params.set('m', m);
  const s = params.toString();
  return s ? `#${s}` : '';
}

function navigate(next, { push = false } = {}) {
  const target = { ...route, ...next };
  const hash = routeHash(target);
  const url = hash || `${location.pathname}${location.search}`;
  if (hash !== location.hash) {
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }
  return applyRoute(target);
}

async function applyRoute(target) {
  const prev = route;
  route = target;
  tagFilter.setActive(activeTag(target.q));
  if (target.q !== prev.q || !model.loaded) {
    if (searchInput.value.trim() !== target.q) searchInput.value = target.q;
    $('search-clear').hidden = !searchInput.value;
    searchSoon.cancel();
    try {
      await model.setSource(target.q ? { kind: 'search', query: target.q } : { kind: 'all', query: '' }, [0, PAGE_ROWS()]);
      showSearchError(null);
      if (route !== target) return;
      selection.clear();
      view.cursor = -1;
      view.cursorRef = null;
      $('list-scroll').scrollTop = 0;
      totalAtTop = model.total;
      view.invalidate();
      updateChrome();
    } catch (e) {
      // The query cannot be parsed: say why under the box, and keep the list that was shown.
      showSearchError(e.message);
      updateChrome();
    }
  }
  if (target.m !== messageView.openId) {
    if (target.m) await showMessage(target.m);
    else hideMessage();
  }
}

const PAGE_ROWS = () => Math.max(20, Math.ceil($('list-scroll').clientHeight / view.rowH));

window.addEventListener('hashchange', () => {
  const target = parseHash();
  if (target) applyRoute(target);
});
window.addEventListener('popstate', () => {
  const target = parseHash();
  if (target) applyRoute(target);
});

// ---- opening and closing messages -------------------------------------------------------

function openMessage(id, { push = false } = {}) {
  return navigate({ m: id }, { push: push && !route.m });
}

function closeMessage() {
  navigate({ m: null });
}

/** A lookup of the open message's place in the list, while one runs. */
let locating = null;

async function showMessage(id) {
  document.body.classList.add('has-message');
  const i = model.indexOf(id);
  if (i >= 0 && i !== view.cursor) view.setCursor(i, { focus: false });
  view.invalidate();
  const opening = messageView.open(id);
  if (i < 0 && model.loaded) locating = locateOpen(id).finally(() => { locating = null; });
  const m = await opening;
  if (m && model.setRead(id, true)) {
    counts.unread = Math.max(0, counts.unread - 1);
    updateChrome();
    view.invalidate();
  }
  if (m && narrow.matches) $('msg-subject')?.focus?.();
}

/**
 * A message opened by a link or a reload (#m=ID) that is not among the loaded rows: find where
 * it is in the list, load the rows there, and scroll to it, so it is highlighted and j/k go on
 * from it.
 */
async function locateOpen(id) {
  const result = await model.refresh([0, PAGE_ROWS()], { anchor: { id, index: -1 } });
  if (!result || result.index < 0 || messageView.openId !== id) return;
  view.placeCursor(result.index);
  view.scrollToIndex(result.index, { center: true });
  view.invalidate();
  view.render();
}

function hideMessage() {
  const wasOpen = messageView.openId !== null;
  messageView.close();
  document.body.classList.remove('has-message');
  view.invalidate();
  if (wasOpen) view.setCursor(view.cursor, { focus: true });
}

// j/k with a message open: the first press opens at once, a quick run of presses opens the last.
let lastOpenAt = 0;
let openTimer = 0;
function openCursorSoon() {
  clearTimeout(openTimer);
  const go = () => {
    lastOpenAt = performance.now();
    const m = model.items[view.cursor];
    if (!m) {
      wantOpen = true;
      return;
    }
    if (messageView.openId !== m.ID) openMessage(m.ID);
  };
  if (performance.now() - lastOpenAt > 150) go();
  else openTimer = setTimeout(go, 120);
}

async function step(delta, { open = false } = {}) {
  if (!model.loaded) {
    pendingStep += delta;
    return;
  }
  if (model.total === 0) return;
  // The open message's row may be somewhere not loaded (a #m= link): j/k go on from it.
  if (locating) await locating;
  const ref = view.cursorRef;
  if (ref && model.indexOf(ref.id) < 0) {
    // The cursor's message moved out of the loaded rows (a burst while scrolled away): find it.
    const i = await model.locate(ref.id).catch(() => -1);
    if (i >= 0) view.placeCursor(i);
  }
  const from = view.cursor < 0 ? (delta > 0 ? -1 : model.total) : view.cursor;
  view.setCursor(from + delta, { focus: !messageView.openId || !narrow.matches });
  if (open || messageView.openId) openCursorSoon();
}

function applyPendingStep() {
  if (!pendingStep || !model.loaded) return;
  const d = pendingStep;
  pendingStep = 0;
  step(d);
}

// ---- actions -----------------------------------------------------------------------------

/** Removes a message from the list here (its event, when it comes, is then ignored). */
function removeLocal(id) {
  const m = model.byId.get(id);
  const i = model.remove(id);
  selection.forget(id);
  if (i >= 0) view.shiftAnchor(-1, i + 1);
  return { index: i, unread: m ? !m.Read : false, known: !!m };
}

async function deleteIds(ids) {
  if (ids.length === 0) return;
  const openId = messageView.openId;
  const openIndex = openId ? model.indexOf(openId) : -1;
  try {
    await api.delete(ids);
  } catch (e) {
    return fail(e);
  }
  // Remove here at once what is still shown (the events, if not already in, are then skipped);
  // anything else is left to the events.
  const local = ids.filter((id) => model.byId.has(id));
  for (const id of local) {
    deletedHere.add(id);
    const gone = removeLocal(id);
    setCounts(counts.total - 1, counts.unread - (gone.unread ? 1 : 0));
  }
  for (const id of ids) selection.forget(id);
  setTimeout(() => local.forEach((id) => deletedHere.delete(id)), 30_000);
  toast(ids.length === 1 ? 'Message deleted' : `${ids.length.toLocaleString()} messages deleted`);
  if (openId && ids.includes(openId)) afterOpenGone(openIndex);
  else view.setCursor(Math.min(view.cursor, model.total - 1), { focus: !messageView.openId, scroll: false });
  updateChrome();
  view.invalidate();
}

/** The open message is gone: show the one that took its place, else close. */
function afterOpenGone(index) {
  const next = model.items[Math.min(index, model.total - 1)];
  if (index >= 0 && next) {
    view.placeCursor(Math.min(index, model.total - 1));
    openMessage(next.ID);
  } else {
    closeMessage();
  }
}

function targetIds() {
  if (selection.size > 0) return [...selection];
  if (messageView.openId) return [messageView.openId];
  const m = model.items[view.cursor];
  return m ? [m.ID] : [];
}

async function toggleRead(ids) {
  if (selection.all) return setReadEverything(!(model.items[0]?.Read));
  if (ids.length === 0) return;
  const first = model.byId.get(ids[0]);
  const read = ids.length === 1 && messageView.message?.ID === ids[0]
    ? !(messageView.message.Read !== false)
    : !(first?.Read);
  return setRead(ids, read);
}

async function setRead(ids, read) {
  try {
    await api.setRead(ids, read);
  } catch (e) {
    return fail(e);
  }
  for (const id of ids) {
    if (model.setRead(id, read)) counts.unread = Math.max(0, counts.unread + (read ? -1 : 1));
    if (messageView.openId === id) messageView.setRead(read);
  }
  updateChrome();
  view.invalidate();
  if (ids.length > 1) toast(`${ids.length.toLocaleString()} messages marked ${read ? 'read' : 'unread'}`);
}

/** Marks the whole list (or every match) read or unread: what "All N selected" acts on. */
async function setReadEverything(read) {
  const searching = model.searching;
  const n = model.total;
  try {
    if (searching) await api.setReadSearch(model.source.query, read);
    else await api.setReadAll(read);
  } catch (e) {
    return fail(e);
  }
  for (const m of model.byId.values()) m.Read = read;
  if (!searching) counts.unread = read ? 0 : counts.total;
  if (messageView.openId) messageView.setRead(read);
  updateChrome();
  view.invalidate();
  toast(`${plural(n, searching ? 'match' : 'message', searching ? 'matches' : 'messages')} marked ${read ? 'read' : 'unread'}`);
  return null;
}

/** Deletes the whole list, or every match of the search, after asking. */
async function deleteEverything() {
  const searching = model.searching;
  const n = model.total;
  const ok = await confirmDialog(
    searching ? `Delete ${plural(n, 'matching message')}?` : `Delete all ${plural(n, 'message')}?`,
    searching ? `Every message matching “${model.source.query}” is deleted, also any not loaded yet. This cannot be undone.`
      : 'Every captured message is deleted, in every open tab. This cannot be undone.',
    searching ? 'Delete matches' : 'Delete all');
  if (!ok) return;
  try {
    if (searching) await api.deleteSearch(model.source.query);
    else await api.deleteAll();
  } catch (e) {
    return fail(e);
  }
  selection.clear();
  if (searching) {
    model.refresh([0, 0]);
    if (messageView.openId) closeMessage();
  } else {
    model.clear();
    setCounts(0, 0);
    closeMessage();
  }
  toast(searching ? `${plural(n, 'matching message')} deleted` : `All ${plural(n, 'message')} deleted`);
  updateChrome();
  view.invalidate();
}

function markAllRead() {
  return setReadEverything(true);
}

// ---- tags ------------------------------------------------------------------------------------

/** Every tag in use (from list answers and `api/v1/tags`), for the filter and completions. */
let tagsInUse = [];

function setTagsInUse(tags) {
  tagsInUse = [...tags];
  tagFilter.setTags(tagsInUse);
}

async function reloadTags() {
  try {
    setTagsInUse(await api.tags());
  } catch { /* the next list answer carries them too */ }
}

// After tag changes, new mail or deletions the tags in use are asked again, once per burst.
const refreshTags = debounce(reloadTags, 250, { maxWait: 1500 });

async function saveTags(id, tags) {
  await api.setTags([id], tags);
  // The update event says what the server kept (it cleans the names); until then, what was asked.
  model.setTags(id, tags);
  view.invalidate();
  refreshTags();
}

const tagFilter = new TagFilter($('tag-filter'), $('tag-menu'), {
  onPick: (tag) => navigate({ q: tag ? tagQuery(tag) : '', m: null }, { push: true }),
  rename: async (tag, name) => {
    await api.renameTag(tag, name);
    const filtered = activeTag(route.q);
    // The menu shows the new name at once (the update events follow for the chips).
    await reloadTags();
    if (filtered && filtered.toLowerCase() === tag.toLowerCase()) navigate({ q: tagQuery(name), m: null });
    toast(`Tag “${tag}” renamed to “${name}”`);
  },
  remove: async (tag) => {
    const ok = await confirmDialog(`Delete the tag “${tag}”?`,
      'It is taken off every message that has it, in every open tab. The messages stay.', 'Delete tag');
    if (!ok) return false;
    await api.deleteTag(tag);
    const filtered = activeTag(route.q);
    await reloadTags();
    if (filtered && filtered.toLowerCase() === tag.toLowerCase()) navigate({ q: '', m: null });
    toast(`Tag “${tag}” deleted`);
    return true;
  },
});

// ---- live updates ------------------------------------------------------------------------

const live = new Live({
  onFrame: (frame) => {
    if (frame.Type === 'new' && frame.Data) notifyNew(frame.Data);
    if (frame.Type === 'new' && frame.Data?.Tags?.some((t) => !tagsInUse.includes(t))) refreshTags();
    if (frame.Type === 'delete' || frame.Type === 'truncate') refreshTags();
    // New mail may have made a mailbox, and changes the switcher's unread counts.
    if (frame.Type !== 'update') mailboxesSoon();
    queue.push(frame);
    if (!queueTimer) queueTimer = setTimeout(processQueue, 16);
    showBusy();
  },
  onState: (state, detail) => showConnection(state, detail),
  onResync: () => {
    // Back after a gap (maybe to a restarted server): everything shown may be stale.
    queue = [];
    resync();
    messageView.revalidate();
    loadAbout();
  },
});

function processQueue() {
  queueTimer = 0;
  const frames = queue;
  queue = [];
  if (model.inflight && frames.some((f) => f.Type !== 'update')) changedDuringReload = true;
  if (!model.loaded) {
    // The first page is still loading and will include these.
    for (const f of frames) if (f.Type === 'stats' && f.Data) setCounts(f.Data.Total, f.Data.Unread);
    if (frames.some((f) => f.Type !== 'stats')) resync();
    updateChrome();
    return;
  }
  let batch = [];
  const flush = () => {
    if (batch.length === 0) return;
    const unread = batch.filter((m) => !m.Read).length;
    setCounts(counts.total + batch.length, counts.unread + unread);
    if (model.searching) refreshSearch();
    else {
      // The open row stays on screen however much arrives above it.
      const openIndex = messageView.openId ? model.indexOf(messageView.openId) : -1;
      const keep = openIndex >= 0 && view.isVisible(openIndex);
      const n = model.prepend(batch);
      if (n) {
        view.shiftAnchor(n, 0, { keep });
        announceNew(n);
      }
      for (const m of batch) view.markFresh(m.ID);
    }
    batch = [];
  };
  let lastStats = null;
  for (const f of frames) {
    if (f.Type === 'new') {
      batch.push(f.Data);
      continue;
    }
    flush();
    switch (f.Type) {
      case 'delete': {
        const id = f.Data && f.Data.ID;
        if (!id || deletedHere.delete(id)) break;
        const wasOpen = messageView.openId === id;
        const openIndex = wasOpen ? model.indexOf(id) : -1;
        const gone = removeLocal(id);
        if (gone.index < 0) {
          // Not loaded here: what is on screen may have moved up by one.
          if (model.searching) refreshSearch();
          else resync();
        }
        if (wasOpen) {
          toast('The open message was deleted elsewhere');
          afterOpenGone(openIndex);
        }
        break;
      }
      case 'truncate':
        selection.clear();
        setCounts(0, 0);
        if (model.searching) refreshSearch();
        else model.clear();
        if (messageView.openId) closeMessage();
        break;
      case 'update': {
        if (!f.Data) break;
        // One frame per change: the read flag, or the tags.
        if (typeof f.Data.Read === 'boolean') {
          model.setRead(f.Data.ID, f.Data.Read);
          if (messageView.openId === f.Data.ID) messageView.setRead(f.Data.Read);
        }
        if (Array.isArray(f.Data.Tags)) {
          model.setTags(f.Data.ID, f.Data.Tags);
          if (messageView.openId === f.Data.ID) messageView.setTags(f.Data.Tags);
          refreshTags();
          // A tag search may have gained or lost this message.
          if (model.searching && /\b(tag:|is:(un)?tagged)/i.test(model.source.query)) refreshSearch();
        }
        break;
      }
      case 'stats':
        lastStats = f.Data;
        break;
      case 'resync':
        // The server coalesced a flood of changes: reload what is shown.
        if (model.searching) refreshSearch();
        else resync();
        break;
      default:
    }
  }
  flush();
  if (lastStats) {
    setCounts(lastStats.Total, lastStats.Unread);
    // After a burst the server's total is the truth: a mismatch means something was missed.
    if (!model.searching && model.loading.size === 0 && !model.inflight && lastStats.Total !== model.total) resync();
  }
  showNewAbove();
  updateChrome();
  // Rows are moved now, in the same task as the scroll position: no frame ever shows them apart.
  view.invalidate();
  view.render();
}

function showConnection(state, detail) {
  const btn = $('conn');
  btn.dataset.state = state;
  const label = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    offline: 'Offline',
  }[state];
  $('conn-label').textContent = label;
  btn.title = state === 'live'
    ? 'Connected: new mail appears as it arrives'
    : state === 'offline'
      ? 'The server cannot be reached. Click to retry now.'
      : 'Waiting for the server. Click to retry now.';
  btn.disabled = state === 'live' || state === 'connecting';
  void detail;
  if (model.loaded) updateChrome();
}

// ---- search --------------------------------------------------------------------------------

const searchInput = $('search');

/**
 * Whether the query is still being typed: an open quote, or a last term whose field value
 * cannot be complete yet (`after:2024-0`, `is:unr`, `from:`). Such a query is not sent while
 * typing; the answer is a hint saying what is missing ('' when the query is complete). Enter
 * sends it anyway, and then the server's answer says what is wrong.
 */
function incomplete(q) {
  if ((q.match(/"/g) || []).length % 2 === 1) return 'Close the quote to search for the phrase.';
  const last = q.split(/\s+/).pop() || '';
  const m = /^[-!]?([a-z-]+):(.*)$/i.exec(last);
  if (!m) return '';
  const field = m[1].toLowerCase();
  const value = m[2].toLowerCase();
  const partOf = (words) => !words.includes(value) && words.some((w) => w.startsWith(value));
  if (field === 'after' || field === 'before') {
    const complete = /^\d{4}-\d{2}-\d{2}$/.test(value)
      || /^\d{4}-\d{2}-\d{2}t\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:\d{2})$/.test(value);
    return complete ? '' : `${field}: takes a date like 2024-05-01, or an RFC 3339 time.`;
  }
  if (field === 'is' && (value === '' || partOf(['read', 'unread', 'seen', 'unseen', 'tagged']))) return 'is: takes read, unread or tagged.';
  if (field === 'has' && (value === '' || partOf(['attachment', 'attachments']))) return 'has: takes attachment.';
  if (value === '' && ['from', 'to', 'cc', 'bcc', 'subject', 'message-id', 'tag'].includes(field)) return `${field}: needs a value.`;
  return '';
}

function runSearch() {
  searchSoon.cancel();
  const q = searchInput.value.trim();
  $('search-clear').hidden = !searchInput.value;
  if (q === route.q && model.source.query === q) return null;
  return navigate({ q, m: null });
}

// Typing searches once the typing pauses, never per key, and not while a term is half typed
// (then a hint says what the term still needs).
const searchSoon = debounce(() => {
  const hint = incomplete(searchInput.value.trim());
  if (hint) showSearchError(hint, { hint: true });
  else runSearch();
}, 450);

/** The line under the search box: the server's reason a query failed, or a typing hint. */
function showSearchError(message, { hint = false } = {}) {
  const el = $('search-error');
  el.hidden = !message;
  el.classList.toggle('is-hint', hint);
  el.textContent = !message ? '' : hint ? message : `Search not understood: ${message.replace(/^invalid (search|query):\s*/i, '')}`;
  if (message && !hint) searchInput.setAttribute('aria-invalid', 'true');
  else searchInput.removeAttribute('aria-invalid');
}

function clearSearch() {
  searchInput.value = '';
  showSearchError(null);
  runSearch();
}

/** Leaves the search box for the list: j/k, Enter and the rest work at once. */
function focusList() {
  searchInput.blur();
  if (view.cursor >= 0 && view.isVisible(view.cursor)) {
    view.setCursor(view.cursor, { focus: true, scroll: false });
  } else {
    $('list-scroll').focus({ preventScroll: true });
  }
}

$('search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  runSearch();
  // Enter sends the query and goes to the results: / → query → Enter → j works.
  focusList();
});
searchInput.addEventListener('input', () => {
  $('search-clear').hidden = !searchInput.value;
  showSearchError(null);
  searchSoon();
});
$('search-clear').addEventListener('click', () => {
  clearSearch();
  searchInput.focus();
});
$('search-banner-clear').addEventListener('click', () => clearSearch());

// ---- toolbar buttons -------------------------------------------------------------------------

$('select-all').addEventListener('change', (ev) => {
  if (ev.target.checked) {
    selection.clear();
    for (const id of model.byId.keys()) selection.add(id);
  } else selection.clear();
  updateChrome();
  view.invalidate();
});
$('select-banner-action').addEventListener('click', () => {
  if (selection.all) selection.clear();
  else selection.selectAll();
  updateChrome();
  view.invalidate();
});
$('bulk-read').addEventListener('click', () => (selection.all ? setReadEverything(true) : setRead([...selection], true)));
$('bulk-unread').addEventListener('click', () => (selection.all ? setReadEverything(false) : setRead([...selection], false)));
$('bulk-delete').addEventListener('click', () => (selection.all ? deleteEverything() : deleteIds([...selection])));
$('all-delete').addEventListener('click', () => deleteEverything());
$('all-read').addEventListener('click', () => markAllRead());
$('help-open').addEventListener('click', () => openHelp());
$('conn').addEventListener('click', () => live.reconnectNow());
document.querySelector('.brand').addEventListener('click', (ev) => {
  if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
  ev.preventDefault();
  searchInput.value = '';
  $('list-scroll').scrollTop = 0;
  navigate({ q: '', m: null }, { push: true });
});
document.querySelector('.skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  view.setCursor(Math.max(0, view.cursor), { focus: true });
});

// ---- settings --------------------------------------------------------------------------------

const chaosPanel = new ChaosPanel($('settings-chaos'));
const aboutPanel = new AboutPanel($('settings-about'));
const settingsTabs = [...document.querySelectorAll('#settings-dialog [role="tab"]')];

/** Shows one panel of the settings (Display, Chaos, About); the last one is shown next time. */
function settingsTab(name, { focus = false } = {}) {
  for (const tab of settingsTabs) {
    const on = tab.dataset.panel === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === 'chaos') chaosPanel.load();
  if (name === 'about') aboutPanel.load();
}
for (const tab of settingsTabs) {
  tab.addEventListener('click', () => settingsTab(tab.dataset.panel));
  tab.addEventListener('keydown', (ev) => {
    const i = settingsTabs.indexOf(tab);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: settingsTabs.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    settingsTab(settingsTabs[(to + settingsTabs.length) % settingsTabs.length].dataset.panel, { focus: true });
  });
}

function openSettings(panel) {
  const dialog = $('settings-dialog');
  for (const input of dialog.querySelectorAll('input[name="list-times"]')) input.checked = input.value === view.timeMode;
  const current = settingsTabs.find((t) => t.getAttribute('aria-selected') === 'true')?.dataset.panel || 'display';
  settingsTab(panel || current);
  if (!dialog.open) dialog.showModal();
}
$('settings-open').addEventListener('click', () => openSettings());
for (const input of document.querySelectorAll('#settings-dialog input[name="list-times"]')) {
  input.addEventListener('change', () => {
    view.timeMode = input.value === 'relative' ? 'relative' : 'absolute';
    prefs.set('list-times', view.timeMode === 'relative' ? 'relative' : null);
    view.invalidate();
  });
}

// ---- keyboard ------------------------------------------------------------------------------

keyHandler = installKeys({
  next: () => step(1),
  prev: () => step(-1),
  first: () => step(-Infinity),
  last: () => step(Infinity),
  open: () => {
    const m = model.items[view.cursor];
    if (m) openMessage(m.ID, { push: true });
  },
  close: () => {
    if (messageView.openId) {
      closeMessage();
      return true;
    }
    if (selection.any) {
      selection.clear();
      updateChrome();
      view.invalidate();
      return true;
    }
    if (route.q) {
      clearSearch();
      return true;
    }
    return false;
  },
  escapeField: (target) => {
    if (target === searchInput) {
      // Escape leaves the box (what was typed is searched); a second Escape clears the search.
      if (searchSoon.pending() && !incomplete(searchInput.value.trim())) runSearch();
      else searchSoon.cancel();
      if (!searchInput.getAttribute('aria-invalid')) showSearchError(null);
      focusList();
      return true;
    }
    target.blur();
    return true;
  },
  fieldDown: (target) => {
    if (target !== searchInput) return false;
    if (searchSoon.pending()) runSearch();
    if (model.loaded && view.cursor >= 0) {
      focusList();
      return true;
    }
    // To the first result, once it is there (a search just sent is still loading).
    searchInput.blur();
    $('list-scroll').focus({ preventScroll: true });
    step(1);
    return true;
  },
  search: () => {
    searchInput.focus();
    searchInput.select();
  },
  help: () => openHelp(),
  remove: () => (selection.all ? deleteEverything() : deleteIds(targetIds())),
  toggleRead: () => toggleRead(targetIds()),
  select: () => {
    const m = model.items[view.cursor];
    if (!m) return;
    if (selection.has(m.ID)) selection.delete(m.ID);
    else selection.add(m.ID);
    updateChrome();
    view.invalidate();
  },
  theme: () => toggleTheme(),
  tab: (n) => {
    if (messageView.openId && TABS[n]) messageView.setTab(TABS[n].id, { focus: false });
  },
});

// ---- start -----------------------------------------------------------------------------------

initTheme();
initSplitter($('layout'), $('splitter'), { onResize: () => view.schedule() });
initNotifications({ onOpen: (id) => openMessage(id, { push: true }), toast });
const placeholder = () => {
  searchInput.placeholder = narrow.matches ? 'Search mail' : 'Search   from:  subject:  has:attachment  is:unread';
};
placeholder();
narrow.addEventListener('change', () => {
  placeholder();
  placeWelcome();
  view.schedule();
});

const mailboxes = new MailboxSwitcher($('mailbox-switch'), $('mailbox-select'));
const mailboxesSoon = debounce(() => mailboxes.refresh(), 1000, { maxWait: 3000 });

(async () => {
  const initial = parseHash() || { q: '', m: null };
  live.start();
  loadAbout();
  mailboxes.refresh();
  await applyRoute(initial);
  applyPendingStep();
  updateChrome();
  document.documentElement.dataset.ready = '1';
})();
