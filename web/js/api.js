// The API client: Mailpit API v1 (plus mailsnare's EXT fields). Every URL is relative to the
// page, so the UI works unchanged under a path prefix (--webroot /mail).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function request(method, path, { body, params, as = 'json', signal } = {}) {
  const url = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
  const init = { method, headers: {}, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'The server cannot be reached');
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const text = await res.text();
      try {
        const json = JSON.parse(text);
        if (json && json.Error) message = json.Error;
      } catch {
        if (text && text.length < 300) message = text.trim();
      }
    } catch { /* keep the status line */ }
    throw new ApiError(res.status, message);
  }
  if (as === 'json') return res.json();
  if (as === 'blob') return res.blob();
  if (as === 'response') return res;
  return res.text();
}

const enc = encodeURIComponent;

/**
 * Where this page is: the root view's base path, and the mailbox shown (its page is
 * ROOT/mailbox/NAME/, every request relative to it), or null for the root view.
 */
export const place = (() => {
  const m = /^(.*\/)mailbox\/([^/]+)\/$/.exec(location.pathname);
  if (m) return { root: m[1], mailbox: decodeURIComponent(m[2]) };
  return { root: location.pathname.replace(/[^/]*$/, ''), mailbox: null };
})();

export const api = {
  /**
   * MessagesSummary: the page [start, start+limit) of every message, newest first; with
   * `around` ({id, before}), EXT: the page that has that message `before` rows from its top.
   */
  /** EXT: every mailbox with its counts ({mailboxes: [{Name, Total, Unread}], root}). */
  mailboxes: () => request('GET', `${place.root}api/v1/mailboxes`),
  list: (start, limit, signal, around) =>
    request('GET', 'api/v1/messages', { params: { start, limit, around: around?.id, before: around?.before }, signal }),
  /** MessagesSummary of the matches; messages_count counts matches. `around` as in list. */
  search: (query, start, limit, signal, around) =>
    request('GET', 'api/v1/search', { params: { query, start, limit, around: around?.id, before: around?.before }, signal }),
  /** The full message (marks it read). */
  message: (id) => request('GET', `api/v1/message/${enc(id)}`),
  /** Every header, decoded, as a map sorted by name (the raw source has them in received order). */
  headers: (id) => request('GET', `api/v1/message/${enc(id)}/headers`),
  /** EXT: how the message arrived (HELO, MAIL FROM, RCPT TO, client, TLS, AUTH, Received). */
  envelope: (id) => request('GET', `api/v1/message/${enc(id)}/envelope`),
  /** One part's decoded bytes (for the event card and PDFs opened in a tab). */
  part: (id, partId) => request('GET', `api/v1/message/${enc(id)}/part/${enc(partId)}`, { as: 'blob' }),
  /** HEAD of a part: how the server would serve it (inline or as a download). */
  partHead: (id, partId) => request('HEAD', `api/v1/message/${enc(id)}/part/${enc(partId)}`, { as: 'response' }),
  /** EXT: the message's links ({URL, Text, Visible?}) and likely one-time codes ({Code, Context}). */
  extract: (id) => request('GET', `api/v1/message/${enc(id)}/extract`),
  raw: (id) => request('GET', `api/v1/message/${enc(id)}/raw`, { as: 'text' }),
  setRead: (ids, read) => request('PUT', 'api/v1/messages', { body: { IDs: ids, Read: read }, as: 'text' }),
  setReadSearch: (query, read) => request('PUT', 'api/v1/messages', { body: { Search: query, Read: read }, as: 'text' }),
  setReadAll: (read) => request('PUT', 'api/v1/messages', { body: { Read: read }, as: 'text' }),
  delete: (ids) => request('DELETE', 'api/v1/messages', { body: { IDs: ids }, as: 'text' }),
  deleteAll: () => request('DELETE', 'api/v1/messages', { as: 'text' }),
  deleteSearch: (query) => request('DELETE', 'api/v1/search', { params: { query }, as: 'text' }),
  info: () => request('GET', 'api/v1/info'),
  /** EXT: version, listening addresses and limits (for the empty state and the about panel). */
  about: () => request('GET', 'api/v1/about'),
  /** Every tag in use, sorted. */
  tags: () => request('GET', 'api/v1/tags'),
  /** The listed messages get exactly `tags` (an empty list removes them all). */
  setTags: (ids, tags) => request('PUT', 'api/v1/tags', { body: { Tags: tags, IDs: ids }, as: 'text' }),
  renameTag: (tag, name) => request('PUT', `api/v1/tags/${enc(tag)}`, { body: { Name: name }, as: 'text' }),
  deleteTag: (tag) => request('DELETE', `api/v1/tags/${enc(tag)}`, { as: 'text' }),
  /** Mailpit's chaos triggers {Sender, Recipient, Authentication: {ErrorCode, Probability}}. */
  chaos: () => request('GET', 'api/v1/chaos'),
  setChaos: (triggers) => request('PUT', 'api/v1/chaos', { body: triggers }),
  /** MailHog's Jim: its settings while on; a 404 means off. */
  jim: () => request('GET', 'api/v2/jim'),
  jimOn: (settings) => request('POST', 'api/v2/jim', { body: settings }),
  jimSet: (settings) => request('PUT', 'api/v2/jim', { body: settings }),
  jimOff: () => request('DELETE', 'api/v2/jim', { as: 'text' }),
};

/** Relative URLs the UI links to (downloads, the sandboxed HTML view). */
export const urls = {
  view: (id, remote) => `view/${enc(id)}.html${remote ? '?remote=1' : ''}`,
  text: (id) => `view/${enc(id)}.txt`,
  raw: (id) => `api/v1/message/${enc(id)}/raw`,
  eml: (id) => `api/v1/message/${enc(id)}/raw?dl=1`,
  part: (id, partId) => `api/v1/message/${enc(id)}/part/${enc(partId)}`,
  events: () => {
    const url = new URL('api/events', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.hash = '';
    return url.href;
  },
};
