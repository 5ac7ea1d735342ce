// Unread count in the title and the favicon, and opt-in desktop notifications for new mail.

import { $, prefs, addressShort } from './dom.js';
import { place } from './api.js';

let lastDrawn = null;

/** "(3) mailsnare" and a favicon with a badge; drawn on a canvas, set as a data: URL. */
export function showUnread(unread) {
  // A mailbox's tab says which mailbox it is.
  const base = place.mailbox ? `${place.mailbox.toLowerCase()} · mailsnare` : 'mailsnare';
  document.title = unread > 0 ? `(${unread > 99999 ? '99999+' : unread}) ${base}` : base;
  if (lastDrawn === unread) return;
  lastDrawn = unread;
  const link = $('favicon');
  const size = 64;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  // Envelope.
  ctx.fillStyle = '#4f46e5';
  roundRect(ctx, 4, 12, 56, 40, 8);
  ctx.fill();
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = 5;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(10, 20);
  ctx.lineTo(32, 36);
  ctx.lineTo(54, 20);
  ctx.stroke();
  if (unread > 0) {
    const text = unread > 99 ? '99+' : String(unread);
    ctx.font = `bold ${text.length > 2 ? 26 : 32}px system-ui, sans-serif`;
    const w = Math.max(36, ctx.measureText(text).width + 14);
    ctx.fillStyle = '#e11d48';
    roundRect(ctx, size - w, 0, w, 36, 18);
    ctx.fill();
    ctx.fillStyle = '#ffffff';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, size - w / 2, 19);
  }
  link.type = 'image/png';
  link.href = canvas.toDataURL('image/png');
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

// ---- notifications ---------------------------------------------------------------------

const supported = 'Notification' in window;
let enabled = supported && prefs.get('notify') === '1' && Notification.permission === 'granted';
let burst = [];
let burstTimer = 0;

export function initNotifications({ onOpen, toast }) {
  const btn = $('notify-toggle');
  const update = () => {
    btn.setAttribute('aria-pressed', String(enabled));
    btn.querySelector('use').setAttribute('href', enabled ? '#i-bell' : '#i-bell-off');
    btn.title = !supported
      ? 'This browser has no desktop notifications'
      : enabled ? 'Desktop notifications are on (click to turn off)' : 'Notify me of new mail';
  };
  if (!supported) btn.disabled = true;
  btn.addEventListener('click', async () => {
    if (enabled) {
      enabled = false;
      prefs.set('notify', null);
      toast('Desktop notifications off');
    } else {
      const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
      enabled = permission === 'granted';
      prefs.set('notify', enabled ? '1' : null);
      toast(enabled ? 'You will be notified of new mail while this tab is in the background'
        : 'Notifications are blocked for this site in the browser settings');
    }
    update();
  });
  update();
  notifyHandlers.onOpen = onOpen;
}

const notifyHandlers = { onOpen: null };

/** A new message arrived; notifies when enabled and the tab is not in view. Bursts are merged. */
export function notifyNew(summary) {
  if (!enabled || !document.hidden) return;
  burst.push(summary);
  if (burstTimer) return;
  burstTimer = setTimeout(() => {
    const batch = burst;
    burst = [];
    burstTimer = 0;
    let n;
    if (batch.length === 1) {
      const m = batch[0];
      n = new Notification(addressShort(m.From) || 'New message', { body: m.Subject || '(no subject)', tag: m.ID });
      n.onclick = () => {
        window.focus();
        notifyHandlers.onOpen?.(m.ID);
        n.close();
      };
    } else {
      n = new Notification(`${batch.length} new messages`, { body: batch.slice(0, 3).map((m) => m.Subject || '(no subject)').join('\n'), tag: 'mailsnare-burst' });
      n.onclick = () => {
        window.focus();
        n.close();
      };
    }
  }, 600);
}
