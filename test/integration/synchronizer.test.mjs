// synchronizer.test.mjs: the synchronizer's coordinator and parallel workers against the real npm relay
// (20,000 signed events over a year) and against fixture relays that misbehave (silent cap, ignored
// since/until, unsorted, 2,000 events in one second, no EOSE, bad signatures, dropped connections,
// a crowded second served as arbitrary capped subsets, a flood far beyond the limit), and a row
// PostgreSQL refuses. Every valid event must end archived exactly once with its events_relays row (or
// lie in a recorded shortfall the cursor stays below), nothing invalid stored; a SIGKILLed worker
// loses nothing; bigbrotr_stop is prompt; a flood does not grow the worker's memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, sleep, status, waitFor, setConfig, freshExtension, logMark, logSince } from './lib/cluster.mjs';
import { cachedEvents, makeEventsParallel, badSignature } from './lib/sync_events.mjs';
import { startRealRelay } from '../fixtures/real_relay.mjs';
import { startSyncRelay } from '../fixtures/sync_relays.mjs';
import { scaled, scaledSeconds } from './lib/slowness.mjs';
import { stopAndWait, startFresh, runOneCycle, archivedFrom, relayState, queueStats } from './lib/sync_cycle.mjs';

const DAY = 86400;
const END = Math.floor(Date.now() / 1000 / DAY) * DAY - 3600; // fixed for the day: cached sets stay valid
const relays = [];
// One year of 20,000 events; the fixture relays serve slices of it (only what must differ is signed apart).
let year = null;
const yearSet = async () => (year ??= await cachedEvents(`year-20k-${END}`, { count: 20000, end: END, seed: 11, keys: 4 }));

async function storedAmong(ids) {
  return (await sql("SELECT count(*)::int AS n FROM bigbrotr.events WHERE id = ANY($1::bytea[])",
    [ids.map((id) => '\\x' + id)]))[0].n;
}

async function markReadable(url, generatedAt) {
  await sql(`SELECT bigbrotr.insert_relay_metadata($1, 'clearnet', $2, $2, true, true, true, false, 10, 10, NULL,
             false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, [url, generatedAt]);
}

before(async () => {
  await freshExtension();
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': 0,
    'bigbrotr.synchronizer_max_processes': 2,
    'bigbrotr.synchronizer_max_parallel': 4,
    'bigbrotr.synchronizer_request_timeout': scaledSeconds(10), // every fixture answers well within it
    'bigbrotr.synchronizer_negentropy': 'off', // these fixtures do not speak NIP-77: the window algorithm's tests
    'bigbrotr.synchronizer_limit': 500,
  });
});

after(async () => {
  await sql("SELECT bigbrotr.bigbrotr_stop('synchronizer')").catch(() => {});
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': null, 'bigbrotr.synchronizer_max_processes': null,
    'bigbrotr.synchronizer_max_parallel': null, 'bigbrotr.synchronizer_request_timeout': null, 'bigbrotr.synchronizer_negentropy': null,
    'bigbrotr.synchronizer_limit': null,
  });
  for (const r of relays) await r.close().catch(() => {});
});

test('the npm relay: 20,000 events over a year archived exactly once; a second cycle adds only new ones', async () => {
  const events = await yearSet();
  const relay = await startRealRelay();
  relays.push(relay);
  await relay.load(events);
  const now = Math.floor(Date.now() / 1000);
  await markReadable(relay.url, now - 60);
  // eligible in principle but excluded: a stale check, a relay checked unreadable, an override off
  await markReadable('ws://127.0.0.1:9/stale', now - 50000);
  await sql(`SELECT bigbrotr.insert_relay_metadata('ws://127.0.0.1:9/unreadable', 'clearnet', $1, $1, true, true, false,
             false, 10, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, [now]);
  await markReadable('ws://127.0.0.1:9/excluded', now);
  await sql("INSERT INTO bigbrotr.synchronizer_relays (relay_url, enabled) VALUES ('ws://127.0.0.1:9/excluded', false)");

  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(s.last_cycle_stats.relays_queued, 1, 'only the readable, recently checked, not excluded relay');
  assert.equal(await archivedFrom(relay.url), 20000, 'every event has its events_relays row');
  assert.equal((await sql('SELECT count(*)::int AS n FROM bigbrotr.events'))[0].n, 20000, 'each event stored once');
  assert.equal(s.last_cycle_stats.events_new, 20000);
  assert.equal(s.last_cycle_stats.shortfalls, 0);
  const state = await relayState(relay.url);
  assert.ok(Number(state.cursor) >= Math.max(...events.map((e) => e.created_at)), 'cursor past the newest event');

  // published since: created within the last minute (between rescans a cycle starts
  // synchronizer_overlap_seconds before where the last ended; older late events wait for the rescan)
  const fresh = await makeEventsParallel({ count: 30, end: Math.floor(Date.now() / 1000), span: 60, seed: 12, tag: 'new' });
  await relay.load(fresh);
  await markReadable(relay.url, Math.floor(Date.now() / 1000));
  const s2 = await runOneCycle();
  assert.equal(Number(s2.cycles_failed), 0, s2.last_error || '');
  assert.equal(s2.last_cycle_stats.events_new, 30, 'the second cycle adds only the new events');
  assert.equal(await archivedFrom(relay.url), 20030);
  await sql('DELETE FROM bigbrotr.relay_metadata');
});

async function onlyThese() {
  // each test syncs only its own relays, whatever an earlier failure left behind
  await sql('DELETE FROM bigbrotr.relay_metadata');
  await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
}

test('misbehaving relays: all valid events archived or the shortfall recorded, nothing invalid stored', async () => {
  await onlyThese();
  const all = await yearSet();
  const slice = (i, n) => all.slice(i * 1500, i * 1500 + n);
  const crowded = await cachedEvents(`onesecond-${END}`, { count: 2000, end: END, seed: 24, keys: 4, at: END - 100 * DAY });
  const forged = (await cachedEvents(`forged-${END}`, { count: 150, end: END, seed: 27, keys: 2 })).map(badSignature);
  const cases = {
    capped: { opts: { cap: 100 }, events: slice(0, 1500) },
    // a relay ignoring since/until is only proven complete by COUNT (without it: shortfall, see below)
    noWindow: { opts: { ignoreWindow: true, count: true }, events: slice(1, 400) },
    unsorted: { opts: { shuffle: true, cap: 300 }, events: slice(2, 1500) },
    oneSecond: { opts: { count: true }, events: [...crowded, ...slice(3, 500)] },
    noEose: { opts: { neverEose: true }, events: slice(4, 300), requestTimeout: 2 },
    badSigs: { opts: {}, events: [...slice(5, 1000), ...forged], valid: slice(5, 1000) },
    drops: { opts: { dropAfter: 300 }, events: slice(6, 1500) },
  };
  const invalid = forged;
  for (const c of Object.values(cases)) {
    c.relay = await startSyncRelay(c.opts);
    relays.push(c.relay);
    c.relay.load(c.events);
    c.valid ??= c.events;
    await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url, request_timeout) VALUES ($1, $2)',
      [c.relay.url, c.requestTimeout ?? null]);
  }
  // an .onion relay while Tor is off: skipped and counted, never queued
  await sql("INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion')");
  const mark = logMark();
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(s.last_cycle_stats.relays_queued, 7);
  assert.equal(s.last_cycle_stats.relays_skipped_tor, 1);
  assert.equal(s.last_cycle_stats.relays_done, 7);

  for (const [name, c] of Object.entries(cases)) {
    const archived = await archivedFrom(c.relay.url);
    const q = await queueStats(c.relay.url);
    const state = await relayState(c.relay.url);
    if (name === 'noEose') {
      // it sends its events but never ends an answer: they are data, the window is not proven
      assert.equal(archived, c.valid.length, `${name}: the events it sent are archived`);
      assert.equal(q.stats.end, 'given_up', `${name}: given up`);
      assert.ok(state.shortfalls.length >= 1 && state.shortfalls[0].reason === 'failed', `${name}: shortfall recorded`);
      assert.ok(Number(state.cursor ?? -1) < Math.min(...c.events.map((e) => e.created_at)), `${name}: cursor not advanced`);
      continue;
    }
    assert.equal(archived, c.valid.length, `${name}: every valid event archived (${JSON.stringify(q.stats)})`);
    assert.equal(q.stats.end, 'complete', `${name}: complete`);
    assert.deepEqual(state.shortfalls, [], `${name}: no shortfall`);
  }
  assert.equal(await storedAmong(invalid.map((e) => e.id)), 0, 'no event with a bad signature stored');
  const q = await queueStats(cases.badSigs.relay.url);
  // counted at each reception (windows are asked again when split): at least once each
  assert.ok(q.stats.events_invalid >= invalid.length, `bad signatures counted (${q.stats.events_invalid})`);
  assert.ok(cases.drops.relay.stats.drops > 0, 'the dropping relay did drop connections');
  assert.match(logSince(mark), new RegExp(`relay ${cases.badSigs.relay.url}: ${q.stats.events_invalid} invalid events dropped`));
  await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
});

// Whether a recorded shortfall names the event: in its seconds, of its kind and author when it has them.
function covered(shortfalls, e) {
  return (shortfalls ?? []).some((s) => e.created_at >= s.since && e.created_at <= s.until &&
    (s.kind === undefined || s.kind === e.kind) && (s.author === undefined || s.author === e.pubkey));
}

async function linkedIds(url) {
  return new Set((await sql("SELECT encode(event_id, 'hex') AS id FROM bigbrotr.events_relays WHERE relay_url = $1", [url]))
    .map((r) => r.id));
}

test('a crowded second served as arbitrary capped subsets: every event archived or in a recorded shortfall, cursor below it', async () => {
  await onlyThese();
  const T = END - 40 * DAY;
  // 50 events of kinds 1, 7, 4 from 12 authors, and 10 of kind 6 from other authors, all at second T
  const common = await cachedEvents(`crowd-common-${END}`, { count: 50, end: END, seed: 41, keys: 12, at: T, kinds: [1, 7, 4] });
  const rare = await cachedEvents(`crowd-rare-${END}`, { count: 10, end: END, seed: 42, keys: 40, at: T, kinds: [6] });
  const background = await cachedEvents(`crowd-bg-${END}`, { count: 200, end: END, seed: 43, keys: 3, kinds: [1, 7] });
  const all = [...common, ...rare, ...background];
  await setConfig({ 'bigbrotr.synchronizer_limit': 20 });
  try {
    // another, honest relay had the kind 6 events: the archive knows them at second T
    const other = await startSyncRelay({});
    relays.push(other);
    other.load(rare);
    await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [other.url]);
    await runOneCycle();
    assert.equal(await archivedFrom(other.url), rare.length, 'the other relay\'s events archived first');
    await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');

    // the crowded relays answer a capped second with an arbitrary subset that never shows kind 6
    const isRare = new Set(rare.map((e) => e.id));
    const withCount = await startSyncRelay({ tieRandom: true, tieLast: (e) => isRare.has(e.id), count: true });
    const blind = await startSyncRelay({ tieRandom: true, tieLast: (e) => isRare.has(e.id) });
    for (const r of [withCount, blind]) {
      relays.push(r);
      r.load(all);
      await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [r.url]);
    }
    const mark = logMark();
    const s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');

    for (const [name, r] of [['COUNT', withCount], ['no COUNT', blind]]) {
      const q = await queueStats(r.url);
      const state = await relayState(r.url);
      const linked = await linkedIds(r.url);
      const missing = all.filter((e) => !linked.has(e.id));
      const uncovered = missing.filter((e) => !covered(state.shortfalls, e));
      assert.equal(uncovered.length, 0, `${name}: every event archived from it or in a recorded shortfall ` +
        `(${missing.length} missing, ${JSON.stringify(q.stats)}, ${JSON.stringify(state.shortfalls)})`);
      if (missing.length > 0) assert.notEqual(q.stats.end, 'complete', `${name}: not complete while missing events`);
      for (const sf of state.shortfalls) assert.ok(Number(state.cursor ?? -1) < sf.since, `${name}: cursor below the shortfall`);
      assert.ok(q.stats.hint_queries >= 1, `${name}: the archive was asked for that second's kinds and authors`);
      assert.equal(missing.length, 0, `${name}: narrowing by the archive's kind 6 collected it too`);
    }
    // with COUNT the second is proven: complete, no shortfall, cursor past it
    const qc = await queueStats(withCount.url);
    assert.equal(qc.stats.end, 'complete', JSON.stringify(qc.stats));
    assert.ok(qc.stats.count_proofs >= 1, 'proven by COUNT');
    assert.deepEqual((await relayState(withCount.url)).shortfalls, []);
    // without COUNT nothing proves that no other kind exists at T: an unproven shortfall, logged with the URL
    const qb = await queueStats(blind.url);
    const sb = await relayState(blind.url);
    assert.equal(qb.stats.end, 'incomplete');
    assert.ok(sb.shortfalls.some((f) => f.reason === 'unproven' && f.since === T && f.until === T), JSON.stringify(sb.shortfalls));
    assert.ok(Number(sb.cursor) < T, 'the cursor stays below the unproven second');
    assert.equal(qb.stats.count_support, 0, 'COUNT probed once: NOTICE, unsupported');
    assert.ok(blind.stats.counts <= 1, `one COUNT probe only (${blind.stats.counts})`);
    assert.match(logSince(mark), new RegExp(`relay ${blind.url}: 1 window\\(s\\) could not be collected completely: .*"unproven"`));
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_limit': 500 });
    await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
  }
});

test('a row PostgreSQL refuses costs only itself: 50 stored, 1 unstorable shortfall, cursor below it, the next cycle goes on', async () => {
  await onlyThese();
  const honest = await cachedEvents(`poison-honest-${END}`, { count: 50, end: END, seed: 51, keys: 3, span: 30 * DAY });
  const [poison] = await cachedEvents(`poison-row-${END}`, { count: 1, end: END - 10 * DAY, seed: 52, keys: 1, span: 1, tag: 'POISON' });
  await sql(`CREATE OR REPLACE FUNCTION public.bb_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.content LIKE 'POISON%' THEN
               RAISE EXCEPTION 'poison row for the test' USING ERRCODE = 'check_violation'; END IF;
             RETURN NEW; END $$`);
  await sql('CREATE TRIGGER bb_test_poison BEFORE INSERT ON bigbrotr.events FOR EACH ROW EXECUTE FUNCTION public.bb_test_poison()');
  const relay = await startSyncRelay({});
  relays.push(relay);
  relay.load([...honest, poison]);
  try {
    await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [relay.url]);
    let mark = logMark();
    let s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    assert.equal(await archivedFrom(relay.url), 50, 'every honest neighbour stored');
    assert.equal(await storedAmong([poison.id]), 0);
    let q = await queueStats(relay.url);
    assert.equal(q.stats.events_unstorable, 1, JSON.stringify(q.stats));
    assert.equal(s.last_cycle_stats.events_unstorable, 1, 'counted in the cycle');
    assert.equal(q.stats.end, 'incomplete');
    assert.match(logSince(mark), new RegExp(`relay ${relay.url}: event ${poison.id} .*SQLSTATE 23514: poison row for the test`));
    let state = await relayState(relay.url);
    assert.ok(state.shortfalls.some((f) => f.reason === 'unstorable' && f.id === poison.id && f.since === poison.created_at),
      JSON.stringify(state.shortfalls));
    assert.ok(Number(state.cursor) < poison.created_at, `cursor ${state.cursor} below the refused row ${poison.created_at}`);

    // the next cycle goes on: new events are stored, the refused row is asked again and still held
    const fresh = await makeEventsParallel({ count: 5, end: Math.floor(Date.now() / 1000), span: 600, seed: 53, tag: 'after' });
    relay.load(fresh);
    s = await runOneCycle();
    assert.equal(await archivedFrom(relay.url), 55);
    q = await queueStats(relay.url);
    assert.equal(q.stats.events_unstorable, 1, 'retried, refused again, counted again');
    state = await relayState(relay.url);
    assert.ok(Number(state.cursor) < poison.created_at, 'still below it');

    // once the archive takes it, it is stored and the relay completes
    await sql('DROP TRIGGER bb_test_poison ON bigbrotr.events');
    mark = logMark();
    s = await runOneCycle();
    assert.equal(await archivedFrom(relay.url), 56);
    q = await queueStats(relay.url);
    assert.equal(q.stats.end, 'complete', JSON.stringify(q.stats));
    assert.ok(Number((await relayState(relay.url)).cursor) >= Math.max(...fresh.map((e) => e.created_at)));
  } finally {
    await sql('DROP TRIGGER IF EXISTS bb_test_poison ON bigbrotr.events');
    await sql('DROP FUNCTION IF EXISTS public.bb_test_poison()');
    await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
  }
});

// The worker's peak private memory (RssAnon, sampled after every batch), from its closing log line.
function peakPrivateKb(log) {
  const all = [...log.matchAll(/worker done: .*peak private \(RssAnon\) (\d+) kB/g)].map((m) => Number(m[1]));
  assert.ok(all.length >= 1, 'a worker logged its peak memory');
  return Math.max(...all);
}

test('a relay flooding far beyond the limit: the worker memory stays flat against what was sent, all archived', async () => {
  await onlyThese();
  const events = (await yearSet()).slice(16000, 19000);
  await setConfig({ 'bigbrotr.synchronizer_max_answer_events': 1000, 'bigbrotr.synchronizer_max_buffered_events': 1000,
    'bigbrotr.synchronizer_max_processes': 1 });
  try {
    const honest = await startSyncRelay({});
    const flood = await startSyncRelay({ floodFirst: 60 }); // its first answer: all 3,000 events, 60 times over
    for (const r of [honest, flood]) { relays.push(r); r.load(events); }
    await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [honest.url]);
    let mark = logMark();
    await runOneCycle();
    const base = peakPrivateKb(logSince(mark));
    assert.equal(await archivedFrom(honest.url), events.length);
    const honestSent = honest.stats.bytesSent;

    await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
    await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [flood.url]);
    mark = logMark();
    const s = await runOneCycle({ timeoutMs: scaled(240000) });
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    const peak = peakPrivateKb(logSince(mark));
    assert.ok(flood.stats.eventsSent >= 60 * events.length, `the relay flooded (${flood.stats.eventsSent} events sent)`);
    assert.equal(await archivedFrom(flood.url), events.length, 'what was sent is archived');
    const q = await queueStats(flood.url);
    assert.ok(q.stats.answers_cut >= 1, `the flooded request was cut (${JSON.stringify(q.stats)})`);
    assert.equal(q.stats.end, 'complete');
    // a ratio, not a time: ~60 times more bytes received must not cost more than a quarter more memory
    const sentRatio = flood.stats.bytesSent / honestSent;
    assert.ok(sentRatio > 20, `flood sent ${sentRatio.toFixed(1)}x the honest relay's bytes`);
    assert.ok(peak < base * 1.25 + 2048,
      `peak private memory ${peak} kB with the flood vs ${base} kB without (sent ${sentRatio.toFixed(1)}x as much)`);
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_max_answer_events': null, 'bigbrotr.synchronizer_max_buffered_events': null,
      'bigbrotr.synchronizer_max_processes': 2 });
    await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
  }
});

async function syncWorkerPids() {
  return (await sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'bigbrotr synchronizer worker'"))
    .map((r) => r.pid);
}

test('bigbrotr_stop stops the workers within 5 s; the cursor never passes an unstored event', async () => {
  await onlyThese();
  const events = (await yearSet()).slice(12000, 15000);
  const relay = await startSyncRelay({ answerDelayMs: 1500 });
  relays.push(relay);
  relay.load(events);
  await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [relay.url]);
  await startFresh();
  await waitFor('some events stored', async () => (await archivedFrom(relay.url)) > 0, { timeoutMs: 30000 });
  const pids = await syncWorkerPids();
  assert.ok(pids.length >= 1, 'a worker process runs');
  const t0 = Date.now();
  await sql("SELECT bigbrotr.bigbrotr_stop('synchronizer')");
  await waitFor('every synchronizer process gone', async () => (await sql(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr synchronizer%'"))[0].n === 0,
  { timeoutMs: 10000, intervalMs: 100 });
  const took = Date.now() - t0;
  assert.ok(took < scaled(5000), `stopped in ${took} ms (bound ${scaled(5000)} ms)`);
  const cursor = Number((await relayState(relay.url))?.cursor ?? -1);
  const below = events.filter((e) => e.created_at <= cursor);
  const linked = (await sql(`SELECT count(*)::int AS n FROM bigbrotr.events_relays
                              WHERE relay_url = $1 AND event_id = ANY($2::bytea[])`,
  [relay.url, below.map((e) => '\\x' + e.id)]))[0].n;
  assert.equal(linked, below.length, `everything at or below the cursor (${cursor}) is stored for this relay`);
});

test('a worker killed with SIGKILL mid-sync: the next cycle completes the archive', async () => {
  const url = (await sql('SELECT relay_url FROM bigbrotr.synchronizer_relays WHERE enabled'))[0].relay_url;
  const total = 3000;
  await sql("SELECT bigbrotr.bigbrotr_start('synchronizer')");
  const pid = await waitFor('a worker syncing', async () => (await syncWorkerPids())[0], { timeoutMs: 30000 });
  await sleep(1500);
  const before = await archivedFrom(url);
  process.kill(pid, 'SIGKILL');
  // the postmaster restarts every backend; the launcher brings the synchronizer back, which resumes
  await waitFor('the archive completed after the kill', async () => (await archivedFrom(url)) === total,
    { timeoutMs: 120000, intervalMs: 1000 });
  assert.ok(before < total, `the kill happened mid-sync (${before} of ${total} stored)`);
  assert.equal((await sql('SELECT count(*)::int AS n FROM bigbrotr.events_relays WHERE relay_url = $1', [url]))[0].n, total);
});

test('with Tor on, an .onion relay is synced through the HTTP CONNECT proxy', async () => {
  const { startConnectProxy } = await import('../fixtures/connect_proxy.mjs');
  await sql("SELECT bigbrotr.bigbrotr_stop('synchronizer')");
  await onlyThese();
  const onion = 'duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion';
  const url = `ws://${onion}`;
  const events = (await yearSet()).slice(15000, 16000);
  const relay = await startSyncRelay({});
  relays.push(relay);
  relay.load(events);
  const proxy = await startConnectProxy({ map: { [`${onion}:80`]: relay.port } });
  try {
    await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [url]);
    await setConfig({ 'bigbrotr.tor_enabled': 'on', 'bigbrotr.tor_http_tunnel_port': proxy.port });
    await runOneCycle();
    assert.equal(await archivedFrom(url), events.length, 'every event of the .onion relay archived');
    assert.ok(proxy.tunnels() >= 1, 'the connection went through the proxy');
    assert.equal((await sql('SELECT network FROM bigbrotr.relays WHERE url = $1', [url]))[0]?.network, 'tor');
  } finally {
    await sql("SELECT bigbrotr.bigbrotr_stop('synchronizer')");
    await setConfig({ 'bigbrotr.tor_enabled': null, 'bigbrotr.tor_http_tunnel_port': null });
    await proxy.close();
  }
});
