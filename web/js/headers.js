// Headers in the order they were received, read from the raw source (the headers route is a map
// sorted by name). Folded lines are unfolded and RFC 2047 encoded words decoded; the values stay
// text.

/** [{name, value}] of the header block of `raw`, in order. */
export function receivedHeaders(raw) {
  const end = raw.search(/\r?\n\r?\n/);
  const block = end < 0 ? raw : raw.slice(0, end);
  const out = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      // A continuation line (RFC 5322 2.2.3): unfolding removes only the line break.
      if (out.length) out[out.length - 1].raw += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // an mbox "From " line or garbage: not a header
    out.push({ name: line.slice(0, colon).trim(), raw: line.slice(colon + 1) });
  }
  return out.map(({ name, raw: value }) => ({ name, value: decodeWords(value.trim()) }));
}

const WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** Decodes RFC 2047 encoded words; whitespace between two adjacent words is dropped. */
export function decodeWords(text) {
  if (!text.includes('=?')) return text;
  return text
    .replace(/(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[bBqQ]\?)/g, '$1')
    .replace(WORD, (word, charset, enc, data) => {
      try {
        const bytes = enc.toUpperCase() === 'B' ? base64Bytes(data) : qBytes(data);
        return decoder(charset.replace(/\*.*$/, '')).decode(bytes);
      } catch {
        return word;
      }
    });
}

function decoder(charset) {
  try {
    return new TextDecoder(charset.toLowerCase());
  } catch {
    return new TextDecoder('utf-8');
  }
}

function base64Bytes(data) {
  const bin = atob(data.replace(/[^A-Za-z0-9+/=]/g, ''));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function qBytes(data) {
  const out = [];
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === '_') out.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(data.slice(i + 1, i + 3))) {
      out.push(parseInt(data.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c.charCodeAt(0) & 0xff);
  }
  return new Uint8Array(out);
}
