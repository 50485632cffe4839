// sync_etiquette.test.mjs: the synchronizer as a good citizen of real relays (issue 12 items 5-7), on
// fixture relays over loopback: NIP-42 AUTH on a refused REQ with bigbrotr.synchronizer_private_key
// (never eagerly on a mere challenge), a relay demanding AUTH without a key or refusing our key, a
// rate-limiting relay (backed off, no failed window), blocked / error refusals and a NOTICE sent
// instead of CLOSED (recorded in the relay's stats and state), a NIP-11 max_limit used as the REQ
// limit (a lying document ignored), and the key kept out of the log and of other roles' sight.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@noble/hashes/utils';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import pg from 'pg';
import { env, sql, setConfig, freshExtension, logMark, logSince, serverLog } from './lib/cluster.mjs';
import { cachedEvents } from './lib/sync_events.mjs';
import { startSyncRelay } from '../fixtures/sync_relays.mjs';
import { startMisbehavingRelays } from '../fixtures/misbehaving_relays.mjs';
import { scaledSeconds } from './lib/slowness.mjs';
import { stopAndWait, runOneCycle, archivedFrom, relayState, queueStats } from './lib/sync_cycle.mjs';

const DAY = 86400;
const END = Math.floor(Date.now() / 1000 / DAY) * DAY - 3600;
const LIMIT = 100;
const relays = [];
let bad;
const secret = bytesToHex(generateSecretKey());
const pubkey = getPublicKey(Buffer.from(secret, 'hex'));

async function relay(opts = {}) {
  const r = await startSyncRelay(opts);
  relays.push(r);
  return r;
}

// Only these relays are synced this cycle (per-relay overrides, NULL timeouts unless given).
async function only(list) {
  await sql('DELETE FROM bigbrotr.relay_metadata');
  await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
  for (const { url, requestTimeout = null } of list) {
    await sql(`INSERT INTO bigbrotr.synchronizer_relays (relay_url, request_timeout) VALUES ($1, $2)
               ON CONFLICT (relay_url) DO UPDATE SET enabled = true, request_timeout = $2`, [url, requestTimeout]);
  }
}

async function events(name, count, seed) {
  return cachedEvents(`etq-${name}-${END}`, { count, end: END, seed, keys: 4 });
}

async function cycle() {
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  return s;
}

async function exactlyOnce(url, evs) {
  const rows = await sql(`SELECT count(*)::int AS n, count(DISTINCT r.event_id)::int AS d
                            FROM bigbrotr.events_relays r WHERE r.relay_url = $1`, [url]);
  const held = (await sql('SELECT count(*)::int AS n FROM bigbrotr.events WHERE id = ANY($1::bytea[])',
    [evs.map((e) => '\\x' + e.id)]))[0].n;
  return { sightings: rows[0].n, distinct: rows[0].d, held };
}

before(async () => {
  await freshExtension();
  bad = await startMisbehavingRelays();
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': 0,
    'bigbrotr.synchronizer_max_processes': 2,
    'bigbrotr.synchronizer_max_parallel': 10,
    'bigbrotr.synchronizer_request_timeout': scaledSeconds(10),
    'bigbrotr.synchronizer_limit': LIMIT,
  });
});

after(async () => {
  await stopAndWait().catch(() => {});
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': null, 'bigbrotr.synchronizer_max_processes': null,
    'bigbrotr.synchronizer_max_parallel': null, 'bigbrotr.synchronizer_request_timeout': null,
    'bigbrotr.synchronizer_limit': null, 'bigbrotr.synchronizer_private_key': null,
  });
  for (const r of relays) await r.close().catch(() => {});
  await bad?.close();
});

test('the private key: refused when malformed, hidden from other roles, never in the server log', async () => {
  const mark = logMark();
  await setConfig({ 'bigbrotr.synchronizer_private_key': secret });
  const refused = /bigbrotr refuses this value of "bigbrotr\.synchronizer_private_key": private key: /;
  for (const v of [`zz${secret.slice(2)}`, secret.slice(0, 62), '0'.repeat(64), 'f'.repeat(64)]) {
    await assert.rejects(setConfig({ 'bigbrotr.synchronizer_private_key': v }), (e) => {
      assert.match(e.message, refused);
      assert.ok(![e.message, e.detail, e.hint].some((t) => t?.includes(v)), 'the error does not echo the value');
      return true;
    });
  }
  assert.equal((await sql("SELECT current_setting('bigbrotr.synchronizer_private_key') AS k"))[0].k, secret);
  const client = new pg.Client({ host: '127.0.0.1', port: env.port, user: 'postgres', database: env.db });
  await client.connect();
  try {
    await client.query('DROP ROLE IF EXISTS bigbrotr_sync_peeker');
    await client.query('CREATE ROLE bigbrotr_sync_peeker');
    await client.query('SET ROLE bigbrotr_sync_peeker');
    const rows = (await client.query("SELECT name, setting FROM pg_settings WHERE name LIKE 'bigbrotr.synchronizer%'")).rows;
    assert.ok(rows.length > 0, 'other synchronizer settings are visible');
    assert.ok(!rows.some((r) => r.name === 'bigbrotr.synchronizer_private_key'), 'the key is not in pg_settings');
    assert.ok(!rows.some((r) => r.setting === secret), 'nor its value');
    await assert.rejects(client.query("SELECT current_setting('bigbrotr.synchronizer_private_key')"), /permission|privileges|superuser/);
    await client.query('RESET ROLE');
    await client.query('DROP ROLE bigbrotr_sync_peeker');
  } finally {
    await client.end();
  }
  assert.ok(!(await sql('SELECT name FROM pg_settings')).some((r) => r.name === 'bigbrotr.synchronizer_private_key'),
    'not in SHOW ALL / pg_settings even for a superuser');
  assert.ok(logSince(mark).includes('bigbrotr.synchronizer_private_key'), 'the reload was logged, by name');
  assert.ok(!serverLog().includes(secret), 'the key never appears in the server log');
});

test('an AUTH relay with the key: NIP-42 after the refusal, the REQ re-sent, every event archived once', async () => {
  await setConfig({ 'bigbrotr.synchronizer_private_key': secret });
  const evs = await events('auth', 300, 71);
  const r = await relay({ auth: 'req' });
  r.load(evs);
  // a relay that sends a challenge but serves REQs without AUTH: our key is not revealed to it
  const lazy = bad.url('/challenge');
  await only([{ url: r.url }, { url: lazy }]);
  await cycle();
  const q = await queueStats(r.url);
  assert.equal(q.stats.end, 'complete', JSON.stringify(q.stats));
  const once = await exactlyOnce(r.url, evs);
  assert.deepEqual(once, { sightings: 300, distinct: 300, held: 300 }, 'every event archived exactly once');
  assert.ok(q.stats.auth_ok >= 1 && q.stats.auth_failed === 0, JSON.stringify(q.stats));
  assert.equal(q.stats.auth_ok, r.stats.authOk, 'the relay counted the same AUTHs');
  assert.deepEqual(r.stats.authPubkeys, [pubkey], 'signed with bigbrotr.synchronizer_private_key');
  assert.ok(q.stats.closed_reasons['auth-required'] >= 1);
  assert.equal(q.stats.failures, 0, 'a refusal answered with AUTH is no failed window');
  const st = await relayState(r.url);
  assert.ok(st.cursor >= Math.max(...evs.map((e) => e.created_at)), 'the cursor passed every event');

  const l = await queueStats(lazy);
  assert.equal(l.stats.end, 'complete');
  assert.ok(l.stats.auth_challenges >= 1, 'the challenge arrived');
  assert.equal(l.stats.auth_attempts, 0, 'never authenticated eagerly');
});

test('an AUTH relay without a key: not complete, auth-required recorded, cursor not moved', async () => {
  await setConfig({ 'bigbrotr.synchronizer_private_key': null });
  const evs = await events('auth', 300, 71);
  const r = await relay({ auth: 'req' });
  r.load(evs);
  await only([{ url: r.url }]);
  await cycle();
  const q = await queueStats(r.url);
  assert.equal(q.stats.end, 'auth_required', JSON.stringify(q.stats));
  assert.equal(q.stats.auth_attempts, 0);
  assert.equal(q.stats.closed_reasons['auth-required'], 1, 'asked once, not hammered');
  assert.equal(q.stats.last_refusal, 'auth-required');
  assert.equal(await archivedFrom(r.url), 0);
  const st = await relayState(r.url);
  assert.ok(!(st.cursor >= 0), `no cursor moved (${st.cursor})`);
  assert.equal(st.last_refusal.kind, 'CLOSED');
  assert.equal(st.last_refusal.prefix, 'auth-required');
  assert.match(st.last_refusal.message, /^auth-required: /);
  assert.ok(st.last_refusal.at > 0);
  assert.deepEqual(st.shortfalls.map((s) => s.reason), ['refused'], 'the range is a refused shortfall');
  assert.equal(r.stats.authOk, 0);
});

test('a key the relay does not allow: AUTH ok, then restricted: recorded and the relay ends', async () => {
  await setConfig({ 'bigbrotr.synchronizer_private_key': secret });
  const other = getPublicKey(generateSecretKey());
  const evs = await events('auth', 300, 71);
  const r = await relay({ auth: 'req', authAllow: [other] });
  r.load(evs);
  await only([{ url: r.url }]);
  await cycle();
  const q = await queueStats(r.url);
  assert.equal(q.stats.end, 'refused', JSON.stringify(q.stats));
  assert.equal(q.stats.auth_ok, 1);
  assert.equal(q.stats.closed_reasons.restricted, 1);
  assert.equal(await archivedFrom(r.url), 0);
  const st = await relayState(r.url);
  assert.equal(st.last_refusal.prefix, 'restricted');
  assert.ok(!(st.cursor >= 0));
});

test('a rate-limiting relay: backed off and re-sent, all events archived, no failed window', async () => {
  await setConfig({ 'bigbrotr.synchronizer_private_key': null });
  const evs = await events('rate', 600, 73);
  const r = await relay({ rateLimit: { reqs: 2, perMs: 1000 } });
  r.load(evs);
  await only([{ url: r.url }]);
  await cycle();
  const q = await queueStats(r.url);
  assert.equal(q.stats.end, 'complete', JSON.stringify(q.stats));
  assert.deepEqual(await exactlyOnce(r.url, evs), { sightings: 600, distinct: 600, held: 600 });
  assert.ok(r.stats.rateLimited >= 1, 'the relay did rate-limit');
  assert.equal(q.stats.rate_limited, r.stats.rateLimited, 'every rate-limited answer counted');
  assert.equal(q.stats.closed_reasons['rate-limited'], r.stats.rateLimited);
  assert.ok(q.stats.backoff_ms >= 1000 * q.stats.rate_limited, 'each backoff waited at least 1 s');
  assert.equal(q.stats.resends, q.stats.rate_limited, 'each re-sent once per refusal');
  assert.equal(q.stats.failures, 0, 'rate-limited is no failed window');
  console.log(`figures rate-limited: ${JSON.stringify({ archived: await archivedFrom(r.url), requests: q.stats.requests,
    failures: q.stats.failures, rate_limited: q.stats.rate_limited, backoff_ms: q.stats.backoff_ms })}`);
});

test('blocked and error refusals are recorded in the relay\'s stats and state; a NOTICE instead of CLOSED too', async () => {
  const evs = await events('refuse', 200, 79);
  const blocked = await relay({ closedFor: () => 'blocked: you are banned' });
  blocked.load(evs);
  let errors = 0;
  const flaky = await relay({ closedFor: () => (errors++ < 2 ? 'error: database busy' : null) });
  flaky.load(evs);
  let notices = 0;
  const noticer = await relay({ noticeInsteadOfClosed: true, closedFor: () => (notices++ < 1 ? 'error: try later' : null) });
  noticer.load(evs);
  await only([{ url: blocked.url }, { url: flaky.url }, { url: noticer.url, requestTimeout: scaledSeconds(2) }]);
  await cycle();

  const b = await queueStats(blocked.url);
  assert.equal(b.stats.end, 'refused', JSON.stringify(b.stats));
  assert.deepEqual(b.stats.closed_reasons, { blocked: 1 }, 'asked once: blocked is not retried');
  const bs = await relayState(blocked.url);
  assert.deepEqual([bs.last_refusal.kind, bs.last_refusal.prefix, bs.last_refusal.message],
    ['CLOSED', 'blocked', 'blocked: you are banned']);
  assert.equal(await archivedFrom(blocked.url), 0);
  console.log(`figures blocked: ${JSON.stringify({ requests: b.stats.requests, relay_reqs: blocked.stats.reqs, end: b.stats.end })}`);

  const f = await queueStats(flaky.url);
  assert.equal(f.stats.end, 'complete', JSON.stringify(f.stats));
  assert.deepEqual(f.stats.closed_reasons, { error: 2 });
  assert.equal(f.stats.failures, 2, 'error: is a failed request, retried as before');
  assert.equal(await archivedFrom(flaky.url), 200);
  assert.equal((await relayState(flaky.url)).last_refusal.prefix, 'error');

  const n = await queueStats(noticer.url);
  assert.equal(n.stats.end, 'complete', JSON.stringify(n.stats));
  assert.deepEqual(n.stats.notice_reasons, { error: 1 }, 'the NOTICE during the REQ counted by prefix');
  assert.equal(n.stats.notices_in_flight, 1);
  assert.equal(n.stats.failures, 1, 'the request then timed out as before, and was retried');
  assert.equal(await archivedFrom(noticer.url), 200);
  const ns = await relayState(noticer.url);
  assert.deepEqual([ns.last_refusal.kind, ns.last_refusal.prefix], ['NOTICE', 'error']);
});

test('NIP-11 max_limit below synchronizer_limit is the REQ limit; a lying document is ignored', async () => {
  const evs = await events('maxlimit', 300, 83);
  const capped = await relay({ maxLimit: 50, nip11: { limitation: { max_limit: 50 } } });
  capped.load(evs);
  const liars = {};
  for (const [name, v] of Object.entries({ zero: 0, negative: -5, string: '50', huge: 1e12, fraction: 50.5, above: 1000 })) {
    liars[name] = await relay({});
    liars[name].load(evs.slice(0, 20));
    liars[name].claimed = v;
  }
  const all = [capped, ...Object.values(liars)];
  await only(all.map((r) => ({ url: r.url })));
  const now = Math.floor(Date.now() / 1000);
  const snaps = all.map((r) => ({
    relay_url: r.url, network: 'clearnet', inserted_at: 1, generated_at: now,
    nip66: { openable: true, readable: true, writable: false, rtt_open: 1, rtt_read: 1, rtt_write: null },
    nip11: { name: 'fixture', limitation: { max_limit: r === capped ? 50 : r.claimed } },
  }));
  await sql('SELECT bigbrotr.insert_relay_metadata_batch($1::jsonb)', [JSON.stringify(snaps)]);
  await cycle();

  const q = await queueStats(capped.url);
  assert.equal(q.stats.end, 'complete', JSON.stringify(q.stats));
  assert.equal(q.stats.limit, 50);
  assert.deepEqual(Object.keys(capped.stats.reqLimits), ['50'], `every REQ asked limit 50: ${JSON.stringify(capped.stats.reqLimits)}`);
  assert.deepEqual(await exactlyOnce(capped.url, evs), { sightings: 300, distinct: 300, held: 300 });
  console.log(`figures max_limit: ${JSON.stringify({ requests: q.stats.requests, events_received: q.stats.events_received,
    reqLimits: capped.stats.reqLimits })}`);
  for (const [name, r] of Object.entries(liars)) {
    const s = (await queueStats(r.url)).stats;
    assert.equal(s.limit, LIMIT, `${name} (${JSON.stringify(r.claimed)}): the GUC's limit`);
    assert.equal(s.end, 'complete', name);
    assert.ok(!r.stats.reqLimits['50'], name);
  }
});
