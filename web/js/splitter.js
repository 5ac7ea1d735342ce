// The handle between the list and the message: drag it (or focus it and use the arrow keys) to
// give the list more or less room. The width is remembered per browser; a double click resets it.

import { prefs } from './dom.js';

const MIN_LIST = 300;
const MIN_MESSAGE = 380;
const STEP = 24;

export function initSplitter(layout, handle, { onResize }) {
  const bounds = () => {
    const width = layout.getBoundingClientRect().width;
    return { min: MIN_LIST, max: Math.max(MIN_LIST, width - MIN_MESSAGE) };
  };
  const current = () => layout.querySelector('.list-pane').getBoundingClientRect().width;
  const set = (px, { save = true } = {}) => {
    if (px === null) {
      layout.style.removeProperty('--list-w');
      if (save) prefs.set('list-width', null);
    } else {
      const { min, max } = bounds();
      const w = Math.round(Math.max(min, Math.min(max, px)));
      // A custom property set through the CSSOM, which the policy allows (no style attribute).
      layout.style.setProperty('--list-w', `${w}px`);
      if (save) prefs.set('list-width', String(w));
    }
    const now = Math.round(current());
    handle.setAttribute('aria-valuenow', String(now));
    const { min, max } = bounds();
    handle.setAttribute('aria-valuemin', String(min));
    handle.setAttribute('aria-valuemax', String(Math.round(max)));
    onResize();
  };
  const saved = Number(prefs.get('list-width'));
  if (saved > 0) set(saved, { save: false });
  else set(null, { save: false });

  let dragging = false;
  handle.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    dragging = true;
    handle.setPointerCapture(ev.pointerId);
    handle.classList.add('is-dragging');
    ev.preventDefault();
  });
  handle.addEventListener('pointermove', (ev) => {
    if (!dragging) return;
    set(ev.clientX - layout.getBoundingClientRect().left, { save: false });
  });
  const end = (ev) => {
    if (!dragging) return;
    dragging = false;
    handle.releasePointerCapture?.(ev.pointerId);
    handle.classList.remove('is-dragging');
    set(current());
  };
  handle.addEventListener('pointerup', end);
  handle.addEventListener('pointercancel', end);
  handle.addEventListener('dblclick', () => set(null));
  handle.addEventListener('keydown', (ev) => {
    let w = current();
    if (ev.key === 'ArrowLeft') w -= STEP;
    else if (ev.key === 'ArrowRight') w += STEP;
    else if (ev.key === 'Home') w = bounds().min;
    else if (ev.key === 'End') w = bounds().max;
    else return;
    ev.preventDefault();
    ev.stopPropagation();
    set(w);
  });
}
