// Wiring: the list, the message view, live updates, search, actions, keyboard and routing.
// The URL fragment holds the state (#q=search&m=ID), so reload, back and forward all work.

import { api } from './api.js';
import { $, h, plural, debounce } from './dom.js';
import { ListModel, ListView } from './list.js';
import { MessageView, TABS } from './message.js';
import { Live } from './live.js';
import { installKeys } from './keys.js';
import { initTheme, toggleTheme } from './theme.js';
import { showUnread, initNotifications, notifyNew } from './badge.js';

const narrow = window.matchMedia('(max-width: 760px)');
const selection = new Set();
/** IDs deleted from here, whose delete events are already applied. */
const deletedHere = new Set();
const stats = { total: 0, unread: 0 };

// ---- toasts and dialogs ----------------------------------------------------------------

function toast(text, { error = false } = {}) {
  const el = h('div', { class: `toast${error ? ' toast-error' : ''}`, text });
  $('toasts').append(el);
  setTimeout(() => el.classList.add('is-leaving'), error ? 6000 : 3500);
  setTimeout(() => el.remove(), error ? 6400 : 3900);
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

const model = new ListModel({
  onChange: (change) => {
    if (change.kind === 'error') toast(`Could not load messages: ${change.error.message}`, { error: true });
    if (change.kind === 'reset') fixCursor();
    view.schedule();
    updateChrome();
  },
  onInconsistent: () => resync(),
});

const messageView = new MessageView($('message'), {
  close: () => closeMessage(),
  step: (d) => step(d, { open: true }),
  delete: (id) => deleteIds([id]),
  toggleRead: (id) => toggleRead([id]),
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

function fixCursor() {
  if (view.cursor >= model.total) view.cursor = model.total - 1;
  const open = messageView.openId;
  if (open) {
    const i = model.indexOf(open);
    if (i >= 0) view.cursor = i;
  }
}

const resync = debounce(() => model.refresh(view.visibleRange()), 150);

function updateChrome() {
  const count = $('list-count');
  if (!model.loaded) {
    count.textContent = model.error ? 'Could not load messages' : 'Loading…';
  } else if (selection.size > 0) {
    count.textContent = `${selection.size.toLocaleString()} selected`;
  } else if (model.searching) {
    count.textContent = plural(model.total, 'match', 'matches');
  } else {
    count.textContent = stats.unread > 0
      ? `${plural(model.total, 'message')} · ${stats.unread.toLocaleString()} unread`
      : plural(model.total, 'message');
  }
  $('bulk-actions').hidden = selection.size === 0;
  $('all-actions').hidden = selection.size > 0 || model.total === 0;
  $('all-delete-label').textContent = model.searching ? 'Delete matches' : 'Delete all';
  $('all-read-label').textContent = model.searching ? 'Mark matches read' : 'Mark all read';
  $('all-delete').title = $('all-delete-label').textContent;
  $('all-read').title = $('all-read-label').textContent;
  $('all-read').hidden = !model.searching && stats.unread === 0;
  const all = $('select-all');
  let loaded = 0;
  let chosen = 0;
  for (const m of model.byId.values()) {
    loaded++;
    if (selection.has(m.ID)) chosen++;
  }
  all.disabled = loaded === 0;
  all.closest('label').hidden = model.total === 0;
  all.checked = loaded > 0 && chosen === loaded;
  all.indeterminate = chosen > 0 && chosen < loaded;

  const empty = model.loaded && model.total === 0;
  $('list-empty').hidden = !empty;
  if (empty) {
    $('list-empty-title').textContent = model.searching ? 'No matches' : 'No mail yet';
    $('list-empty-text').textContent = model.searching
      ? `Nothing matches “${model.source.query}”. Try fewer words, or press Escape to see all mail.`
      : 'Messages your app sends to this server show up here the moment they arrive.';
  }
  $('search-banner').hidden = !model.searching;
  if (model.searching) $('search-banner-text').textContent = `Results for “${model.source.query}”`;
  showUnread(stats.unread);
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
  if (target.q !== prev.q || !model.loaded) {
    $('search').value = target.q;
    $('search-clear').hidden = !target.q;
    selection.clear();
    view.cursor = -1;
    $('list-scroll').scrollTop = 0;
    await model.setSource(target.q ? { kind: 'search', query: target.q } : { kind: 'all', query: '' }, view.visibleRange());
  }
  if (target.m !== messageView.openId) {
    if (target.m) await showMessage(target.m);
    else hideMessage();
  }
}

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

async function showMessage(id) {
  document.body.classList.add('has-message');
  const i = model.indexOf(id);
  if (i >= 0 && i !== view.cursor) view.setCursor(i, { focus: false });
  view.invalidate();
  const m = await messageView.open(id);
  if (m && model.setRead(id, true)) view.invalidate();
  if (m && narrow.matches) $('msg-subject')?.focus?.();
}

function hideMessage() {
  const wasOpen = messageView.openId !== null;
  messageView.close();
  document.body.classList.remove('has-message');
  view.invalidate();
  if (wasOpen) view.setCursor(view.cursor, { focus: true });
}

const openCursorSoon = debounce(() => {
  const m = model.items[view.cursor];
  if (m && messageView.openId !== m.ID) openMessage(m.ID);
}, 120);

function step(delta, { open = false } = {}) {
  if (model.total === 0) return;
  const from = view.cursor < 0 ? (delta > 0 ? -1 : model.total) : view.cursor;
  view.setCursor(from + delta, { focus: !messageView.openId || !narrow.matches });
  if (open || messageView.openId) openCursorSoon();
}

// ---- actions -----------------------------------------------------------------------------

/** Removes a message from the list here (its event, when it comes, is then ignored). */
function removeLocal(id) {
  const i = model.remove(id);
  selection.delete(id);
  if (i >= 0) view.shiftAnchor(-1, i + 1);
  return i;
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
    removeLocal(id);
  }
  for (const id of ids) selection.delete(id);
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
    view.cursor = Math.min(index, model.total - 1);
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
    model.setRead(id, read);
    if (messageView.openId === id) messageView.setRead(read);
  }
  view.invalidate();
  if (ids.length > 1) toast(`${ids.length.toLocaleString()} messages marked ${read ? 'read' : 'unread'}`);
}

async function deleteAll() {
  const searching = model.searching;
  const n = model.total;
  const ok = await confirmDialog(
    searching ? `Delete ${plural(n, 'matching message')}?` : `Delete all ${plural(n, 'message')}?`,
    searching ? `Every message matching “${model.source.query}” is deleted. This cannot be undone.`
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
    closeMessage();
  }
  toast(searching ? 'Matching messages deleted' : 'All messages deleted');
  updateChrome();
  view.invalidate();
}

async function markAllRead() {
  try {
    if (model.searching) await api.setReadSearch(model.source.query, true);
    else await api.setReadAll(true);
  } catch (e) {
    return fail(e);
  }
  for (const m of model.byId.values()) m.Read = true;
  messageView.setRead(true);
  view.invalidate();
}

// ---- live updates ------------------------------------------------------------------------

let queue = [];
let queueTimer = 0;

const live = new Live({
  onFrame: (frame) => {
    if (frame.Type === 'stats' && frame.Data) {
      stats.total = frame.Data.Total;
      stats.unread = frame.Data.Unread;
      showUnread(stats.unread);
    }
    if (frame.Type === 'new' && frame.Data) notifyNew(frame.Data);
    queue.push(frame);
    if (!queueTimer) queueTimer = setTimeout(processQueue, 16);
  },
  onState: (state, detail) => showConnection(state, detail),
  onResync: () => {
    queue = [];
    resync();
  },
});

const refreshSearch = debounce(() => model.refresh(view.visibleRange()), 400);

function processQueue() {
  queueTimer = 0;
  const frames = queue;
  queue = [];
  if (!model.loaded) {
    // The first page is still loading and will include these.
    if (frames.some((f) => f.Type !== 'stats')) resync();
    updateChrome();
    return;
  }
  let batch = [];
  const flush = () => {
    if (batch.length === 0) return;
    if (model.searching) refreshSearch();
    else {
      const n = model.prepend(batch);
      if (n) {
        view.shiftAnchor(n, 0);
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
        if (removeLocal(id) < 0) {
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
        if (model.searching) refreshSearch();
        else model.clear();
        if (messageView.openId) closeMessage();
        break;
      case 'update':
        if (!f.Data) break;
        model.setRead(f.Data.ID, f.Data.Read);
        if (messageView.openId === f.Data.ID) messageView.setRead(f.Data.Read);
        break;
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
  // After a burst the server's total is the truth: a mismatch means something was missed.
  if (lastStats && !model.searching && model.loading.size === 0 && lastStats.Total !== model.total) resync();
  updateChrome();
  view.invalidate();
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
}

// ---- search --------------------------------------------------------------------------------

const searchInput = $('search');
const searchSoon = debounce(() => runSearch(), 300);

function runSearch() {
  searchSoon.cancel();
  const q = searchInput.value.trim();
  $('search-clear').hidden = !searchInput.value;
  if (q === route.q) return;
  navigate({ q, m: null });
}

function clearSearch() {
  searchInput.value = '';
  runSearch();
}

$('search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  runSearch();
});
searchInput.addEventListener('input', () => {
  $('search-clear').hidden = !searchInput.value;
  searchSoon();
});
$('search-clear').addEventListener('click', () => {
  clearSearch();
  searchInput.focus();
});
$('search-banner-clear').addEventListener('click', () => clearSearch());

// ---- toolbar buttons -------------------------------------------------------------------------

$('select-all').addEventListener('change', (ev) => {
  if (ev.target.checked) for (const id of model.byId.keys()) selection.add(id);
  else selection.clear();
  updateChrome();
  view.invalidate();
});
$('bulk-read').addEventListener('click', () => setRead([...selection], true));
$('bulk-unread').addEventListener('click', () => setRead([...selection], false));
$('bulk-delete').addEventListener('click', () => deleteIds([...selection]));
$('all-delete').addEventListener('click', () => deleteAll());
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

// ---- keyboard ------------------------------------------------------------------------------

installKeys({
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
    if (selection.size > 0) {
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
    if (target !== searchInput) {
      target.blur();
      return true;
    }
    if (searchInput.value) clearSearch();
    else {
      searchInput.blur();
      view.setCursor(Math.max(0, view.cursor), { focus: true });
    }
    return true;
  },
  search: () => {
    searchInput.focus();
    searchInput.select();
  },
  help: () => openHelp(),
  remove: () => deleteIds(targetIds()),
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
initNotifications({ onOpen: (id) => openMessage(id, { push: true }), toast });
const placeholder = () => {
  searchInput.placeholder = narrow.matches ? 'Search mail' : 'Search   from:  subject:  has:attachment  is:unread';
};
placeholder();
narrow.addEventListener('change', () => {
  placeholder();
  view.schedule();
});

(async () => {
  const initial = parseHash() || { q: '', m: null };
  live.start();
  await applyRoute(initial);
  stats.unread = model.unread;
  stats.total = model.searching ? stats.total : model.total;
  updateChrome();
  document.documentElement.dataset.ready = '1';
})();
