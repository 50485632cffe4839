// sync_incremental.test.mjs: issue 11's promises about the work a cycle does, on real fixture relays:
// P processes share R >= P relays (none idles while relays wait); an event already archived with the
// same (id, sig) is neither verified nor inserted again, yet its sighting is recorded, while a
// re-signed copy is verified and a forged or tampered one never recorded; an unchanged relay's next
// cycle downloads almost nothing (bytes counted by the relay itself), an event published late below
// the frontier waits for the rescan and is caught by it; a crowded second that cannot be proven keeps
// the cursor below it and its record, without the cycles after re-downloading the history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { sql, setConfig, freshExtension } from './lib/cluster.mjs';
import { cachedEvents, makeEventsParallel, badSignature } from './lib/sync_events.mjs';
import { startSyncRelay } from '../fixtures/sync_relays.mjs';
import { scaledSeconds } from './lib/slowness.mjs';
import { stopAndWait, runOneCycle, archivedFrom, relayState, queueStats } from './lib/sync_cycle.mjs';

const DAY = 86400;
const END = Math.floor(Date.now() / 1000 / DAY) * DAY - 3600;
const relays = [];

async function relay(opts = {}) {
  const r = await startSyncRelay(opts);
  relays.push(r);
  return r;
}

async function only(...urls) {
  await sql('DELETE FROM bigbrotr.relay_metadata');
  await sql('UPDATE bigbrotr.synchronizer_relays SET enabled = false');
  for (const url of urls) {
    await sql(`INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)
               ON CONFLICT (relay_url) DO UPDATE SET enabled = true`, [url]);
  }
}

async function sightings(url, ids) {
  return (await sql('SELECT count(*)::int AS n FROM bigbrotr.events_relays WHERE relay_url = $1 AND event_id = ANY($2::bytea[])',
    [url, ids.map((id) => '\\x' + id)]))[0].n;
}

before(async () => {
  await freshExtension();
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': 0,
    'bigbrotr.synchronizer_max_processes': 2,
    'bigbrotr.synchronizer_max_parallel': 10,
    'bigbrotr.synchronizer_request_timeout': scaledSeconds(10),
    'bigbrotr.synchronizer_negentropy': 'off', // these fixtures do not speak NIP-77: the window algorithm's tests
    'bigbrotr.synchronizer_limit': 500,
  });
});

after(async () => {
  await stopAndWait().catch(() => {});
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': null, 'bigbrotr.synchronizer_max_processes': null,
    'bigbrotr.synchronizer_max_parallel': null, 'bigbrotr.synchronizer_request_timeout': null, 'bigbrotr.synchronizer_negentropy': null,
    'bigbrotr.synchronizer_limit': null, 'bigbrotr.synchronizer_rescan_interval': null,
  });
  for (const r of relays) await r.close().catch(() => {});
});

test('two processes, two relays, max_parallel 10: each process syncs one (none claims both)', async () => {
  const events = await cachedEvents(`inc-spread-${END}`, { count: 400, end: END, seed: 61, keys: 4 });
  // every answer takes a while, so that a process holding both relays would show
  const a = await relay({ answerDelayMs: 400 });
  const b = await relay({ answerDelayMs: 400 });
  a.load(events.slice(0, 200));
  b.load(events.slice(200));
  await only(a.url, b.url);
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(s.last_cycle_stats.workers, 2);
  const qa = await queueStats(a.url);
  const qb = await queueStats(b.url);
  assert.ok(qa.done && qb.done, 'both relays done');
  assert.notEqual(qa.claimed_by, qb.claimed_by, `each relay claimed by another process (${qa.claimed_by}, ${qb.claimed_by})`);
  assert.equal(await archivedFrom(a.url) + await archivedFrom(b.url), 400);
});

test('two processes storing the same new events at once: no relay fails, every sighting recorded', async () => {
  // four relays with the same 6,000 events, two per process: both insert the same new events
  // concurrently (one batch per transaction: they wait for each other, never deadlock)
  const events = await cachedEvents(`inc-shared-${END}`, { count: 6000, end: END, seed: 66, keys: 8, span: 30 * DAY });
  const rs = [];
  for (let i = 0; i < 4; i++) {
    const r = await relay();
    r.load(events);
    rs.push(r);
  }
  await only(...rs.map((r) => r.url));
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  for (const r of rs) {
    const q = (await queueStats(r.url)).stats;
    assert.equal(q.end, 'complete', `${r.url}: ${JSON.stringify(q)}`);
    assert.equal(await archivedFrom(r.url), 6000, `${r.url}: every sighting`);
  }
  assert.equal(s.last_cycle_stats.events_new, 6000, 'each event new once');
  assert.ok(s.last_cycle_stats.events_known > 0, 'copies stored by the other process are known');
});

test('known events: sightings recorded without verifying or inserting again; re-signed copies verified; forged and tampered ones never recorded', async () => {
  const sk = generateSecretKey();
  const originals = [];
  for (let i = 0; i < 300; i++) {
    originals.push(finalizeEvent({ kind: 1, created_at: END - 5 * DAY + i * 7, tags: [['t', 'known'], ['p', 'ab'.repeat(32)]],
      content: `known event ${i}` }, sk));
  }
  const first = await relay();
  first.load(originals);
  await only(first.url);
  let s = await runOneCycle();
  assert.equal(s.last_cycle_stats.events_new, 300);

  // another relay serves the same events: 10 re-signed (same id, another valid signature), 5 forged,
  // 5 tampered (content changed, id kept), the rest exactly as archived
  const resigned = originals.slice(0, 10).map((e) => finalizeEvent({ kind: e.kind, created_at: e.created_at, tags: e.tags, content: e.content }, sk));
  const forged = originals.slice(10, 15).map(badSignature);
  const tampered = originals.slice(15, 20).map((e) => ({ ...e, content: e.content + ' (edited)' }));
  const same = originals.slice(20);
  for (let i = 0; i < resigned.length; i++) {
    assert.equal(resigned[i].id, originals[i].id);
    assert.notEqual(resigned[i].sig, originals[i].sig, 'BIP-340 signatures differ with fresh aux randomness');
  }
  const second = await relay();
  second.load([...resigned, ...forged, ...tampered, ...same]);
  await only(second.url);
  s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  const q = (await queueStats(second.url)).stats;
  assert.equal(q.events_new, 0, 'nothing new to the archive');
  // a window's follow-up may serve an event twice: a repeated copy counts again
  const repeats = q.events_received - 300;
  assert.ok(q.events_known >= 280 && q.events_known <= 280 + repeats, `the 280 unchanged events taken as known (${JSON.stringify(q)})`);
  assert.ok(q.events_verified >= 15 && q.events_verified <= 15 + repeats,
    `only the re-signed and forged ones had their signature checked (${q.events_verified}, ${repeats} repeated)`);
  assert.ok(q.events_invalid >= 10 && q.events_invalid <= 10 + repeats, 'forged and tampered dropped');
  assert.equal(await sightings(second.url, same.map((e) => e.id)), 280, 'every known sighting recorded');
  assert.equal(await sightings(second.url, resigned.map((e) => e.id)), 10, 're-signed copies: verified, sighting recorded');
  assert.equal(await sightings(second.url, [...forged, ...tampered].map((e) => e.id)), 0, 'no sighting from a forged or tampered copy');
  const stored = await sql('SELECT encode(sig, \'hex\') AS sig FROM bigbrotr.events WHERE id = ANY($1::bytea[])',
    [originals.slice(0, 20).map((e) => '\\x' + e.id)]);
  assert.deepEqual(new Set(stored.map((r) => r.sig)), new Set(originals.slice(0, 20).map((e) => e.sig)),
    'the archived events keep their first signature');
});

test('an unchanged relay: the next cycle downloads < 2 % of the first; late events below the frontier wait for the rescan, which catches them', async () => {
  // the relay's last 12 hours: inside the lookback, so re-requesting it every cycle would show
  const events = await makeEventsParallel({ count: 3000, end: Math.floor(Date.now() / 1000) - 900, span: 12 * 3600, seed: 62, keys: 6 });
  const r = await relay();
  r.load(events);
  await only(r.url);
  await setConfig({ 'bigbrotr.synchronizer_rescan_interval': DAY });
  let s = await runOneCycle();
  assert.equal(s.last_cycle_stats.events_new, 3000);
  const firstBytes = r.stats.bytesSent;
  const q1 = (await queueStats(r.url)).stats;
  assert.ok(q1.rescan, 'the first sync is a full scan');
  const state1 = await relayState(r.url);
  assert.ok(state1.rescan_at > 0 && state1.frontier >= state1.cursor, JSON.stringify(state1));

  s = await runOneCycle();
  const secondBytes = r.stats.bytesSent - firstBytes;
  const q2 = (await queueStats(r.url)).stats;
  assert.equal(q2.rescan, false);
  assert.ok(secondBytes < 0.02 * firstBytes, `second cycle: ${secondBytes} bytes against ${firstBytes} (${(100 * secondBytes / firstBytes).toFixed(2)} %)`);
  assert.ok(q2.bytes_received <= secondBytes + 1000, `our own count agrees (${q2.bytes_received})`);

  // published now, created an hour ago (below the frontier minus the overlap), and one created now
  const sk = generateSecretKey();
  const now = Math.floor(Date.now() / 1000);
  const late = finalizeEvent({ kind: 1, created_at: now - 3600, tags: [], content: 'late' }, sk);
  const fresh = finalizeEvent({ kind: 1, created_at: now, tags: [], content: 'fresh' }, sk);
  r.load([late, fresh]);
  await runOneCycle();
  assert.equal(await sightings(r.url, [fresh.id]), 1, 'the fresh event is caught at once');
  const q3 = (await queueStats(r.url)).stats;
  assert.equal(q3.end, 'complete', `one new event proves itself against the cap shown before (${JSON.stringify(q3)})`);
  assert.ok(Number((await relayState(r.url)).cursor) >= fresh.created_at, 'the cursor passes it');
  assert.equal(await sightings(r.url, [late.id]), 0, 'the late one waits: no rescan before rescan_interval');

  await setConfig({ 'bigbrotr.synchronizer_rescan_interval': 1 });
  await new Promise((res) => setTimeout(res, 1100));
  await runOneCycle();
  const q4 = (await queueStats(r.url)).stats;
  assert.ok(q4.rescan, 'rescan due');
  assert.equal(await sightings(r.url, [late.id]), 1, 'the rescan catches the late event');
  await setConfig({ 'bigbrotr.synchronizer_rescan_interval': null });
});

test('a crowded second no COUNT can prove: cursor and record kept below it, the next cycles do not re-download the history', async () => {
  const T = END - 20 * DAY;
  const crowded = await cachedEvents(`inc-crowd-${END}`, { count: 60, end: END, seed: 63, keys: 5, at: T });
  const older = await cachedEvents(`inc-older-${END}`, { count: 2000, end: T - 1, seed: 64, keys: 5, span: 200 * DAY });
  const newer = await cachedEvents(`inc-newer-${END}`, { count: 500, end: END, seed: 65, keys: 5, span: 19 * DAY });
  await setConfig({ 'bigbrotr.synchronizer_limit': 20, 'bigbrotr.synchronizer_rescan_interval': DAY });
  try {
    const r = await relay({ tieRandom: true });
    r.load([...older, ...crowded, ...newer]);
    await only(r.url);
    await runOneCycle();
    const st1 = await relayState(r.url);
    assert.ok(st1.shortfalls.some((f) => f.reason === 'unproven' && f.since === T), JSON.stringify(st1.shortfalls));
    assert.ok(Number(st1.cursor) < T, 'cursor below the unproven second');
    assert.ok(Number(st1.frontier) >= END, 'frontier past it');
    const bytes1 = r.stats.bytesSent;

    await runOneCycle();
    const bytes2 = r.stats.bytesSent - bytes1;
    const st2 = await relayState(r.url);
    assert.ok(bytes2 < 0.02 * bytes1, `the next cycle sent ${bytes2} bytes against ${bytes1}`);
    assert.ok(Number(st2.cursor) < T, 'the cursor still stays below it');
    assert.ok(st2.shortfalls.some((f) => f.reason === 'unproven' && f.since === T), 'its record kept: ' + JSON.stringify(st2.shortfalls));
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_limit': 500, 'bigbrotr.synchronizer_rescan_interval': null });
  }
});
