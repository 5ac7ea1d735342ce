// Keyboard shortcuts. Ignored while typing in a field (except Escape and ArrowDown, which leave
// the search box for the list), while a modal dialog is open (the dialog handles Escape itself),
// and with Ctrl/Alt/Meta held (browser shortcuts). Keys pressed inside the HTML preview's frame
// are forwarded here too, so a click into the mail never swallows the shortcuts.

// Frames have their own Element class, so elements are recognised by their properties.
const isElement = (t) => !!t && t.nodeType === 1;

function typing(target) {
  if (!isElement(target)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(target.type);
  return false;
}

// Keys that scroll or act inside the previewed mail rather than move through the list.
const FRAME_OWN = new Set(['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown', ' ', 'Tab']);

/**
 * commands: { next, prev, first, last, open, close, escapeField, fieldDown, search, help, remove,
 * toggleRead, select, theme, tab(n) }. Returns the handler, for the preview frame to forward to:
 * handler(event, { inFrame: true }).
 */
export function installKeys(commands) {
  const handler = (ev, { inFrame = false } = {}) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.altKey || ev.metaKey || ev.isComposing) return;
    if (document.querySelector('dialog[open]')) return;
    if (typing(ev.target)) {
      if (ev.key === 'Escape' && commands.escapeField(ev.target)) ev.preventDefault();
      else if (ev.key === 'ArrowDown' && commands.fieldDown?.(ev.target)) ev.preventDefault();
      return;
    }
    if (inFrame && FRAME_OWN.has(ev.key)) return;
    const target = isElement(ev.target) ? ev.target : null;
    const inTabs = target?.getAttribute('role') === 'tab';
    // Arrow keys scroll whatever is focused inside the message (source, headers…).
    const inMessage = inFrame || !!target?.closest('#message');
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
        if (ev.key === 'Enter' && target?.closest('button, a:not(.row-link), [role=tab], summary')) return;
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
  };
  document.addEventListener('keydown', (ev) => handler(ev));
  return handler;
}
