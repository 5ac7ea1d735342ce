// Calendar invitations (.ics, text/calendar): the events of a VCALENDAR, read well enough to show
// a card (what, when, where, who). Unknown or broken input gives fewer fields, never an error.

/** Property lines of an iCalendar text: {name, params, value}, unfolded (RFC 5545 3.1). */
function properties(text) {
  const out = [];
  for (const line of text.replace(/\r?\n[ \t]/g, '').split(/\r?\n/)) {
    if (!line) continue;
    // The value starts at the first ':' outside a quoted parameter value.
    let quoted = false;
    let colon = -1;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') quoted = !quoted;
      else if (line[i] === ':' && !quoted) {
        colon = i;
        break;
      }
    }
    if (colon < 0) continue;
    const [name, ...rawParams] = line.slice(0, colon).split(/;(?=(?:[^"]*"[^"]*")*[^"]*$)/);
    const params = {};
    for (const p of rawParams) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).toUpperCase()] = p.slice(eq + 1).replace(/^"|"$/g, '');
    }
    out.push({ name: name.toUpperCase(), params, value: line.slice(colon + 1) });
  }
  return out;
}

function unescape(text) {
  return text.replace(/\\([\\;,nN])/g, (_, c) => (c === 'n' || c === 'N' ? '\n' : c));
}

/**
 * A DATE or DATE-TIME value: {date, allDay, floating, tzid}. UTC times ("…Z") are instants;
 * times with a TZID or none are wall-clock times, shown as written, with their zone name.
 */
export function icsTime(value, params = {}) {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?$/.exec(value || '');
  if (!m) return null;
  const [, y, mo, d, hh, mi, ss, z] = m;
  if (hh === undefined) return { date: new Date(+y, mo - 1, +d), allDay: true };
  if (z) return { date: new Date(Date.UTC(+y, mo - 1, +d, +hh, +mi, +(ss || 0))), utc: true };
  return { date: new Date(+y, mo - 1, +d, +hh, +mi, +(ss || 0)), floating: true, tzid: params.TZID || '' };
}

function person(p) {
  const email = p.value.replace(/^mailto:/i, '');
  return { name: p.params.CN || '', email, status: (p.params.PARTSTAT || '').toLowerCase(), role: p.params.ROLE || '' };
}

/** {method, events: [{summary, start, end, location, description, organizer, attendees, status, rrule, url}]} */
export function parseIcs(text) {
  const props = properties(text);
  const calendar = { method: '', events: [] };
  let event = null;
  let depth = 0;
  for (const p of props) {
    if (p.name === 'BEGIN') {
      if (p.value.toUpperCase() === 'VEVENT') {
        event = { summary: '', start: null, end: null, location: '', description: '', organizer: null, attendees: [], status: '', rrule: '', url: '' };
        depth = 0;
      } else if (event) depth++;
      continue;
    }
    if (p.name === 'END') {
      if (event && depth === 0 && p.value.toUpperCase() === 'VEVENT') {
        calendar.events.push(event);
        event = null;
      } else if (event) depth--;
      continue;
    }
    if (!event) {
      if (p.name === 'METHOD') calendar.method = p.value.toUpperCase();
      continue;
    }
    if (depth > 0) continue; // inside a VALARM
    switch (p.name) {
      case 'SUMMARY': event.summary = unescape(p.value); break;
      case 'DTSTART': event.start = icsTime(p.value, p.params); break;
      case 'DTEND': event.end = icsTime(p.value, p.params); break;
      case 'LOCATION': event.location = unescape(p.value); break;
      case 'DESCRIPTION': event.description = unescape(p.value); break;
      case 'ORGANIZER': event.organizer = person(p); break;
      case 'ATTENDEE': event.attendees.push(person(p)); break;
      case 'STATUS': event.status = p.value.toUpperCase(); break;
      case 'RRULE': event.rrule = p.value; break;
      case 'URL': event.url = p.value; break;
      default:
    }
  }
  return calendar;
}
