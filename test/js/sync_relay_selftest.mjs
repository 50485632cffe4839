// sync_relay_selftest.mjs: checks the issue-12 behaviours of test/fixtures/sync_relays.mjs against
// nostr-tools as the client: NIP-77 reconciliation (NegentropySync, and Negentropy driven by hand with
// a 4096-byte frame limit on both sides), the NEG refusal modes, NIP-42 AUTH (makeAuthEvent +
// finalizeEvent), authAllow, rateLimit, closedFor / noticeInsteadOfClosed, maxLimit, NIP-11 and
// --serve --options. Real sockets on loopback, no mocks.
//   cd test && node --test js/sync_relay_selftest.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import { makeAuthEvent } from 'nostr-tools/nip42';
import { startSyncRelay } from '../fixtures/sync_relays.mjs';
import { Negentropy, NegentropyStorageVector, NegentropySync } from '../fixtures/lib/negentropy_responder.mjs';

useWebSocketImplementation(WebSocket);
const T = { timeout: 60_000 }; // a hang (a relay that never answers) fails the test

const sk = generateSecretKey();
function signed(n, t0 = 1_700_000_000, key = sk) {
  return Array.from({ length: n }, (_, i) => finalizeEvent({ kind: 1, created_at: t0 + Math.floor(i / 3), tags: [], content: `e${i}` }, key));
}
// unsigned but well-formed items (the relay does not verify): fast for large sets
function items(n, t0) {
  return Array.from({ length: n }, (_, i) => ({ id: crypto.randomBytes(32).toString('hex'), pubkey: '00'.repeat(32),
    created_at: t0 + (i % 50_000), kind: 1, tags: [], content: '', sig: '00'.repeat(64) }));
}

// a raw client: every message received is kept; next(pred) waits for the first unread one matching
async function raw(url) {
  const ws = new WebSocket(url);
  const got = [];
  let wake = null;
  ws.on('message', (d) => { got.push(JSON.parse(d.toString())); wake?.(); });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  return {
    got,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    async next(pred, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = got.findIndex(pred);
        if (i >= 0) return got.splice(i, 1)[0];
        if (Date.now() > deadline) return null;
        await new Promise((r) => { wake = r; setTimeout(r, 50); });
      }
    },
    close: () => ws.close(),
  };
}

test('negentropy on: NegentropySync finds exactly the differences, NEG bytes counted', T, async () => {
  const relay = await startSyncRelay({ negentropy: 'on' });
  const shared = signed(300);
  const relayOnly = signed(120, 1_700_001_000);
  const clientOnly = signed(7, 1_700_002_000);
  relay.load([...shared, ...relayOnly]);
  const storage = new NegentropyStorageVector();
  for (const e of [...shared, ...clientOnly]) storage.insert(e.created_at, e.id);
  storage.seal();
  const r = await Relay.connect(relay.url);
  const need = new Set(), have = new Set();
  await new Promise((resolve, reject) => {
    const sync = new NegentropySync(r, storage, { since: 1_600_000_000 }, {
      onneed: (id) => need.add(id), onhave: (id) => have.add(id),
      onclose: (err) => (err ? reject(new Error(err)) : resolve()),
    });
    sync.start();
  });
  r.close();
  assert.deepEqual([...need].sort(), relayOnly.map((e) => e.id).sort());
  assert.deepEqual([...have].sort(), clientOnly.map((e) => e.id).sort());
  const s = relay.stats;
  assert.equal(s.negOpens, 1);
  assert.ok(s.negMsgsIn >= 1 && s.negMsgsOut >= 1, JSON.stringify(s));
  assert.ok(s.negBytesIn > 0 && s.negBytesOut > 0);
  assert.equal(s.wireBytes, s.negBytesOut); // no EVENT was sent: every byte counted is NEG traffic
  assert.ok(s.wireBytesIn >= s.negBytesIn);
  await relay.close();
});

test('negentropy on, 20,000 vs 20,500 items, 4096-byte frames both ways, filter respected', T, async () => {
  const relay = await startSyncRelay({ negentropy: 'on', negentropyFrameSizeLimit: 4096 });
  const all = items(20_500, 1_700_000_000);
  const outside = items(300, 1_600_000_000); // before the filter's since: never part of the set
  relay.load([...all, ...outside]);
  const storage = new NegentropyStorageVector();
  for (const e of all.slice(0, 20_000)) storage.insert(e.created_at, e.id);
  storage.seal();
  const neg = new Negentropy(storage, 4096);
  const c = await raw(relay.url);
  c.send(['NEG-OPEN', 's1', { since: 1_700_000_000 }, neg.initiate()]);
  const need = new Set();
  let rounds = 0, maxReply = 0;
  for (;;) {
    const m = await c.next((x) => x[1] === 's1');
    assert.ok(m && m[0] === 'NEG-MSG', JSON.stringify(m));
    rounds++;
    maxReply = Math.max(maxReply, m[2].length / 2);
    const next = neg.reconcile(m[2], () => {}, (id) => need.add(id));
    if (!next) break;
    c.send(['NEG-MSG', 's1', next]);
  }
  c.send(['NEG-CLOSE', 's1']);
  assert.deepEqual([...need].sort(), all.slice(20_000).map((e) => e.id).sort());
  assert.ok(maxReply <= 4096, `reply of ${maxReply} bytes over the 4096-byte frame limit`);
  assert.ok(rounds > 1);
  c.close();
  await relay.close();
});

test('negentropy refusals: notice, silent, error, maxRecords, no session', T, async () => {
  const evs = signed(30);
  for (const [mode, expect] of [['notice', 'NOTICE'], ['silent', null], [false, null], ['error', 'NEG-ERR']]) {
    const relay = await startSyncRelay({ negentropy: mode });
    relay.load(evs);
    const c = await raw(relay.url);
    const storage = new NegentropyStorageVector(); storage.seal();
    c.send(['NEG-OPEN', 'x', {}, new Negentropy(storage).initiate()]);
    c.send(['REQ', 'after', { limit: 1 }]); // the relay still answers REQs
    await c.next((m) => m[0] === 'EOSE');
    const m = await c.next(() => true, 300);
    if (expect === null) assert.equal(m?.[0] === 'EVENT' ? null : m, null, `${mode}: ${JSON.stringify(m)}`);
    else {
      assert.equal(m?.[0], expect, `${mode}: ${JSON.stringify(m)}`);
      if (expect === 'NEG-ERR') assert.match(m[2], /^error: /);
    }
    assert.equal(relay.stats.negOpens, 1);
    c.close();
    await relay.close();
  }
  const relay = await startSyncRelay({ negentropy: 'on', negentropyMaxRecords: 10 });
  relay.load(evs);
  const c = await raw(relay.url);
  const storage = new NegentropyStorageVector(); storage.seal();
  c.send(['NEG-OPEN', 'big', {}, new Negentropy(storage).initiate()]);
  assert.deepEqual(await c.next((m) => m[1] === 'big'), ['NEG-ERR', 'big', 'blocked: too many records']);
  c.send(['NEG-OPEN', 'small', { until: evs[5].created_at }, new Negentropy(storage).initiate()]);
  assert.equal((await c.next((m) => m[1] === 'small'))?.[0], 'NEG-MSG');
  c.send(['NEG-MSG', 'nosuch', '61']);
  assert.equal((await c.next((m) => m[1] === 'nosuch'))?.[0], 'NEG-ERR');
  c.send(['NEG-OPEN', 'bad', {}, 'zz']);
  c.send(['NEG-OPEN', 'bad2', { until: 0 }, 'zz']);
  assert.match((await c.next((m) => m[1] === 'bad2'))?.[2] ?? '', /^error: /);
  c.close();
  await relay.close();
});

test('AUTH: challenge, CLOSED auth-required, makeAuthEvent + finalizeEvent, then served', T, async () => {
  const relay = await startSyncRelay({ auth: 'req', negentropy: 'on' });
  const evs = signed(10);
  relay.load(evs);
  const c = await raw(relay.url);
  const challenge = (await c.next((m) => m[0] === 'AUTH'))[1];
  assert.match(challenge, /^[0-9a-f]{32}$/);
  c.send(['REQ', 'a', {}]);
  const closed = await c.next((m) => m[1] === 'a');
  assert.equal(closed[0], 'CLOSED');
  assert.match(closed[2], /^auth-required: /);
  c.send(['COUNT', 'n', {}]);
  c.send(['NEG-OPEN', 'g', {}, '61']);
  assert.match((await c.next((m) => m[0] === 'NEG-ERR' && m[1] === 'g'))[2], /^auth-required: /);
  // refused AUTH events
  const bad = [
    [finalizeEvent(makeAuthEvent('ws://127.0.0.1:1', challenge), sk), /^invalid: relay/],
    [finalizeEvent({ ...makeAuthEvent(relay.url, challenge), created_at: Math.floor(Date.now() / 1000) - 700 }, sk), /^invalid: created_at/],
    [finalizeEvent(makeAuthEvent(relay.url, 'f'.repeat(32)), sk), /^auth-required: /],
    [finalizeEvent({ ...makeAuthEvent(relay.url, challenge), kind: 1 }, sk), /^invalid: /],
    [{ ...finalizeEvent(makeAuthEvent(relay.url, challenge), sk), content: 'tampered' }, /^invalid: bad id/],
  ];
  for (const [ev, re] of bad) {
    c.send(['AUTH', ev]);
    const ok = await c.next((m) => m[0] === 'OK' && m[1] === ev.id);
    assert.equal(ok[2], false);
    assert.match(ok[3], re);
  }
  const good = finalizeEvent(makeAuthEvent(`${relay.url}/`, challenge), sk);
  c.send(['AUTH', good]);
  assert.deepEqual(await c.next((m) => m[0] === 'OK' && m[1] === good.id), ['OK', good.id, true, '']);
  c.send(['REQ', 'b', {}]);
  await c.next((m) => m[0] === 'EOSE' && m[1] === 'b');
  assert.equal(c.got.filter((m) => m[0] === 'EVENT' && m[1] === 'b').length, 10);
  assert.equal(relay.stats.authOk, 1);
  assert.equal(relay.stats.authFailed, bad.length);
  assert.deepEqual(relay.stats.authPubkeys, [getPublicKey(sk)]);
  c.close();

  // nostr-tools' own client: onauth signs with finalizeEvent, the subscription then gets every event
  const r = await Relay.connect(relay.url);
  r.onauth = (t) => finalizeEvent(t, sk);
  await new Promise((res) => setTimeout(res, 100));
  await r.auth(r.onauth);
  const got = [];
  await new Promise((res) => r.subscribe([{}], { onevent: (e) => got.push(e), oneose: res }));
  assert.equal(got.length, 10);
  r.close();
  await relay.close();
});

test('authAllow: an authenticated key that is not allowed gets restricted', T, async () => {
  const other = generateSecretKey();
  const relay = await startSyncRelay({ auth: 'req', authAllow: [getPublicKey(other)] });
  relay.load(signed(3));
  const c = await raw(relay.url);
  const challenge = (await c.next((m) => m[0] === 'AUTH'))[1];
  const ev = finalizeEvent(makeAuthEvent(relay.url, challenge), sk);
  c.send(['AUTH', ev]);
  assert.equal((await c.next((m) => m[0] === 'OK'))[2], true);
  c.send(['REQ', 'r', {}]);
  const m = await c.next((x) => x[1] === 'r');
  assert.equal(m[0], 'CLOSED');
  assert.match(m[2], /^restricted: /);
  c.close();
  await relay.close();
});

test('rateLimit, closedFor, noticeInsteadOfClosed, maxLimit, nip11', T, async () => {
  let relay = await startSyncRelay({ rateLimit: { reqs: 3, perMs: 60_000 } });
  relay.load(signed(5));
  let c = await raw(relay.url);
  for (let i = 0; i < 5; i++) c.send(['REQ', `q${i}`, { limit: 1 }]);
  for (let i = 0; i < 3; i++) assert.ok(await c.next((m) => m[0] === 'EOSE' && m[1] === `q${i}`));
  for (let i = 3; i < 5; i++) assert.deepEqual(await c.next((m) => m[1] === `q${i}`), ['CLOSED', `q${i}`, 'rate-limited: slow down']);
  assert.equal(relay.stats.rateLimited, 2);
  c.close(); await relay.close();

  const closedFor = (f) => (f.kinds?.includes(4) ? 'restricted: no DMs' : f.until === 1 ? 'blocked: not that' : null);
  for (const notice of [false, true]) {
    relay = await startSyncRelay({ closedFor, noticeInsteadOfClosed: notice });
    c = await raw(relay.url);
    c.send(['REQ', 'dm', { kinds: [4] }]);
    c.send(['REQ', 'ok', { kinds: [1] }]);
    assert.ok(await c.next((m) => m[0] === 'EOSE' && m[1] === 'ok'));
    assert.deepEqual(c.got.splice(0), [notice ? ['NOTICE', 'restricted: no DMs'] : ['CLOSED', 'dm', 'restricted: no DMs']]);
    assert.deepEqual(relay.stats.closedReasons, { restricted: 1 });
    c.close(); await relay.close();
  }

  const nip11 = { name: 'neg relay', supported_nips: [1, 11, 42, 45, 77], limitation: { max_limit: 4 } };
  relay = await startSyncRelay({ maxLimit: 4, nip11 });
  relay.load(signed(30));
  c = await raw(relay.url);
  c.send(['REQ', 'l', { limit: 100 }]);
  c.send(['REQ', 'n', {}]);
  await c.next((m) => m[0] === 'EOSE' && m[1] === 'l');
  await c.next((m) => m[0] === 'EOSE' && m[1] === 'n');
  assert.equal(c.got.filter((m) => m[1] === 'l').length, 4); // limit 100 clamped to 4
  assert.equal(c.got.filter((m) => m[1] === 'n').length, 4); // no limit: 4
  c.close();
  const res = await fetch(relay.url.replace('ws:', 'http:'), { headers: { accept: 'application/nostr+json' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('content-type'), /application\/nostr\+json/);
  assert.deepEqual(await res.json(), nip11);
  assert.equal((await fetch(relay.url.replace('ws:', 'http:'))).status, 426);
  await relay.close();
});

test('--serve --options passes the options to every relay', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncrelay-'));
  const evs = signed(40);
  fs.writeFileSync(path.join(dir, 'a.jsonl'), evs.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const fixture = new URL('../fixtures/sync_relays.mjs', import.meta.url).pathname;
  const child = spawn(process.execPath, [fixture, '--serve', '--options', '{"negentropy":"on","maxLimit":5}', path.join(dir, 'a.jsonl')]);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  try {
    for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    const url = out.split('\n').find((l) => l.startsWith('ws://'));
    const storage = new NegentropyStorageVector();
    for (const e of evs.slice(0, 30)) storage.insert(e.created_at, e.id);
    storage.seal();
    const neg = new Negentropy(storage);
    const c = await raw(url);
    c.send(['NEG-OPEN', 's', {}, neg.initiate()]);
    const need = [];
    const m = await c.next((x) => x[1] === 's');
    assert.equal(neg.reconcile(m[2], () => {}, (id) => need.push(id)), null);
    assert.deepEqual(need.sort(), evs.slice(30).map((e) => e.id).sort());
    c.close();
    const stats = await (await fetch(`${url.replace('ws:', 'http:')}/stats`)).json();
    assert.equal(stats.negOpens, 1);
    assert.ok(stats.negBytesOut > 0 && stats.wireBytes === stats.negBytesOut);
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true });
  }
});
