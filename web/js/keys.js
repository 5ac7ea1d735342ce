// Keyboard shortcuts. Ignored while typing in a field (except Escape), while a modal dialog is
// open (the dialog handles Escape itself), and with Ctrl/Alt/Meta held (browser shortcuts).

function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(target.type);
  }
  return false;
}

/** commands: { next, prev, first, last, open, close, search, help, remove, toggleRead, select, theme, tab(n) } */
export function installKeys(commands) {
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.altKey || ev.metaKey || ev.isComposing) return;
    if (document.querySelector('dialog[open]')) return;
    if (typing(ev.target)) {
      if (ev.key === 'Escape') commands.escapeField(ev.target) && ev.preventDefault();
      return;
    }
    const inTabs = ev.target instanceof Element && ev.target.getAttribute('role') === 'tab';
    // Arrow keys scroll whatever is focused inside the message (source, headers…).
    const inMessage = ev.target instanceof Element && ev.target.closest('#message');
    if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && inMessage) return;
    let handled = true;
    switch (ev.key) {
      case 'j':
      case 'ArrowDown':
        commands.next();
        break;
      case 'k':
      case 'ArrowUp':
        commands.prev();
        break;
      case 'Home':
        if (inTabs) return;
        commands.first();
        break;
      case 'End':
        if (inTabs) return;
        commands.last();
        break;
      case 'Enter':
      case 'o':
        // Enter on a button or a link keeps its own meaning, except on a list row.
        if (ev.key === 'Enter' && ev.target instanceof Element && ev.target.closest('button, a:not(.row-link), [role=tab]')) return;
        commands.open();
        break;
      case 'Escape':
        handled = commands.close();
        break;
      case '/':
        commands.search();
        break;
      case '?':
        commands.help();
        break;
      case 'Delete':
      case '#':
        commands.remove();
        break;
      case 'u':
        commands.toggleRead();
        break;
      case 'x':
        commands.select();
        break;
      case 't':
        commands.theme();
        break;
      case '1': case '2': case '3': case '4': case '5': case '6':
        commands.tab(Number(ev.key) - 1);
        break;
      default:
        handled = false;
    }
    if (handled) ev.preventDefault();
  });
}
