// api.test.mjs: every REST endpoint of the api service against a fixture archive of signed events,
// relays and monitor snapshots. Each request goes through node fetch AND curl; each answer is checked
// for status, headers and body, and validated against the OpenAPI document's schema for its path,
// method and status (an answer the document does not allow fails). Pagination walks must return every
// row exactly once; errors (400 naming the parameter, 404, 405, 413), NDJSON, HEAD and CORS (on, off,
// reload) are covered. Expected rows are computed here from the fixture, not by the api's queries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { verifyEvent } from 'nostr-tools/pure';
import fs from 'node:fs';
import { freshExtension, sql, setConfig, waitFor } from './lib/cluster.mjs';
import {
  startApi, stopApi, resetApiConfig, apiPids, api, curl, both, assertValid, loadFixture, walkPages,
  openapiDocument, OPENAPI_FILE,
} from './lib/api.mjs';

const GUCS = ['bigbrotr.api_listen_address', 'bigbrotr.api_port', 'bigbrotr.api_workers', 'bigbrotr.api_interval',
  'bigbrotr.api_cors_origins', 'bigbrotr.api_max_limit'];
const EVENT_KEYS = ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig'];
let fx;

// The fixture's events, newest first (created_at DESC, id DESC), as plain NIP-01 objects.
const order = (a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const plain = (e) => Object.fromEntries(EVENT_KEYS.map((k) => [k, e[k]]));
function expected(pred) {
  return fx.events.filter(pred).sort(order).map(plain);
}
const hasTag = (e, name, values) => e.tags.some((t) => t[0] === name && values.includes(t[1]));
const enc = encodeURIComponent;

before(async () => {
  await freshExtension();
  fx = await loadFixture();
  await startApi();
});

after(async () => {
  await stopApi();
  await resetApiConfig(GUCS);
});

test('the OpenAPI document is valid (swagger-parser) and GET /openapi.json serves exactly it', async () => {
  const file = JSON.parse(fs.readFileSync(OPENAPI_FILE, 'utf8'));
  await SwaggerParser.validate(structuredClone(file));
  assert.equal(file.openapi, '3.1.0');
  const r = await both('/openapi.json');
  assert.equal(r.fetch.status, 200);
  assert.deepEqual(r.fetch.json, file);
  assert.deepEqual(r.curl.json, file);
  // Every route of the api has its path in the document.
  const doc = await openapiDocument();
  for (const p of ['/health', '/ready', '/metrics', '/openapi.json', '/', '/v1/events', '/v1/req', '/v1/events/{id}',
    '/v1/count', '/v1/relays', '/v1/relays/{url}', '/v1/relays/{url}/history', '/v1/relays/{url}/nip11', '/v1/stats', '/v1/services']) {
    assert.ok(doc.paths[p], `the document has ${p}`);
  }
});

test('the validator refuses answers the document does not allow (so every check below can fail)', async () => {
  const ev = fx.events[0];
  const good = { events: [plain(ev)], next: null };
  const answer = (status, body, type = 'application/json', headers = {}) => ({
    status, text: typeof body === 'string' ? body : JSON.stringify(body), headers: new Headers({ 'content-type': type, ...headers }),
  });
  await assertValid('GET', '/v1/events', answer(200, good));
  const bad = [
    answer(200, { events: [{ ...plain(ev), sig: undefined }], next: null }),            // a member missing
    answer(200, { events: [{ ...plain(ev), extra: 1 }], next: null }),                  // a member too many
    answer(200, { events: [{ ...plain(ev), kind: 70000 }], next: null }),               // out of range
    answer(200, { events: [{ ...plain(ev), id: ev.id.toUpperCase() }], next: null }),   // not lower-case hex
    answer(200, { events: [plain(ev)], next: 5 }),                                       // next not a string
    answer(200, { events: [plain(ev)] }),                                                // next missing
    answer(200, good, 'text/html'),                                                      // another media type
    answer(418, { error: 'teapot', message: 'x' }),                                      // an undocumented status
    answer(400, { error: 'bad_parameter' }),                                             // Error without message
    answer(400, { error: 'not_found', message: 'x' }),                                   // a code of another status
    answer(200, `${JSON.stringify(plain(ev))}\n{"id":1}\n`, 'application/x-ndjson'),  // an NDJSON line
    answer(200, good, 'application/json', { link: 'nonsense' }),                         // a header's shape
  ];
  for (const [i, a] of bad.entries()) {
    await assert.rejects(assertValid('GET', '/v1/events', a), assert.AssertionError, `case ${i} was accepted`);
  }
  await assert.rejects(assertValid('GET', '/v1/req', answer(200, good)), /not 405/);                // a method the path does not take
  await assert.rejects(assertValid('GET', '/v2/none', answer(200, good)), /not 404/);               // a path the api does not have
  await assert.rejects(assertValid('POST', '/v1/req', answer(405, { error: 'method_not_allowed', message: 'x' })), /Allow is required/);
});

test('GET /health answers ok, the version and a worker pid', async () => {
  const r = await both('/health');
  assert.equal(r.fetch.status, 200);
  assert.equal(r.fetch.json.status, 'ok');
  const [{ extversion }] = await sql("SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'");
  assert.equal(r.fetch.json.version, extversion);
  const pids = (await apiPids()).map((p) => p.pid);
  assert.ok(pids.includes(r.fetch.json.pid), `pid ${r.fetch.json.pid} is an api process (${pids})`);
});

test('GET /ready answers the database and the services', async () => {
  const r = await both('/ready');
  assert.equal(r.fetch.status, 200);
  assert.equal(r.fetch.json.database, true);
  const names = (await sql('SELECT name FROM bigbrotr.bigbrotr_status() ORDER BY name')).map((x) => x.name);
  assert.deepEqual(r.fetch.json.services.map((s) => s.name).sort(), names);
  assert.equal(r.fetch.json.services.find((s) => s.name === 'api').running, true);
});

test('GET / answers the index; HEAD answers like GET without a body', async () => {
  const r = await both('/');
  assert.equal(r.fetch.status, 200);
  assert.equal(r.fetch.json.name, 'bigbrotr');
  assert.ok(r.fetch.json.endpoints.includes('/v1/events'));
  const h = await api('/v1/events?limit=3', { method: 'HEAD' });
  const g = await api('/v1/events?limit=3');
  assert.equal(h.status, 200);
  assert.equal(h.text, '');
  assert.equal(h.headers.get('x-next-cursor'), g.headers.get('x-next-cursor'));
  const hc = await curl('/v1/events?limit=3', { method: 'HEAD' });
  assert.equal(hc.status, 200);
  assert.equal(hc.text, '');
});

test('GET /v1/events: newest first, exactly as signed, with the next-page headers', async () => {
  const r = await both('/v1/events');
  assert.equal(r.fetch.status, 200);
  const want = expected(() => true);
  assert.equal(r.fetch.json.events.length, 100, 'the default limit is api_default_limit (100)');
  assert.deepEqual(r.fetch.json.events, want.slice(0, 100));
  assert.deepEqual(r.curl.json, r.fetch.json);
  for (const e of r.fetch.json.events) {
    assert.deepEqual(Object.keys(e), EVENT_KEYS, 'members in NIP-01 order');
    assert.ok(verifyEvent(e), `event ${e.id} verifies`);
  }
  const next = r.fetch.json.next;
  assert.equal(typeof next, 'string');
  assert.equal(r.fetch.headers.get('x-next-cursor'), next);
  assert.equal(r.curl.headers.get('x-next-cursor'), next);
  const link = r.fetch.headers.get('link');
  assert.match(link, /^<\/v1\/events\?[^>]*cursor=[^>]+>; rel="next"$/);
  // The Link target is the next page.
  const target = link.slice(1, link.indexOf('>'));
  const p2 = await both(target);
  assert.deepEqual(p2.fetch.json.events, want.slice(100, 200));
  // The last page has next null and no next headers.
  const last = await both(`/v1/events?limit=500`);
  assert.equal(last.fetch.json.events.length, want.length);
  assert.equal(last.fetch.json.next, null);
  assert.equal(last.fetch.headers.get('x-next-cursor'), null);
  assert.equal(last.fetch.headers.get('link'), null);
});

test('GET /v1/events: each filter parameter selects what NIP-01 says', async () => {
  const [a0, a1] = fx.authors;
  const someIds = [fx.events[3].id, fx.events[50].id, fx.events[77].id];
  const eTarget = fx.events.find((e) => e.tags.some((t) => t[0] === 'e')).tags.find((t) => t[0] === 'e')[1];
  const mid = fx.events[100].created_at;
  const cases = [
    [`?authors=${a0}&limit=500`, (e) => e.pubkey === a0],
    [`?authors=${a0},${a1}&limit=500`, (e) => [a0, a1].includes(e.pubkey)],
    [`?authors=${a0}&authors=${a1}&limit=500`, (e) => [a0, a1].includes(e.pubkey)],
    [`?ids=${someIds.join(',')}`, (e) => someIds.includes(e.id)],
    ['?kinds=7&limit=500', (e) => e.kind === 7],
    ['?kinds=0,3&kinds=30023&limit=500', (e) => [0, 3, 30023].includes(e.kind)],
    [`?%23t=${enc("o'reilly")}&limit=500`, (e) => hasTag(e, 't', ["o'reilly"])],
    [`?%23t=${enc('ünïcode')},nostr&limit=500`, (e) => hasTag(e, 't', ['ünïcode', 'nostr'])],
    [`?%23e=${eTarget}&limit=500`, (e) => hasTag(e, 'e', [eTarget])],
    [`?%23p=${a1}&kinds=1&limit=500`, (e) => hasTag(e, 'p', [a1]) && e.kind === 1],
    [`?%23d=article-6`, (e) => hasTag(e, 'd', ['article-6'])],
    [`?since=${mid}&limit=500`, (e) => e.created_at >= mid],
    [`?until=${mid}&limit=500`, (e) => e.created_at <= mid],
    [`?since=${mid}&until=${mid}`, (e) => e.created_at === mid],
    [`?authors=${a0}&kinds=1&since=${mid}&limit=500`, (e) => e.pubkey === a0 && e.kind === 1 && e.created_at >= mid],
    [`?%23t=none-such`, () => false],
  ];
  for (const [q, pred] of cases) {
    const r = await both(`/v1/events${q}`);
    assert.equal(r.fetch.status, 200, `${q}: ${r.fetch.text}`);
    assert.deepEqual(r.fetch.json.events, expected(pred), q);
    assert.deepEqual(r.curl.json.events, r.fetch.json.events, `${q}: curl`);
  }
});

test('GET /v1/events?relay=: events seen on that relay, the URL normalized', async () => {
  const seenOn = (url) => new Set(fx.sightings.filter(([, u]) => u === url).map(([e]) => e.id));
  const gamma = seenOn('wss://gamma.example.org');
  for (const given of ['wss://gamma.example.org', 'WSS://Gamma.Example.org:443/']) {
    const r = await both(`/v1/events?relay=${enc(given)}&limit=500`);
    assert.equal(r.fetch.status, 200, r.fetch.text);
    assert.deepEqual(r.fetch.json.events, expected((e) => gamma.has(e.id)), given);
  }
  const onion = seenOn(fx.relays.find((x) => x.network === 'tor').url);
  const r = await both(`/v1/events?relay=${enc(fx.relays.find((x) => x.network === 'tor').url)}&kinds=1&limit=500`);
  assert.deepEqual(r.fetch.json.events, expected((e) => onion.has(e.id) && e.kind === 1));
  const none = await both(`/v1/events?relay=${enc('wss://delta.example.net')}`);
  assert.deepEqual(none.fetch.json.events, []);
});

test('pagination: walking events by author returns every event exactly once, in order', async () => {
  for (const author of fx.authors.slice(0, 3)) {
    const want = expected((e) => e.pubkey === author);
    const { rows, pages } = await walkPages(`/v1/events?authors=${author}&limit=7`, 'events');
    assert.deepEqual(rows, want, `author ${author}`);
    assert.ok(pages <= Math.ceil(want.length / 7) + 1, `${pages} pages for ${want.length} events`);
  }
  // A page boundary inside a run of equal created_at: the id tie-break keeps every event once.
  const all = await walkPages('/v1/events?limit=3', 'events');
  assert.deepEqual(all.rows, expected(() => true));
  assert.equal(new Set(all.rows.map((e) => e.id)).size, fx.events.length);
});

test('NDJSON: one event per line, the same events and cursor as JSON', async () => {
  const q = `/v1/events?authors=${fx.authors[2]}&limit=9`;
  const json = await api(q);
  for (const client of [api, curl]) {
    const r = await client(q, { headers: { Accept: 'application/x-ndjson' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/x-ndjson/);
    await assertValid('GET', q, r);
    const lines = r.text.split('\n').filter((l) => l !== '');
    assert.deepEqual(lines.map((l) => JSON.parse(l)), json.json.events);
    assert.equal(r.headers.get('x-next-cursor'), json.json.next);
  }
  const post = await api('/v1/req', { method: 'POST', body: { authors: [fx.authors[2]], limit: 9 }, headers: { Accept: 'application/x-ndjson' } });
  await assertValid('POST', '/v1/req', post);
  assert.deepEqual(post.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)), json.json.events);
});

test('POST /v1/req: a filter body answers as GET /v1/events; cursor as a member walks the pages', async () => {
  const a = fx.authors[1];
  const filter = { authors: [a], kinds: [1, 7], '#t': ['nostr', 'bitcoin'], limit: 500 };
  const r = await both('/v1/req', { method: 'POST', body: filter });
  assert.equal(r.fetch.status, 200, r.fetch.text);
  const want = expected((e) => e.pubkey === a && [1, 7].includes(e.kind) && hasTag(e, 't', ['nostr', 'bitcoin']));
  assert.deepEqual(r.fetch.json.events, want);
  const rows = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const p = await both('/v1/req', { method: 'POST', body: { authors: [a], limit: 4, ...(cursor ? { cursor } : {}) } });
    rows.push(...p.fetch.json.events);
    cursor = p.fetch.json.next;
    if (cursor === null) break;
  }
  assert.deepEqual(rows, expected((e) => e.pubkey === a));
});

test('GET /v1/events/{id}: the event and where it was seen, oldest first; 404; 400', async () => {
  const e = fx.events[30]; // on alpha, beta, gamma and the onion relay
  const r = await both(`/v1/events/${e.id}`);
  assert.equal(r.fetch.status, 200);
  assert.deepEqual(r.fetch.json.event, plain(e));
  const seen = fx.sightings.filter(([x]) => x.id === e.id).map(([, relay, seen_at]) => ({ relay, seen_at }))
    .sort((x, y) => x.seen_at - y.seen_at);
  assert.equal(seen.length, 4);
  assert.deepEqual(r.fetch.json.seen_on, seen);
  const nf = await both(`/v1/events/${'0'.repeat(64)}`);
  assert.equal(nf.fetch.status, 404);
  assert.equal(nf.fetch.json.error, 'not_found');
  for (const bad of ['xyz', 'A'.repeat(64), '0'.repeat(63)]) {
    const b = await both(`/v1/events/${bad}`);
    assert.equal(b.fetch.status, 400, bad);
    assert.equal(b.fetch.json.error, 'bad_parameter');
    assert.match(b.fetch.json.message, /^id\b/);
  }
});

test('POST /v1/count: exact counts of a filter and of the union of filters', async () => {
  const a = fx.authors[0];
  const cases = [
    [{ kinds: [1] }, (e) => e.kind === 1],
    [[{ kinds: [1] }, { authors: [a] }], (e) => e.kind === 1 || e.pubkey === a],
    [[{ '#t': ['nostr'] }, { '#t': ['nostr'], kinds: [1] }], (e) => hasTag(e, 't', ['nostr'])],
    [{ authors: [a], since: fx.events[120].created_at }, (e) => e.pubkey === a && e.created_at >= fx.events[120].created_at],
    [{}, () => true],
  ];
  for (const [body, pred] of cases) {
    const r = await both('/v1/count', { method: 'POST', body });
    assert.equal(r.fetch.status, 200, `${JSON.stringify(body)}: ${r.fetch.text}`);
    assert.deepEqual(r.fetch.json, { count: fx.events.filter(pred).length, approximate: false }, JSON.stringify(body));
  }
});

test('GET /v1/relays: every relay once over the pages, ordered by url; each filter', async () => {
  const urls = fx.relays.map((r) => r.url).sort();
  const { rows } = await walkPages('/v1/relays?limit=2', 'relays');
  assert.deepEqual(rows.map((r) => r.url), urls);
  const alpha = rows.find((r) => r.url === 'wss://alpha.example.com');
  const t = fx.now - 86400 * 3;
  assert.equal(alpha.network, 'clearnet');
  assert.equal(alpha.checked_at, t + 7200);
  assert.equal(alpha.rtt_open, 90);
  assert.equal(alpha.readable, true);
  assert.equal(alpha.name, 'Alpha');
  assert.equal(alpha.version, '1.0.1');
  assert.deepEqual(alpha.supported_nips, [1, 11, 45, 50]);
  const delta = rows.find((r) => r.url === 'wss://delta.example.net');
  assert.equal(delta.checked_at, null);
  assert.equal(delta.name, null);
  const sel = async (q) => (await both(`/v1/relays?${q}`)).fetch.json.relays.map((r) => r.url);
  assert.deepEqual(await sel('network=tor'), [fx.relays.find((r) => r.network === 'tor').url]);
  assert.deepEqual(await sel('software=nostr-rs-relay'), [fx.relays.find((r) => r.network === 'tor').url, 'wss://beta.example.com']);
  assert.deepEqual(await sel('nip=45'), ['wss://alpha.example.com']);
  const readable = await sel('readable=true');
  assert.ok(readable.includes('wss://alpha.example.com') && !readable.includes('wss://gamma.example.org') && !readable.includes('wss://delta.example.net'), String(readable));
  const unreadable = await sel('readable=false');
  assert.ok(unreadable.includes('wss://gamma.example.org') && !unreadable.includes('wss://alpha.example.com'), String(unreadable));
  assert.ok((await sel('writable=true')).includes('wss://alpha.example.com'));
});

test('GET /v1/relays/{url}: the latest snapshot with NIP-11 and NIP-66; 404; 400', async () => {
  const r = await both(`/v1/relays/${enc('wss://alpha.example.com')}`);
  assert.equal(r.fetch.status, 200, r.fetch.text);
  const t = fx.now - 86400 * 3;
  assert.equal(r.fetch.json.url, 'wss://alpha.example.com');
  assert.equal(r.fetch.json.checked_at, t + 7200);
  assert.equal(r.fetch.json.nip11.version, '1.0.1');
  assert.deepEqual(r.fetch.json.nip11.extra_fields, { posting_policy: 'x' });
  assert.equal(r.fetch.json.nip66.rtt_open, 90);
  assert.equal(r.fetch.json.nip66.writable, true);
  const norm = await both(`/v1/relays/${enc('WSS://Alpha.Example.com:443/')}`);
  assert.equal(norm.fetch.status, 200);
  assert.equal(norm.fetch.json.url, 'wss://alpha.example.com');
  const d = await both(`/v1/relays/${enc('wss://delta.example.net')}`);
  assert.equal(d.fetch.status, 200);
  assert.equal(d.fetch.json.nip11, null);
  assert.equal(d.fetch.json.nip66, null);
  const nf = await both(`/v1/relays/${enc('wss://unknown.example.com')}`);
  assert.equal(nf.fetch.status, 404);
  assert.equal(nf.fetch.json.error, 'not_found');
  const bad = await both(`/v1/relays/${enc('notaurl')}`);
  assert.equal(bad.fetch.status, 400);
  assert.match(bad.fetch.json.message, /^url\b/);
});

test('GET /v1/relays/{url}/history: newest first, since/until, pages; NIP-66 null without a check', async () => {
  const t = fx.now - 86400 * 3;
  const alpha = enc('wss://alpha.example.com');
  const r = await both(`/v1/relays/${alpha}/history`);
  assert.equal(r.fetch.status, 200, r.fetch.text);
  assert.equal(r.fetch.json.relay, 'wss://alpha.example.com');
  assert.deepEqual(r.fetch.json.history.map((h) => [h.generated_at, h.rtt_open, h.writable]), [[t + 7200, 90, true], [t + 3600, 120, false], [t, 100, true]]);
  const { rows } = await walkPages(`/v1/relays/${alpha}/history?limit=1`, 'history');
  assert.deepEqual(rows, r.fetch.json.history);
  const w = await both(`/v1/relays/${alpha}/history?since=${t + 1}&until=${t + 3600}`);
  assert.deepEqual(w.fetch.json.history.map((h) => h.generated_at), [t + 3600]);
  const beta = await both(`/v1/relays/${enc('wss://beta.example.com')}/history`);
  assert.equal(beta.fetch.json.history[0].generated_at, t + 3600);
  assert.equal(beta.fetch.json.history[0].readable, null);
  assert.equal(beta.fetch.json.history[0].rtt_open, null);
  assert.equal(beta.fetch.json.history[1].rtt_open, 200);
  const nf = await both(`/v1/relays/${enc('wss://unknown.example.com')}/history`);
  assert.equal(nf.fetch.status, 404);
});

test('GET /v1/relays/{url}/nip11: each distinct document with first and last seen', async () => {
  const t = fx.now - 86400 * 3;
  const r = await both(`/v1/relays/${enc('wss://alpha.example.com')}/nip11`);
  assert.equal(r.fetch.status, 200, r.fetch.text);
  const docs = r.fetch.json.documents;
  assert.equal(docs.length, 2);
  assert.deepEqual(docs.map((d) => [d.document.version, d.first_seen, d.last_seen, d.snapshots]),
    [['1.0.1', t + 7200, t + 7200, 1], ['1.0.0', t, t + 3600, 2]]);
  const g = await both(`/v1/relays/${enc('wss://gamma.example.org')}/nip11`);
  assert.deepEqual(g.fetch.json.documents, []);
  const nf = await both(`/v1/relays/${enc('wss://unknown.example.com')}/nip11`);
  assert.equal(nf.fetch.status, 404);
});

test('GET /v1/stats: totals, by kind, by day (UTC) from the stats table', async () => {
  const r = await both('/v1/stats?days=3650');
  assert.equal(r.fetch.status, 200, r.fetch.text);
  const s = r.fetch.json;
  assert.equal(s.events, fx.events.length);
  assert.equal(s.relays, fx.relays.length);
  const byKind = {};
  for (const e of fx.events) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
  assert.deepEqual(Object.fromEntries(s.by_kind.map((k) => [k.kind, k.events])), byKind);
  for (let i = 1; i < s.by_kind.length; i++) assert.ok(s.by_kind[i - 1].events >= s.by_kind[i].events, 'largest first');
  const byDay = {};
  for (const e of fx.events) { const d = new Date(e.created_at * 1000).toISOString().slice(0, 10); byDay[d] = (byDay[d] ?? 0) + 1; }
  assert.deepEqual(s.by_day, Object.entries(byDay).sort((a, b) => (a[0] < b[0] ? 1 : -1)).map(([day, events]) => ({ day, events })));
  const def = await both('/v1/stats');
  assert.equal(def.fetch.status, 200);
  for (const bad of ['0', '3651', 'x']) {
    const b = await both(`/v1/stats?days=${bad}`);
    assert.equal(b.fetch.status, 400, bad);
    assert.match(b.fetch.json.message, /^days\b/);
  }
});

test('GET /v1/services: bigbrotr_status() as JSON', async () => {
  const r = await both('/v1/services');
  assert.equal(r.fetch.status, 200, r.fetch.text);
  const want = await sql('SELECT name, lifecycle, enabled, running FROM bigbrotr.bigbrotr_status() ORDER BY name');
  assert.deepEqual(r.fetch.json.services.map(({ name, lifecycle, enabled, running }) => ({ name, lifecycle, enabled, running }))
    .sort((a, b) => (a.name < b.name ? -1 : 1)), want);
  const apiRow = r.fetch.json.services.find((s) => s.name === 'api');
  assert.equal(typeof apiRow.pid, 'number');
  assert.equal(typeof apiRow.started_at, 'number');
});

test('GET /metrics: Prometheus text with request counters, the histogram and archive gauges', async () => {
  const metric = (text, name) => {
    const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l === name);
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  const first = await both('/metrics');
  assert.equal(first.fetch.status, 200);
  assert.equal(first.fetch.headers.get('content-type'), 'text/plain; version=0.0.4');
  for (const line of first.fetch.text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|\+Inf|-Inf)$/, `exposition line ${line}`);
  }
  const key = 'bigbrotr_api_requests_total{endpoint="/health",status="200"}';
  const before = metric(first.fetch.text, key) ?? 0;
  for (let i = 0; i < 10; i++) await api('/health');
  await api('/no/such/path');
  const t = (await api('/metrics')).text;
  assert.ok(metric(t, key) >= before + 10, `${key} grew by the 10 requests (all workers counted): ${metric(t, key)} vs ${before}`);
  assert.ok(metric(t, 'bigbrotr_api_requests_total{endpoint="unmatched",status="404"}') >= 1);
  assert.ok(metric(t, 'bigbrotr_api_request_duration_seconds_bucket{endpoint="/health",le="+Inf"}') >= 10);
  assert.ok(metric(t, 'bigbrotr_api_request_duration_seconds_count{endpoint="/health"}') >= 10);
  assert.equal(metric(t, 'bigbrotr_archive_events'), fx.events.length);
  assert.equal(metric(t, 'bigbrotr_archive_relays'), fx.relays.length);
  assert.notEqual(metric(t, 'bigbrotr_archive_sightings'), undefined);
  assert.notEqual(metric(t, 'bigbrotr_api_websocket_connections'), undefined);
  assert.equal(metric(t, 'bigbrotr_service_running{service="api"}'), 1);
});

test('errors: 400 names the parameter, 404, 405 with Allow, 413, bad_body', async () => {
  // Every case is checked (a failure does not hide the next ones); the test fails listing them all.
  const failures = [];
  const soft = async (label, fn) => {
    try {
      await fn();
    } catch (e) {
      failures.push(`${label}: ${e.message.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
  };
  const a = fx.authors[0];
  const params = [
    ['?foo=1', /^foo\b/], [`?authors=xyz`, /^authors\b/], [`?authors=${a},nothex`, /^authors\b/], ['?ids=12', /^ids\b/],
    ['?kinds=70000', /^kinds\b/], ['?kinds=-1', /^kinds\b/], ['?kinds=one', /^kinds\b/], ['?since=yesterday', /^since\b/],
    ['?until=1.5', /^until\b/], ['?limit=0', /^limit\b/], ['?limit=abc', /^limit\b/], ['?search=nostr', /^search\b/],
    ['?cursor=not-a-cursor', /^cursor\b/], ['?relay=notaurl', /^relay\b/], ['?%23tt=x', /^#tt\b/],
  ];
  for (const [q, re] of params) {
    await soft(`GET /v1/events${q}`, async () => {
      const r = await both(`/v1/events${q}`);
      assert.equal(r.fetch.status, 400, r.fetch.text);
      assert.equal(r.fetch.json.error, 'bad_parameter');
      assert.match(r.fetch.json.message, re);
    });
  }
  for (const [q, re] of [['?network=i2p', /^network\b/], ['?readable=maybe', /^readable\b/], ['?nip=x', /^nip\b/], ['?bogus=1', /^bogus\b/]]) {
    await soft(`GET /v1/relays${q}`, async () => {
      const r = await both(`/v1/relays${q}`);
      assert.equal(r.fetch.status, 400, r.fetch.text);
      assert.match(r.fetch.json.message, re);
    });
  }
  for (const [body, re] of [[{ kinds: ['x'] }, /^kinds\b/], [{ authors: 'abc' }, /^authors\b/], [{ limit: -3 }, /^limit\b/], [{ search: 'x' }, /^search\b/], [{ nope: 1 }, /^nope\b/]]) {
    await soft(`POST /v1/req ${JSON.stringify(body)}`, async () => {
      const r = await both('/v1/req', { method: 'POST', body });
      assert.equal(r.fetch.status, 400, r.fetch.text);
      assert.equal(r.fetch.json.error, 'bad_parameter');
      assert.match(r.fetch.json.message, re);
    });
  }
  for (const body of ['not json', '[1,2]', '"x"', '']) {
    for (const p of ['/v1/req', '/v1/count']) {
      await soft(`POST ${p} ${JSON.stringify(body)}`, async () => {
        const r = await both(p, { method: 'POST', body });
        assert.equal(r.fetch.status, 400, r.fetch.text);
        assert.equal(r.fetch.json.error, 'bad_body');
      });
    }
  }
  // 404 for a path the api does not have: the shared Error schema.
  const doc = await openapiDocument();
  const errorSchema = new Ajv2020({ strict: false }).compile(doc.components.schemas.Error);
  for (const client of [api, curl]) {
    await soft(`GET /v2/nothing (${client.name})`, async () => {
      const r = await client('/v2/nothing');
      assert.equal(r.status, 404);
      assert.ok(errorSchema(r.json), r.text);
      assert.equal(r.json.error, 'not_found');
    });
  }
  // 405: the path exists with other methods.
  await soft('POST /v1/events', async () => {
    const m1 = await both('/v1/events', { method: 'POST', body: {} });
    assert.equal(m1.fetch.status, 405);
    assert.equal(m1.fetch.json.error, 'method_not_allowed');
    assert.match(m1.fetch.headers.get('allow'), /\bGET\b/);
  });
  await soft('GET /v1/req', async () => {
    const m2 = await api('/v1/req');
    assert.equal(m2.status, 405);
    assert.ok(errorSchema(m2.json), m2.text);
    assert.match(m2.headers.get('allow'), /\bPOST\b/);
    assert.doesNotMatch(m2.headers.get('allow'), /\bGET\b/);
  });
  // 413: a body over api_max_body_bytes (65536 by default).
  await soft('POST /v1/req over 64 kB', async () => {
    const big = JSON.stringify({ authors: Array.from({ length: 1100 }, () => a) });
    assert.ok(big.length > 65536);
    const tl = await both('/v1/req', { method: 'POST', body: big });
    assert.equal(tl.fetch.status, 413);
    assert.equal(tl.fetch.json.error, 'body_too_large');
  });
  // The worker goes on after each of them.
  assert.equal((await api('/health')).status, 200);
  assert.deepEqual(failures, []);
});

test('limit above api_max_limit is clamped (reload)', async () => {
  await setConfig({ 'bigbrotr.api_max_limit': 50 });
  await waitFor('api_max_limit 50 in effect', async () => (await api('/v1/events?limit=1000')).json?.events?.length === 50);
  for (let i = 0; i < 4; i++) { // every worker has it
    const r = await both('/v1/events?limit=1000');
    assert.equal(r.fetch.json.events.length, 50);
    assert.deepEqual(r.fetch.json.events, expected(() => true).slice(0, 50));
  }
  await setConfig({ 'bigbrotr.api_max_limit': null });
  await waitFor('api_max_limit back to 500', async () => (await api('/v1/events?limit=1000')).json?.events?.length === fx.events.length);
});

test('CORS: off by default; on for listed origins after a reload; preflight; *', async () => {
  const origin = 'https://app.example';
  let r = await both('/v1/events?limit=1', { headers: { Origin: origin } });
  assert.equal(r.fetch.headers.get('access-control-allow-origin'), null, 'no CORS headers by default');
  assert.equal(r.curl.headers.get('access-control-allow-origin'), null);
  await setConfig({ 'bigbrotr.api_cors_origins': `https://other.example,${origin}` });
  await waitFor('CORS after reload', async () => {
    const rs = await Promise.all([1, 2, 3, 4].map(() => api('/health', { headers: { Origin: origin } })));
    return rs.every((x) => x.headers.get('access-control-allow-origin') === origin);
  });
  r = await both('/v1/events?limit=1', { headers: { Origin: origin } });
  assert.equal(r.fetch.headers.get('access-control-allow-origin'), origin);
  assert.equal(r.curl.headers.get('access-control-allow-origin'), origin);
  assert.match(r.fetch.headers.get('vary'), /Origin/);
  const other = await api('/v1/events?limit=1', { headers: { Origin: 'https://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null, 'an origin not listed gets none');
  for (const client of [api, curl]) {
    const pre = await client('/v1/req', { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'Content-Type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), origin);
    assert.match(pre.headers.get('access-control-allow-methods'), /GET, POST, OPTIONS/);
    assert.match(pre.headers.get('access-control-allow-headers'), /Content-Type, Accept/);
  }
  await setConfig({ 'bigbrotr.api_cors_origins': '*' });
  await waitFor('CORS * after reload', async () => {
    const rs = await Promise.all([1, 2, 3, 4].map(() => api('/health', { headers: { Origin: 'https://any.example' } })));
    return rs.every((x) => x.headers.get('access-control-allow-origin') === '*');
  });
  await setConfig({ 'bigbrotr.api_cors_origins': null });
  await waitFor('CORS off again', async () => {
    const rs = await Promise.all([1, 2, 3, 4].map(() => api('/health', { headers: { Origin: origin } })));
    return rs.every((x) => x.headers.get('access-control-allow-origin') === null);
  });
});
