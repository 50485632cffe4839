// api_relay.test.mjs: the api's read-only Nostr relay endpoint, read by nostr-tools (Relay and
// SimplePool, the clients real apps use) and by a raw WebSocket where the exact messages matter. REQ
// results must equal the archive's rows for the same filter (this file's own SQL, not the api's query
// code), every event must pass verifyEvent, COUNT must equal the SQL count, EVENT is refused, limits
// are clamped to api_max_limit, the subscription cap answers CLOSED, and the NIP-11 document over HTTP
// carries the limitation the GUCs say.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import { SimplePool, useWebSocketImplementation as usePoolWebSocket } from 'nostr-tools/pool';
import { verifyEvent, finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { freshExtension, sql, setConfig, waitFor } from './lib/cluster.mjs';
import { scaled } from './lib/slowness.mjs';
import { startApi, stopApi, resetApiConfig, api, both, loadFixture, sqlEvents, WS_URL } from './lib/api.mjs';

useWebSocketImplementation(WebSocket);
usePoolWebSocket(WebSocket);

const GUCS = ['bigbrotr.api_listen_address', 'bigbrotr.api_port', 'bigbrotr.api_workers', 'bigbrotr.api_interval',
  'bigbrotr.api_max_limit', 'bigbrotr.api_max_subscriptions'];
let fx;

before(async () => {
  await freshExtension();
  fx = await loadFixture({ nEvents: 300 });
  await startApi();
});

after(async () => {
  await stopApi();
  await resetApiConfig(GUCS);
});

// SQL of this file's own for a NIP-01 filter: a WHERE clause with its parameters.
function whereOf(filter) {
  const conds = [];
  const params = [];
  const p = (v) => { params.push(v); return `$${params.length}`; };
  if (filter.ids) conds.push(`encode(id, 'hex') = ANY(${p(filter.ids)}::text[])`);
  if (filter.authors) conds.push(`encode(pubkey, 'hex') = ANY(${p(filter.authors)}::text[])`);
  if (filter.kinds) conds.push(`kind = ANY(${p(filter.kinds)}::int[])`);
  if (filter.since !== undefined) conds.push(`created_at >= ${p(filter.since)}`);
  if (filter.until !== undefined) conds.push(`created_at <= ${p(filter.until)}`);
  for (const [k, v] of Object.entries(filter)) {
    if (!/^#[a-zA-Z]$/.test(k)) continue;
    conds.push(`EXISTS (SELECT 1 FROM jsonb_array_elements(e.tags) t WHERE t->>0 = ${p(k.slice(1))} AND t->>1 = ANY(${p(v)}::text[]))`);
  }
  return { where: conds.length ? conds.join(' AND ') : 'true', params };
}
async function sqlFor(filter, limit) {
  const { where, params } = whereOf(filter);
  return sqlEvents(where, params, limit);
}

// A raw NIP-01 client: sends messages, collects every message received.
async function rawClient() {
  const ws = new WebSocket(WS_URL);
  const msgs = [];
  const waiters = [];
  let closed = false;
  ws.on('message', (d) => {
    msgs.push(JSON.parse(d.toString()));
    for (const w of waiters.splice(0)) w();
  });
  ws.on('close', () => { closed = true; for (const w of waiters.splice(0)) w(); });
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  const c = {
    ws, msgs,
    get closed() { return closed; },
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    // Waits until pred matches a received message (returns it).
    async until(pred, what, ms = 20000) {
      const deadline = Date.now() + scaled(ms);
      for (;;) {
        const m = msgs.find(pred);
        if (m) return m;
        if (closed) throw new Error(`socket closed waiting for ${what} (got ${JSON.stringify(msgs).slice(0, 400)})`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (got ${JSON.stringify(msgs).slice(0, 400)})`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    },
    close: () => ws.close(),
  };
  return c;
}

// Events of subscription sub received up to its EOSE (raw client).
async function reqRaw(c, sub, ...filters) {
  c.send(['REQ', sub, ...filters]);
  await c.until((m) => (m[0] === 'EOSE' || m[0] === 'CLOSED') && m[1] === sub, `EOSE of ${sub}`);
  const end = c.msgs.find((m) => (m[0] === 'EOSE' || m[0] === 'CLOSED') && m[1] === sub);
  return { events: c.msgs.filter((m) => m[0] === 'EVENT' && m[1] === sub).map((m) => m[2]), end };
}

// nostr-tools Relay: every event of a subscription until EOSE, and the close reason if any.
function reqNostrTools(relay, filters) {
  return new Promise((resolve, reject) => {
    const events = [];
    let eosed = false;
    const timer = setTimeout(() => reject(new Error(`no EOSE for ${JSON.stringify(filters)}`)), scaled(30000));
    const sub = relay.subscribe(filters, {
      onevent: (e) => events.push(e),
      oneose: () => { eosed = true; clearTimeout(timer); resolve({ events }); sub.close(); },
      onclose: (reason) => { if (!eosed) { clearTimeout(timer); resolve({ events, closed: reason }); } },
      eoseTimeout: scaled(30000),
    });
  });
}

test('nostr-tools Relay: REQ answers the archive rows for each filter, newest first, all verified', async () => {
  const relay = await Relay.connect(WS_URL);
  try {
    const [a0, a1] = fx.authors;
    const mid = fx.events[150].created_at;
    const filters = [
      { authors: [a0], limit: 500 },
      { authors: [a0, a1], kinds: [1], limit: 500 },
      { kinds: [7], limit: 20 },
      { '#t': ['nostr'], limit: 500 },
      { '#t': ["o'reilly"], kinds: [1, 7], since: mid, limit: 500 },
      { '#p': [a1], limit: 500 },
      { ids: [fx.events[1].id, fx.events[2].id, fx.events[299].id] },
      { since: mid, until: mid },
      { '#t': ['no-such-tag'] },
    ];
    for (const f of filters) {
      const { events, closed } = await reqNostrTools(relay, [f]);
      assert.equal(closed, undefined, `${JSON.stringify(f)} was closed: ${closed}`);
      const want = await sqlFor(f, f.limit ?? 500);
      assert.deepEqual(events.map((e) => e.id), want.map((e) => e.id), JSON.stringify(f));
      for (const e of events) {
        assert.ok(verifyEvent({ ...e }), `event ${e.id} verifies`);
        const w = want.find((x) => x.id === e.id);
        assert.deepEqual({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig }, w);
      }
    }
  } finally {
    relay.close();
  }
});

test('REQ with several filters answers their union, each event once', async () => {
  const c = await rawClient();
  try {
    const fa = { authors: [fx.authors[0]], limit: 500 };
    const fb = { kinds: [1], limit: 30 };
    const { events, end } = await reqRaw(c, 'u1', fa, fb);
    assert.equal(end[0], 'EOSE');
    const want = new Set([...(await sqlFor(fa, 500)), ...(await sqlFor(fb, 30))].map((e) => e.id));
    assert.equal(events.length, new Set(events.map((e) => e.id)).size, 'no event sent twice');
    assert.deepEqual(new Set(events.map((e) => e.id)), want);
    for (const e of events) assert.ok(verifyEvent(e));
  } finally {
    c.close();
  }
});

test('SimplePool.querySync equals the SQL rows', async () => {
  const pool = new SimplePool();
  try {
    const f = { authors: [fx.authors[3]], kinds: [1, 7, 30023], limit: 500 };
    const got = await pool.querySync([WS_URL], f, { maxWait: scaled(20000) });
    const want = await sqlFor(f, 500);
    assert.ok(want.length > 0);
    assert.deepEqual(new Set(got.map((e) => e.id)), new Set(want.map((e) => e.id)));
    for (const e of got) assert.ok(verifyEvent({ ...e }));
  } finally {
    pool.close([WS_URL]);
  }
});

test('COUNT equals the SQL count (nostr-tools and raw, one filter and a union)', async () => {
  const relay = await Relay.connect(WS_URL);
  try {
    for (const f of [{ kinds: [1] }, { '#t': ['bitcoin'] }, { authors: [fx.authors[1]], since: fx.events[100].created_at }, {}]) {
      const n = await relay.count([f], {});
      const { where, params } = whereOf(f);
      const [{ c }] = await sql(`SELECT count(*)::int AS c FROM bigbrotr.events e WHERE ${where}`, params);
      assert.equal(n, c, JSON.stringify(f));
    }
  } finally {
    relay.close();
  }
  const c = await rawClient();
  try {
    c.send(['COUNT', 'c1', { kinds: [1] }, { authors: [fx.authors[0]] }]);
    const m = await c.until((x) => x[0] === 'COUNT' && x[1] === 'c1', 'COUNT answer');
    const [{ n }] = await sql("SELECT count(*)::int AS n FROM bigbrotr.events WHERE kind = 1 OR encode(pubkey, 'hex') = $1", [fx.authors[0]]);
    assert.deepEqual(m[2], { count: n });
  } finally {
    c.close();
  }
});

test('EVENT is refused "blocked: read-only archive" and nothing is stored; AUTH refused', async () => {
  const e = finalizeEvent({ kind: 1, tags: [], content: 'write me', created_at: Math.floor(Date.now() / 1000) }, generateSecretKey());
  const relay = await Relay.connect(WS_URL);
  try {
    await assert.rejects(relay.publish(e), /blocked: read-only archive/);
  } finally {
    relay.close();
  }
  const c = await rawClient();
  try {
    c.send(['EVENT', e]);
    const ok = await c.until((m) => m[0] === 'OK', 'OK');
    assert.deepEqual(ok, ['OK', e.id, false, 'blocked: read-only archive']);
    const auth = finalizeEvent({ kind: 22242, tags: [['relay', WS_URL], ['challenge', 'x']], content: '', created_at: Math.floor(Date.now() / 1000) }, generateSecretKey());
    c.send(['AUTH', auth]);
    const ok2 = await c.until((m) => m[0] === 'OK' && m[1] === auth.id, 'OK for AUTH');
    assert.equal(ok2[2], false);
    assert.match(ok2[3], /^blocked: no auth here/);
  } finally {
    c.close();
  }
  assert.equal((await sql("SELECT count(*)::int AS n FROM bigbrotr.events WHERE id = decode($1, 'hex')", [e.id]))[0].n, 0);
});

test('limits: a filter without limit gets api_max_limit, a larger one is clamped (reload)', async () => {
  const c = await rawClient();
  try {
    let r = await reqRaw(c, 'l1', { limit: 100000 });
    assert.equal(r.events.length, fx.events.length, 'all 300 under the default max of 500');
  } finally {
    c.close();
  }
  await setConfig({ 'bigbrotr.api_max_limit': 40 });
  try {
    await waitFor('api_max_limit 40 on every worker', async () => {
      const counts = await Promise.all([1, 2, 3, 4].map(async () => {
        const x = await rawClient();
        try { return (await reqRaw(x, 'w', { limit: 1000 })).events.length; } finally { x.close(); }
      }));
      return counts.every((n) => n === 40);
    });
    const x = await rawClient();
    try {
      const a = await reqRaw(x, 'a', { limit: 1000 });
      assert.deepEqual(a.events.map((e) => e.id), (await sqlFor({}, 40)).map((e) => e.id));
      const b = await reqRaw(x, 'b', { kinds: [1] });
      assert.equal(b.events.length, 40, 'no limit: api_max_limit');
      const small = await reqRaw(x, 'c', { limit: 5 });
      assert.equal(small.events.length, 5);
    } finally {
      x.close();
    }
    const info = await api('/', { headers: { Accept: 'application/nostr+json' } });
    assert.equal(info.json.limitation.max_limit, 40, 'NIP-11 follows the reload');
  } finally {
    await setConfig({ 'bigbrotr.api_max_limit': null });
  }
});

test('too many subscriptions: CLOSED "error: too many subscriptions"; CLOSE frees a slot; same id replaces', async () => {
  await setConfig({ 'bigbrotr.api_max_subscriptions': 3 });
  try {
    await waitFor('api_max_subscriptions 3 on every worker', async () => {
      const r = await Promise.all([1, 2, 3, 4].map(() => api('/', { headers: { Accept: 'application/nostr+json' } })));
      return r.every((x) => x.json?.limitation?.max_subscriptions === 3);
    });
    const c = await rawClient();
    try {
      for (const s of ['s1', 's2', 's3']) assert.equal((await reqRaw(c, s, { limit: 1 })).end[0], 'EOSE');
      const over = await reqRaw(c, 's4', { limit: 1 });
      assert.deepEqual(over.end, ['CLOSED', 's4', 'error: too many subscriptions']);
      assert.equal(over.events.length, 0);
      // A REQ with a known id replaces that subscription (no new slot).
      assert.equal((await reqRaw(c, 's2', { limit: 2 })).end[0], 'EOSE');
      c.send(['CLOSE', 's1']);
      const freed = await reqRaw(c, 's5', { limit: 1 });
      assert.equal(freed.end[0], 'EOSE', 'CLOSE freed a slot');
    } finally {
      c.close();
    }
  } finally {
    await setConfig({ 'bigbrotr.api_max_subscriptions': null });
  }
});

test('refused filters and malformed messages: CLOSED with a NIP-01 prefix, NOTICE; the socket goes on', async () => {
  const c = await rawClient();
  try {
    const s = await reqRaw(c, 'srch', { search: 'nostr' });
    assert.equal(s.end[0], 'CLOSED');
    assert.match(s.end[2], /^unsupported: search/);
    const bad = await reqRaw(c, 'bad', { authors: ['zz'] });
    assert.equal(bad.end[0], 'CLOSED');
    assert.match(bad.end[2], /^error: /);
    for (const m of ['not json', '{"a":1}', '["NOPE"]', '["REQ"]', '[]']) {
      const n = c.msgs.length;
      c.send(m);
      await c.until((x, i) => c.msgs.indexOf(x) >= n && x[0] === 'NOTICE', `NOTICE for ${m}`);
      const notice = c.msgs.slice(n).find((x) => x[0] === 'NOTICE');
      assert.match(notice[1], /^error: /, m);
    }
    const after = await reqRaw(c, 'ok', { limit: 2 });
    assert.equal(after.events.length, 2, 'the connection still serves');
  } finally {
    c.close();
  }
});

test('a message over api_max_body_bytes closes the socket', async () => {
  const c = await rawClient();
  c.send(['REQ', 'huge', { authors: Array.from({ length: 1200 }, () => fx.authors[0]) }]);
  await waitFor('the socket closed', async () => c.closed);
  assert.equal((await api('/health')).status, 200);
});

test('NIP-11 over HTTP: Accept application/nostr+json, limitation equal to the GUCs, CORS *', async () => {
  const r = await both('/', { headers: { Accept: 'application/nostr+json' } });
  assert.equal(r.fetch.status, 200);
  assert.match(r.fetch.headers.get('content-type'), /^application\/nostr\+json/);
  assert.equal(r.fetch.headers.get('access-control-allow-origin'), '*');
  assert.equal(r.curl.headers.get('access-control-allow-origin'), '*');
  const doc = r.fetch.json;
  assert.equal(doc.software, 'bigbrotr');
  assert.deepEqual(doc.supported_nips, [1, 11, 45]);
  const g = async (name) => {
    const [{ setting, unit }] = await sql('SELECT setting, unit FROM pg_settings WHERE name = $1', [name]);
    return Number(setting) * ({ B: 1, kB: 1024, MB: 1024 * 1024 }[unit] ?? 1);
  };
  assert.deepEqual(doc.limitation, {
    max_limit: await g('bigbrotr.api_max_limit'),
    max_subscriptions: await g('bigbrotr.api_max_subscriptions'),
    max_message_length: await g('bigbrotr.api_max_body_bytes'),
    restricted_writes: true,
    auth_required: false,
    payment_required: false,
  });
  const [{ extversion }] = await sql("SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'");
  assert.equal(doc.version, extversion);
});
