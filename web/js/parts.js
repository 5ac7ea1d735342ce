// The Parts tab: every attachment and inline part with its size and a download; images open in a
// lightbox, PDFs in a new tab, calendar invitations (.ics) show as an event card.

import { api, urls } from './api.js';
import { $, h, icon, replace, formatSize, plural } from './dom.js';
import { parseIcs } from './ics.js';

const IMAGE = /^image\/(png|jpe?g|gif|webp|bmp|avif)$/i;
const essence = (p) => (p.ContentType || '').split(';')[0].trim().toLowerCase();
export const isImage = (p) => IMAGE.test(essence(p));
export const isPdf = (p) => essence(p) === 'application/pdf' || /\.pdf$/i.test(p.FileName || '');
export const isCalendar = (p) => essence(p) === 'text/calendar' || /\.ics$/i.test(p.FileName || '');
const partName = (p) => p.FileName || (p.ContentID ? `cid:${p.ContentID}` : `part ${p.PartID}`);

/**
 * Whether the server serves PDF parts inline (then a plain link opens them in a tab). Today it
 * serves every part but raster images as a download, so a PDF is opened from a blob instead; the
 * answer is asked once per page.
 */
let pdfInline = null;

async function detectPdfInline(m, p) {
  if (pdfInline !== null) return;
  try {
    const res = await api.partHead(m.ID, p.PartID);
    pdfInline = /^\s*inline/i.test(res.headers.get('Content-Disposition') || '');
  } catch {
    /* ask again next time */
  }
}

/**
 * Opens a PDF part in a new tab with no opener. The tab is opened at once (while the click still
 * counts as one, so no popup blocker objects), then pointed at the PDF.
 */
function openPdf(m, p, toast) {
  const url = urls.part(m.ID, p.PartID);
  if (pdfInline) {
    window.open(url, '_blank', 'noopener,noreferrer');
    return;
  }
  const tab = window.open('', '_blank');
  if (!tab) {
    toast('The browser blocked the new tab', { error: true });
    return;
  }
  tab.opener = null;
  api.part(m.ID, p.PartID).then((blob) => {
    // The type is ours, not the mail's: the tab can only ever be the PDF viewer.
    const pdf = URL.createObjectURL(new Blob([blob], { type: 'application/pdf' }));
    tab.location.replace(pdf);
    setTimeout(() => URL.revokeObjectURL(pdf), 60_000);
  }, (e) => {
    tab.close();
    toast(`The PDF could not be opened: ${e.message}`, { error: true });
  });
}

// ---- the lightbox ----------------------------------------------------------------------------

const lightbox = { images: [], index: 0, message: null };

function showImage() {
  const { images, index, message } = lightbox;
  const p = images[index];
  const url = urls.part(message.ID, p.PartID);
  const img = $('lightbox-img');
  img.src = url;
  img.alt = partName(p);
  $('lightbox-name').textContent = partName(p);
  $('lightbox-meta').textContent = [p.ContentType, formatSize(p.Size), images.length > 1 ? `${index + 1} of ${images.length}` : ''].filter(Boolean).join(' · ');
  const dl = $('lightbox-download');
  dl.href = url;
  dl.setAttribute('download', p.FileName || '');
  $('lightbox-prev').hidden = images.length < 2;
  $('lightbox-next').hidden = images.length < 2;
}

function stepImage(d) {
  const n = lightbox.images.length;
  if (n < 2) return;
  lightbox.index = (lightbox.index + d + n) % n;
  showImage();
}

let lightboxWired = false;

function wireLightbox() {
  if (lightboxWired) return;
  lightboxWired = true;
  const dialog = $('lightbox');
  $('lightbox-prev').addEventListener('click', () => stepImage(-1));
  $('lightbox-next').addEventListener('click', () => stepImage(1));
  dialog.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowLeft') stepImage(-1);
    else if (ev.key === 'ArrowRight') stepImage(1);
    else return;
    ev.preventDefault();
  });
  // A click on the backdrop (the dialog itself, outside the figure) closes it.
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog) dialog.close();
  });
}

export function openLightbox(message, images, index) {
  wireLightbox();
  lightbox.message = message;
  lightbox.images = images;
  lightbox.index = index;
  showImage();
  const dialog = $('lightbox');
  if (!dialog.open) dialog.showModal();
  $('lightbox-close').focus();
}

// ---- the tab -----------------------------------------------------------------------------------

function partItem(m, p, { images, toast }) {
  const url = urls.part(m.ID, p.PartID);
  const name = partName(p);
  const image = isImage(p);
  const pdf = isPdf(p);
  if (pdf) detectPdfInline(m, p);
  let thumb;
  if (image) {
    thumb = h('button', { type: 'button', class: 'part-thumb is-action', title: `View ${name}`, 'aria-label': `View ${name}`,
      onclick: () => openLightbox(m, images, images.indexOf(p)) },
    h('img', { src: url, alt: '', loading: 'lazy' }));
  } else if (pdf) {
    thumb = h('button', { type: 'button', class: 'part-thumb is-action', title: `Open ${name} in a new tab`, 'aria-label': `Open ${name} in a new tab`,
      onclick: () => openPdf(m, p, toast) }, icon('file'), h('span', { class: 'part-ext', text: 'PDF' }));
  } else {
    thumb = h('span', { class: 'part-thumb' }, icon(isCalendar(p) ? 'calendar' : 'file'));
  }
  const actions = h('span', { class: 'part-actions' },
    image ? h('button', { type: 'button', class: 'btn btn-sm', 'aria-label': `View ${name}`, onclick: () => openLightbox(m, images, images.indexOf(p)) },
      icon('image'), h('span', { class: 'btn-label', text: 'View' })) : null,
    pdf ? h('button', { type: 'button', class: 'btn btn-sm', 'aria-label': `Open ${name} in a new tab`, onclick: () => openPdf(m, p, toast) },
      icon('external'), h('span', { class: 'btn-label', text: 'Open' })) : null,
    h('a', { class: 'btn btn-sm', href: url, download: p.FileName || '', 'aria-label': `Download ${name}` }, icon('download'), h('span', { class: 'btn-label', text: 'Download' })));
  return h('li', { class: 'part' },
    thumb,
    h('span', { class: 'part-info' },
      h('span', { class: 'part-name', text: name, title: name }),
      h('span', { class: 'part-meta muted', text: [p.ContentType, formatSize(p.Size), p.ContentID ? `cid:${p.ContentID}` : ''].filter(Boolean).join(' · ') })),
    actions);
}

export function buildParts(panel, m, { toast }) {
  const all = [...m.Attachments, ...m.Inline];
  const images = all.filter(isImage);
  const section = (title, parts) => parts.length === 0 ? null : h('section', { class: 'parts-section' },
    h('h2', { class: 'parts-title', text: `${title} (${parts.length})` }),
    h('ul', { class: 'parts' }, parts.map((p) => partItem(m, p, { images, toast }))));
  const calendars = all.filter(isCalendar);
  const cards = h('div', { class: 'ics-cards' });
  replace(panel,
    all.length === 0 ? h('p', { class: 'notice', text: 'This message has no attachments or inline parts.' }) : null,
    cards,
    section('Attachments', m.Attachments),
    section('Inline', m.Inline));
  for (const p of calendars) {
    api.part(m.ID, p.PartID).then((blob) => blob.text()).then((text) => {
      const cal = parseIcs(text);
      for (const ev of cal.events) cards.append(eventCard(cal, ev, p));
    }, () => { /* the part stays listed below with its download */ });
  }
}

// ---- the event card ----------------------------------------------------------------------------

const dateFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const zoneFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
const monthFmt = new Intl.DateTimeFormat(undefined, { month: 'short' });

/** "Wed, May 1, 2024, 10:00 – 11:00 (Europe/Berlin)" and the like. */
export function whenText(start, end) {
  if (!start) return '';
  const sameDay = end && start.date.toDateString() === end.date.toDateString();
  if (start.allDay) {
    const last = end && end.allDay ? new Date(end.date.getTime() - 86400_000) : null;
    return last && last > start.date ? `${dateFmt.format(start.date)} – ${dateFmt.format(last)} (all day)` : `${dateFmt.format(start.date)} (all day)`;
  }
  const fmt = start.utc ? zoneFmt : timeFmt;
  const zone = start.floating ? (start.tzid ? ` (${start.tzid})` : ' (local time)') : '';
  if (!end) return `${dateFmt.format(start.date)}, ${fmt.format(start.date)}${zone}`;
  if (sameDay) return `${dateFmt.format(start.date)}, ${timeFmt.format(start.date)} – ${fmt.format(end.date)}${zone}`;
  return `${dateFmt.format(start.date)}, ${timeFmt.format(start.date)} – ${dateFmt.format(end.date)}, ${fmt.format(end.date)}${zone}`;
}

const METHODS = { REQUEST: 'Invitation', CANCEL: 'Cancellation', REPLY: 'Reply', PUBLISH: 'Event', COUNTER: 'Counter-proposal' };

function eventCard(cal, ev, part) {
  const cancelled = cal.method === 'CANCEL' || ev.status === 'CANCELLED';
  const who = (p) => (p.name ? `${p.name} <${p.email}>` : p.email);
  const rows = [
    ['When', whenText(ev.start, ev.end)],
    ['Where', ev.location],
    ['Organizer', ev.organizer ? who(ev.organizer) : ''],
    [`Attendees (${ev.attendees.length})`, ev.attendees.map((a) => `${who(a)}${a.status ? ` · ${a.status.replace('-', ' ')}` : ''}`).join('\n')],
    ['Repeats', ev.rrule],
  ].filter(([, v]) => v && !(Array.isArray(v) && !v.length));
  return h('section', { class: `ics-card${cancelled ? ' is-cancelled' : ''}`, 'aria-label': `Calendar event: ${ev.summary || '(no title)'}` },
    h('div', { class: 'ics-leaf', 'aria-hidden': 'true' },
      h('span', { class: 'ics-month', text: ev.start ? monthFmt.format(ev.start.date) : '' }),
      h('span', { class: 'ics-day', text: ev.start ? String(ev.start.date.getDate()) : '?' })),
    h('div', { class: 'ics-body' },
      h('p', { class: 'ics-kind', text: `${cancelled ? 'Cancelled' : METHODS[cal.method] || 'Event'} · ${partName(part)}` }),
      h('h3', { class: 'ics-title', text: ev.summary || '(no title)' }),
      h('dl', { class: 'ics-facts' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]).flat()),
      ev.description ? h('p', { class: 'ics-desc', text: ev.description.length > 400 ? `${ev.description.slice(0, 400)}…` : ev.description }) : null,
      cal.events.length > 1 ? h('p', { class: 'muted', text: plural(cal.events.length, 'event') }) : null));
}
