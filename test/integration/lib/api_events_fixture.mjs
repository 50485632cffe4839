// api_events_fixture.mjs: the archive api_events.test.mjs queries, and its oracle. Events are signed
// with nostr-tools (many authors and kinds, e/p/t/E/P/x tags whose values are shared across letters,
// many equal created_at, a 700-byte tag value (over the 512-byte tagvalues threshold), unicode,
// control characters and escapes in content), seen on one to three relays; random NIP-01 filters;
// and the expected answer of a filter by nostr-tools' matchFilter, newest first, (created_at, id)
// descending, which is the api's order.
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { matchFilter } from 'nostr-tools/filter';

export const RELAYS = ['wss://relay-a.example.com', 'wss://relay-b.example.com', 'ws://relay-c.example.com:8080'];

// A small deterministic generator (xorshift32), so a failing case can be replayed by its seed.
export function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

export function makeFixture({ n = 320, seed = 7 } = {}) {
  const r = rng(seed);
  const pick = (arr) => arr[Math.floor(r() * arr.length)];
  const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('');
  const keys = Array.from({ length: 12 }, () => generateSecretKey());
  // Tag values shared by every letter: an e value may be a p value, a t value ...
  const shared = [hex(), hex(), hex(), 'X', 'nostr', 'bitcoin', 'café', 'a"b\\c', '😀 🌍', ' spaced ', 'L'.repeat(700)];
  const kinds = [0, 1, 1, 1, 3, 6, 7, 7, 1111, 30023, 10002];
  const contents = ['hello', 'line1\nline2\ttab\r', 'quote " backslash \\ slash /', 'ctrl \u0001\u001f\b\f del \u007f',
    'separators \u2028 \u2029', 'unicode ñ 日本語 😀', '', '<b>&amp;</b>', 'y'.repeat(3000)];
  const base = 1700000000;
  const events = [];
  for (let i = 0; i < n; i++) {
    const tags = [];
    const nt = Math.floor(r() * 5);
    for (let j = 0; j < nt; j++) {
      const tag = [pick(['e', 'p', 't', 'E', 'P', 'x', 'title']), pick(shared)];
      if (r() < 0.3) tag.push(pick(shared)); // a later element never matches a filter
      tags.push(tag);
    }
    if (r() < 0.05) tags.push(['e']); // a tag without a value
    const created_at = base + Math.floor(r() * 60); // ~5 events per second: many ties
    events.push(finalizeEvent({ kind: pick(kinds), tags, content: pick(contents) + (r() < 0.5 ? ` #${i}` : ''), created_at },
      pick(keys)));
  }
  const seen = new Map();
  for (const e of events) {
    const on = RELAYS.filter(() => r() < 0.5);
    seen.set(e.id, on.length ? on : [pick(RELAYS)]);
  }
  return { events, seen, shared, base, r, pick };
}

export const order = (a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

// A random filter over the fixture's values (relay: may carry the api's relay member).
export function randomFilter(fx, { relay = true } = {}) {
  const { r, pick, events, shared } = fx;
  const some = (arr, max) => [...new Set(Array.from({ length: 1 + Math.floor(r() * max) }, () => pick(arr)))];
  const f = {};
  if (r() < 0.15) f.ids = some([...events.map((e) => e.id), '0'.repeat(64)], 6);
  if (r() < 0.35) f.authors = some([...new Set(events.map((e) => e.pubkey))], 3);
  if (r() < 0.4) f.kinds = some([0, 1, 3, 6, 7, 1111, 30023, 10002, 5], 3);
  if (r() < 0.45) f[`#${pick(['e', 'p', 't', 'E', 'P', 'x'])}`] = some(shared, 2);
  if (r() < 0.1) f[`#${pick(['e', 'p', 't'])}`] = some(shared, 2);
  if (r() < 0.3) f.since = fx.base + Math.floor(r() * 60);
  if (r() < 0.3) f.until = fx.base + Math.floor(r() * 60);
  f.limit = 1 + Math.floor(r() * 40);
  if (relay && r() < 0.3) f.relay = pick(RELAYS);
  return f;
}

// Every fixture event the filter matches (limit ignored), newest first.
export function expected(fx, f) {
  const { relay, limit, cursor, ...nip01 } = f;
  return fx.events.filter((e) => matchFilter(nip01, e) && (!relay || fx.seen.get(e.id).includes(relay))).sort(order);
}

// The query string of a filter for GET /v1/events: lists comma-joined or repeated, names encoded.
export function queryString(f, r = Math.random) {
  const parts = [];
  const enc = encodeURIComponent;
  for (const [k, v] of Object.entries(f)) {
    if (Array.isArray(v)) {
      if (r() < 0.5) parts.push(`${enc(k)}=${v.map(enc).join(',')}`);
      else for (const x of v) parts.push(`${enc(k)}=${enc(x)}`);
    } else parts.push(`${enc(k)}=${enc(String(v))}`);
  }
  return parts.join('&');
}
