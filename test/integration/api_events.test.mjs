// api_events.test.mjs: the api's events queries against nostr-tools' matchFilter. A fixture archive of
// signed events (test/integration/lib/api_events_fixture.mjs: many authors and kinds, tag values shared
// across e/p/t/E/P/x, many equal created_at, a 700-byte tag value, unicode and escapes in content) is
// stored through the extension's insert procedure; then random filters go through GET /v1/events,
// POST /v1/req and the WebSocket REQ of the running api service, and every answer must be exactly the
// oracle's: the same events in the same order ((created_at, id) descending), a full walk of the keyset
// pages giving every match exactly once, every event passing verifyEvent. Also: the exact recheck of a
// tag's letter, the union of several filters each with its own limit, counts (exact and estimated),
// one event with where it was seen, NDJSON, and refused parameters named in the message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { verifyEvent } from 'nostr-tools/pure';
import { sql, connect, waitFor, setConfig, freshExtension } from './lib/cluster.mjs';
import { makeFixture, randomFilter, expected, queryString, order, RELAYS } from './lib/api_events_fixture.mjs';

const PORT = 57781;
const API = `http://127.0.0.1:${PORT}`;
const MAX_LIMIT = 50;
const fx = makeFixture({ seed: Number(process.env.BB_API_SEED || 7) });
const verified = new Set();

function assertVerified(events) {
  for (const e of events) {
    if (verified.has(e.id)) continue;
    assert.ok(verifyEvent({ ...e }), `event ${e.id} does not verify: ${JSON.stringify(e).slice(0, 300)}`);
    assert.deepEqual(Object.keys(e), ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig']);
    verified.add(e.id);
  }
}
const ids = (list) => list.map((e) => e.id);

async function get(path, headers = {}) {
  const res = await fetch(API + path, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
async function post(path, body) {
  const res = await fetch(API + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// Every page of a filter, GET or POST, following "next"; checks each page's shape on the way.
async function walk(f, how) {
  const all = [];
  let cursor = null;
  for (let pages = 0; pages < 1000; pages++) {
    const g = cursor ? { ...f, cursor } : f;
    const r = how === 'GET' ? await get(`/v1/events?${queryString(g, fx.r)}`) : await post('/v1/req', g);
    assert.equal(r.status, 200, `${how} ${JSON.stringify(g).slice(0, 200)}: ${r.text.slice(0, 300)}`);
    const body = JSON.parse(r.text);
    assert.ok(body.events.length <= Math.min(f.limit ?? MAX_LIMIT, MAX_LIMIT), 'a page holds at most limit events');
    all.push(...body.events);
    if (body.next === null) {
      assert.equal(r.headers.get('x-next-cursor'), null);
      return all;
    }
    assert.equal(body.events.length, Math.min(f.limit, MAX_LIMIT), 'only the last page is short');
    assert.equal(r.headers.get('x-next-cursor'), body.next);
    if (how === 'GET') assert.match(r.headers.get('link') || '', new RegExp(`cursor=${body.next}>; rel="next"$`));
    cursor = body.next;
  }
  throw new Error('more than 1000 pages');
}

// One WebSocket, REQs answered in turn.
class Client {
  constructor() {
    this.ws = new WebSocket(`ws://127.0.0.1:${PORT}/`);
    this.queue = [];
    this.waiting = null;
    this.ws.on('message', (m) => {
      this.queue.push(JSON.parse(m.toString()));
      if (this.waiting) this.waiting();
    });
  }
  open() { return new Promise((resolve, reject) => { this.ws.once('open', resolve); this.ws.once('error', reject); }); }
  async next() {
    while (this.queue.length === 0) await new Promise((r) => { this.waiting = r; });
    this.waiting = null;
    return this.queue.shift();
  }
  async req(sub, filters) {
    this.ws.send(JSON.stringify(['REQ', sub, ...filters]));
    const events = [];
    for (;;) {
      const m = await this.next();
      if (m[0] === 'EVENT' && m[1] === sub) events.push(m[2]);
      else if (m[0] === 'EOSE' && m[1] === sub) return { events };
      else if (m[0] === 'CLOSED' && m[1] === sub) return { events, closed: m[2] };
      else throw new Error(`unexpected message ${JSON.stringify(m).slice(0, 200)}`);
    }
  }
  async count(sub, filters) {
    this.ws.send(JSON.stringify(['COUNT', sub, ...filters]));
    return this.next();
  }
  close() { this.ws.close(); }
}

before(async () => {
  await freshExtension();
  const c = await connect();
  try {
    for (const e of fx.events) {
      for (const [i, url] of fx.seen.get(e.id).entries()) {
        await c.query(`SELECT bigbrotr.insert_event(decode($1, 'hex'), decode($2, 'hex'), $3, $4, $5::jsonb, $6,
                         decode($7, 'hex'), $8, NULL, 0, $9)`,
        [e.id, e.pubkey, e.created_at, e.kind, JSON.stringify(e.tags), e.content, e.sig, url, 2000 - i]);
      }
    }
    await c.query('ANALYZE bigbrotr.events');
    await c.query('ANALYZE bigbrotr.events_relays');
  } finally {
    await c.end();
  }
  await setConfig({ 'bigbrotr.api_port': PORT, 'bigbrotr.api_workers': 1, 'bigbrotr.api_max_limit': MAX_LIMIT });
  await sql("SELECT bigbrotr.bigbrotr_start('api')");
  await waitFor('the api answering /health', async () => (await get('/health').catch(() => ({}))).status === 200);
});

after(async () => {
  await sql("SELECT bigbrotr.bigbrotr_stop('api')").catch(() => {});
  await setConfig({ 'bigbrotr.api_port': null, 'bigbrotr.api_workers': null, 'bigbrotr.api_max_limit': null,
    'bigbrotr.api_count_exact_limit': null });
});

test('random filters: GET /v1/events and POST /v1/req give the oracle\'s events in its order, pages walk every match once', async () => {
  let nonEmpty = 0;
  let multiPage = 0;
  for (let n = 0; n < 120; n++) {
    const f = randomFilter(fx);
    const want = expected(fx, f);
    if (want.length) nonEmpty++;
    if (want.length > f.limit) multiPage++;
    for (const how of ['GET', 'POST']) {
      const got = await walk(f, how);
      assertVerified(got);
      assert.deepEqual(ids(got), ids(want), `${how} ${JSON.stringify(f)}`);
    }
  }
  // the generator must exercise something: answers, and walks over several pages
  assert.ok(nonEmpty >= 40 && multiPage >= 10, `nonEmpty ${nonEmpty}, multiPage ${multiPage}`);
  assert.equal(verified.size >= fx.events.length * 0.9, true, `verified ${verified.size} of ${fx.events.length}`);
});

test('the full walk of the whole archive returns every event once, in order, across equal created_at', async () => {
  const got = await walk({ limit: 7 }, 'GET');
  assert.deepEqual(ids(got), ids([...fx.events].sort(order)));
  assert.equal(new Set(ids(got)).size, fx.events.length);
  assertVerified(got);
});

test('a tag filter matches its letter exactly (tagvalues keeps no letter), long values too', async () => {
  let differ = 0;
  for (const v of fx.shared) {
    for (const letter of ['e', 'p', 't', 'E', 'x']) {
      const f = { [`#${letter}`]: [v], limit: MAX_LIMIT };
      const want = expected(fx, f);
      const got = await walk(f, v.length > 600 ? 'POST' : 'GET');
      assert.deepEqual(ids(got), ids(want), `#${letter}=${v.slice(0, 20)}`);
      const other = expected(fx, { [`#${letter === 'e' ? 'p' : 'e'}`]: [v] });
      if (ids(other).join() !== ids(want).join()) differ++;
    }
  }
  assert.ok(differ > 10, 'the fixture has values shared across letters');
  // the 700-byte value (stored in tagvalues as its sha256 entry) is found by GET as well
  const long = fx.shared.find((s) => s.length > 600);
  const want = expected(fx, { '#t': [long] });
  assert.ok(want.length > 0);
  assert.deepEqual(ids(await walk({ '#t': [long], limit: 10 }, 'GET')), ids(want));
});

test('WebSocket REQ: each filter its own limit (clamped to api_max_limit), the union newest first, an event once', async () => {
  const c = new Client();
  await c.open();
  try {
    for (let n = 0; n < 60; n++) {
      const filters = Array.from({ length: 1 + Math.floor(fx.r() * 4) }, () => randomFilter(fx, { relay: false }));
      if (n % 10 === 0) delete filters[0].limit; // no limit: api_max_limit
      const union = new Map();
      for (const f of filters) for (const e of expected(fx, f).slice(0, Math.min(f.limit ?? MAX_LIMIT, MAX_LIMIT))) union.set(e.id, e);
      const want = [...union.values()].sort(order);
      const r = await c.req(`s${n}`, filters);
      c.ws.send(JSON.stringify(['CLOSE', `s${n}`])); // subscriptions stay registered until CLOSE
      assert.equal(r.closed, undefined, r.closed);
      assertVerified(r.events);
      assert.deepEqual(ids(r.events), ids(want), JSON.stringify(filters));
    }
    const big = await c.req('all', [{ limit: 100000 }]);
    assert.equal(big.events.length, MAX_LIMIT);
    const refused = await c.req('bad', [{ kinds: [70000] }]);
    assert.deepEqual([refused.events.length, refused.closed], [0, 'error: kinds: 70000 is not 0..65535']);
    assert.equal((await c.req('s', [{ search: 'x' }])).closed, 'unsupported: search');
  } finally {
    c.close();
  }
});

test('count: the union of the filters, exact; above api_count_exact_limit an estimate, never below it', async () => {
  const c = new Client();
  await c.open();
  try {
    for (let n = 0; n < 30; n++) {
      const filters = Array.from({ length: 1 + Math.floor(fx.r() * 3) }, () => randomFilter(fx));
      const all = new Set();
      for (const f of filters) for (const e of expected(fx, f)) all.add(e.id);
      const r = await post('/v1/count', filters.length === 1 ? filters[0] : filters);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(JSON.parse(r.text), { count: all.size, approximate: false }, JSON.stringify(filters));
      const ws = filters.map(({ relay, ...nip01 }) => nip01);
      const wsAll = new Set();
      for (const f of ws) for (const e of expected(fx, f)) wsAll.add(e.id);
      assert.deepEqual(await c.count(`c${n}`, ws), ['COUNT', `c${n}`, { count: wsAll.size }]);
    }
    await setConfig({ 'bigbrotr.api_count_exact_limit': 10 });
    await waitFor('the new exact limit', async () => JSON.parse((await post('/v1/count', {})).text).approximate === true);
    const est = JSON.parse((await post('/v1/count', [{ kinds: [1] }, { kinds: [7] }])).text);
    assert.equal(est.approximate, true);
    assert.ok(est.count >= 11, `an estimate is never below the exact limit: ${est.count}`);
    const two = { ids: [fx.events[0].id, fx.events[1].id, '0'.repeat(64)] };
    assert.deepEqual(JSON.parse((await post('/v1/count', two)).text), { count: 2, approximate: false });
    const wsEst = await c.count('e', [{}]);
    assert.equal(wsEst[2].approximate, true);
  } finally {
    c.close();
    await setConfig({ 'bigbrotr.api_count_exact_limit': null });
  }
});

test('GET /v1/events/{id}: the event and where it was seen, oldest first; 404 unknown; 400 not hex', async () => {
  const e = fx.events.find((x) => fx.seen.get(x.id).length >= 2);
  const r = await get(`/v1/events/${e.id}`);
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text);
  assert.deepEqual(body.event, JSON.parse(JSON.stringify(e)));
  const seen = fx.seen.get(e.id).map((url, i) => ({ relay: url, seen_at: 2000 - i })).sort((a, b) => a.seen_at - b.seen_at);
  assert.deepEqual(body.seen_on, seen);
  assert.equal((await get(`/v1/events/${'0'.repeat(64)}`)).status, 404);
  const bad = await get('/v1/events/XYZ');
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.text).message, /^id: /);
});

test('NDJSON: one event per line, the same page; the relay parameter is normalized', async () => {
  const r = await get('/v1/events?kinds=1,7&limit=9', { Accept: 'application/x-ndjson' });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/x-ndjson/);
  const lines = r.text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(ids(lines), ids(expected(fx, { kinds: [1, 7] }).slice(0, 9)));
  assert.ok(r.headers.get('x-next-cursor'));
  const norm = await walk({ relay: 'wss://RELAY-A.example.com:443/', limit: MAX_LIMIT }, 'GET');
  assert.deepEqual(ids(norm), ids(expected(fx, { relay: RELAYS[0] })));
});

test('bad parameters and bodies are refused with 400, the message naming the field', async () => {
  const cases = [
    ['kinds=70000', 'bad_parameter', /^kinds: 70000 is not 0\.\.65535/],
    ['authors=abc', 'bad_parameter', /^authors: expected 64 lower-case hex/],
    ['foo=1', 'bad_parameter', /^foo: unknown parameter/],
    ['search=x', 'bad_parameter', /^search: NIP-50 search is not supported/],
    ['cursor=12', 'bad_parameter', /^cursor: /],
    ['relay=https%3A%2F%2Fx.example', 'bad_parameter', /^relay: /],
    ['limit=0', 'bad_parameter', /^limit: /],
    ['since=-1', 'bad_parameter', /^since: /],
    ['%23t=a&%23t=', 'bad_parameter', /^#t: /],
  ];
  for (const [q, code, message] of cases) {
    const r = await get(`/v1/events?${q}`);
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    const body = JSON.parse(r.text);
    assert.equal(body.error, code, q);
    assert.match(body.message, message, q);
  }
  for (const [body, code] of [['[1]', 'bad_body'], ['{"kinds":', 'bad_body'], ['{"kinds":[1],"foo":2}', 'bad_parameter']]) {
    const r = await post('/v1/req', body);
    assert.equal(r.status, 400, body);
    assert.equal(JSON.parse(r.text).error, code, body);
  }
  // above the max: clamped, never refused
  const clamped = await get('/v1/events?limit=100000');
  assert.equal(clamped.status, 200);
  assert.equal(JSON.parse(clamped.text).events.length, MAX_LIMIT);
});
