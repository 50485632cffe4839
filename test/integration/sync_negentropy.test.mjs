// sync_negentropy.test.mjs: NIP-77 negentropy in the synchronizer (issue 12 item 3), on real fixture
// relays (test/fixtures/sync_relays.mjs with `negentropy`): a relay speaking it gets only the events the
// archive lacks downloaded, the ones the archive holds from other relays linked without download, and a
// second cycle downloads nothing; relays that answer NEG-OPEN with a NOTICE, never, or with NEG-ERR are
// synced by the window algorithm instead, and remembered (not probed again); `only` mode does not fall
// back and says so; an id the relay lists and then does not serve is a shortfall that holds the cursor;
// a worker killed mid-chunk leaves no gap; a small chunk size (many chunks) still archives everything.
import fs from 'node:fs';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, setConfig, freshExtension, sleep, waitFor } from './lib/cluster.mjs';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { cachedEvents } from './lib/sync_events.mjs';
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

const hexIds = (events) => events.map((e) => '\\x' + e.id);

async function sightings(url, events) {
  return (await sql('SELECT count(*)::int AS n FROM bigbrotr.events_relays WHERE relay_url = $1 AND event_id = ANY($2::bytea[])',
    [url, hexIds(events)]))[0].n;
}

async function archived(events) {
  return (await sql('SELECT count(*)::int AS n FROM bigbrotr.events WHERE id = ANY($1::bytea[])', [hexIds(events)]))[0].n;
}

// Sightings of archived events recorded for `url` without the relay sending them.
async function link(url, events) {
  await sql("SELECT bigbrotr.insert_sightings($1::bytea[], $2, 'clearnet', 0, 0)", [hexIds(events), url]);
}

function figure(line) {
  console.log(`# ${line}`);
  if (process.env.BB_FIGURES_FILE) fs.appendFileSync(process.env.BB_FIGURES_FILE, `${line}\n`);
}

async function relayStats(url) {
  const q = await queueStats(url);
  return q?.stats ?? null;
}

before(async () => {
  await freshExtension();
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': 0,
    'bigbrotr.synchronizer_max_processes': 1,
    'bigbrotr.synchronizer_max_parallel': 10,
    'bigbrotr.synchronizer_request_timeout': scaledSeconds(10),
    'bigbrotr.synchronizer_limit': 500,
  });
});

after(async () => {
  await stopAndWait().catch(() => {});
  await setConfig({
    'bigbrotr.synchronizer_stagger_delay': null, 'bigbrotr.synchronizer_max_processes': null,
    'bigbrotr.synchronizer_max_parallel': null, 'bigbrotr.synchronizer_request_timeout': null,
    'bigbrotr.synchronizer_limit': null, 'bigbrotr.synchronizer_negentropy': null,
    'bigbrotr.synchronizer_negentropy_max_items': null,
  });
  for (const r of relays) await r.close().catch(() => {});
});

test("a negentropy relay: only what the archive lacks is downloaded, the rest linked; a second cycle downloads nothing", async () => {
  const events = await cachedEvents(`neg-main-${END}`, { count: 2000, end: END, seed: 71, keys: 4, span: 30 * DAY });
  const other = await relay();
  other.load(events.slice(0, 1500));
  await setConfig({ 'bigbrotr.synchronizer_negentropy': 'off' });
  await only(other.url);
  let s = await runOneCycle();
  assert.equal(s.last_cycle_stats.events_new, 1500, 'the other relay gave the archive 1,500 events');

  const a = await relay({ negentropy: 'on' });
  a.load(events);
  await link(a.url, events.slice(0, 300)); // 300 already linked to the relay
  await setConfig({ 'bigbrotr.synchronizer_negentropy': 'auto' });
  await only(a.url);
  s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  const st = await relayStats(a.url);
  assert.equal(st.end, 'complete', JSON.stringify(st));
  assert.equal(st.negentropy, true, JSON.stringify(st));
  assert.equal(st.neg_linked, 1200, `linked without download: ${JSON.stringify(st)}`);
  assert.equal(st.neg_fetched, 500, `fetched: ${JSON.stringify(st)}`);
  assert.equal(st.neg_ids_needed, 1700, JSON.stringify(st));
  assert.equal(st.neg_fallbacks, 0);
  assert.ok(st.neg_rounds >= 1 && st.neg_bytes_out > 0 && st.neg_bytes_in > 0, JSON.stringify(st));
  figure(`negentropy relay, 2,000 events (1,500 archived from another relay, 300 linked): events sent ${a.stats.eventsSent}, ` +
    `relay wire bytes out ${a.stats.wireBytes}, NEG bytes in/out (relay) ${a.stats.negBytesIn}/${a.stats.negBytesOut}, ` +
    `rounds ${st.neg_rounds}, linked ${st.neg_linked}, fetched ${st.neg_fetched}, other relay's bytes ${other.stats.wireBytes}`);
  assert.equal(a.stats.eventsSent, 500, 'the relay served only the 500 events the archive lacked');
  assert.equal(await archived(events), 2000, 'every event archived');
  assert.equal((await sql('SELECT count(*)::int AS n FROM bigbrotr.events'))[0].n, 2000, 'each exactly once');
  assert.equal(await sightings(a.url, events), 2000, 'a sighting for every event of the relay');
  const state = await relayState(a.url);
  assert.ok(Number(state.cursor) >= END, `cursor past every event: ${JSON.stringify(state)}`);
  assert.equal(Number(state.frontier), Number(state.cursor), 'a negentropy-complete range is exact');
  assert.ok(s.last_cycle_stats.neg_linked >= 1200 && s.last_cycle_stats.relays_negentropy === 1,
    `cycle totals: ${JSON.stringify(s.last_cycle_stats)}`);

  const wire1 = a.stats.wireBytes;
  s = await runOneCycle();
  const st2 = await relayStats(a.url);
  figure(`second cycle: relay wire bytes ${a.stats.wireBytes - wire1}, events ${st2.neg_fetched}, rounds ${st2.neg_rounds}`);
  assert.equal(st2.end, 'complete', JSON.stringify(st2));
  assert.equal(a.stats.eventsSent, 500, 'the second cycle downloaded no event');
  assert.equal(st2.neg_fetched, 0);
});

test('relays that answer NEG-OPEN with a NOTICE, never, or with NEG-ERR: the window algorithm archives everything, the fallback is recorded and remembered (no probe next cycle)', async () => {
  const events = await cachedEvents(`neg-fallback-${END}`, { count: 900, end: END, seed: 73, keys: 4, span: 10 * DAY });
  await setConfig({ 'bigbrotr.synchronizer_negentropy': 'auto', 'bigbrotr.synchronizer_request_timeout': scaledSeconds(3) });
  const modes = ['notice', 'silent', 'error'];
  const reasons = { notice: 'notice', silent: 'timeout', error: 'neg_err' };
  const rs = [];
  for (let i = 0; i < modes.length; i++) {
    const r = await relay({ negentropy: modes[i] });
    r.load(events.slice(i * 300, (i + 1) * 300));
    rs.push(r);
  }
  try {
    await only(...rs.map((r) => r.url));
    const t0 = Math.floor(Date.now() / 1000);
    let s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    for (let i = 0; i < modes.length; i++) {
      const r = rs[i];
      const st = await relayStats(r.url);
      assert.equal(st.end, 'complete', `${modes[i]}: ${JSON.stringify(st)}`);
      assert.equal(st.negentropy, false, `${modes[i]}: ${JSON.stringify(st)}`);
      assert.equal(st.neg_fallbacks, 1, `${modes[i]}: ${JSON.stringify(st)}`);
      assert.equal(st.neg_fallback_reason, reasons[modes[i]], `${modes[i]}: ${JSON.stringify(st)}`);
      assert.equal(await sightings(r.url, events.slice(i * 300, (i + 1) * 300)), 300, `${modes[i]}: every event of the relay`);
      assert.equal(r.stats.negOpens, 1, `${modes[i]}: probed once`);
      const state = await relayState(r.url);
      assert.ok(Number(state.negentropy_unsupported_until) >= t0 + 3600,
        `${modes[i]}: "no negentropy" remembered in the state: ${JSON.stringify(state)}`);
    }
    assert.equal(await archived(events), 900, 'every event archived');
    assert.equal((await sql('SELECT count(*)::int AS n FROM bigbrotr.events WHERE id = ANY($1::bytea[])', [hexIds(events)]))[0].n, 900);
    assert.ok(s.last_cycle_stats.neg_fallbacks >= 3, JSON.stringify(s.last_cycle_stats));

    s = await runOneCycle();
    for (let i = 0; i < modes.length; i++) {
      const st = await relayStats(rs[i].url);
      assert.equal(st.end, 'complete', `${modes[i]}: ${JSON.stringify(st)}`);
      assert.equal(st.neg_skipped, true, `${modes[i]}: not probed: ${JSON.stringify(st)}`);
      assert.equal(rs[i].stats.negOpens, 1, `${modes[i]}: no NEG-OPEN in the second cycle`);
    }
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_request_timeout': scaledSeconds(10) });
  }
});

test("negentropy 'only' with a relay that answers NEG-OPEN with a NOTICE: not complete, the reason recorded, the cursor not moved", async () => {
  const events = await cachedEvents(`neg-only-${END}`, { count: 200, end: END, seed: 74, keys: 4, span: 10 * DAY });
  const r = await relay({ negentropy: 'notice' });
  r.load(events);
  await setConfig({ 'bigbrotr.synchronizer_negentropy': 'only' });
  try {
    await only(r.url);
    const s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    const st = await relayStats(r.url);
    assert.equal(st.end, 'no_negentropy', JSON.stringify(st));
    assert.equal(st.neg_fallback_reason, 'notice', JSON.stringify(st));
    assert.equal(st.neg_fallbacks, 0, 'no fallback in only mode');
    assert.ok(st.shortfalls >= 1, JSON.stringify(st));
    assert.ok(s.last_cycle_stats.relays_incomplete >= 1, JSON.stringify(s.last_cycle_stats));
    const state = await relayState(r.url);
    assert.ok((state.shortfalls || []).some((x) => x.reason === 'no_negentropy'), `recorded: ${JSON.stringify(state)}`);
    const minAt = Math.min(...events.map((e) => e.created_at));
    assert.ok(Number(state.cursor ?? -1) < minAt, `the cursor did not pass the relay's events: ${JSON.stringify(state)}`);
    assert.equal(r.stats.eventsSent, 0, 'nothing downloaded by the window algorithm');
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_negentropy': 'auto' });
  }
});

test('an id the relay lists in negentropy and then does not serve: a shortfall with its id, the cursor stays below it', async () => {
  const events = await cachedEvents(`neg-hidden-${END}`, { count: 400, end: END, seed: 75, keys: 4, span: 10 * DAY });
  const hidden = events[123];
  const r = await relay({ negentropy: 'on', hideFromReq: (e) => e.id === hidden.id });
  r.load(events);
  await only(r.url);
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  const st = await relayStats(r.url);
  assert.equal(st.end, 'incomplete', JSON.stringify(st));
  assert.equal(st.neg_not_served, 1, JSON.stringify(st));
  assert.equal(st.neg_fetched, 399, JSON.stringify(st));
  const state = await relayState(r.url);
  assert.ok((state.shortfalls || []).some((x) => x.reason === 'not_served' && x.id === hidden.id), JSON.stringify(state));
  assert.ok(Number(state.cursor ?? -1) < hidden.created_at, `cursor ${state.cursor} below ${hidden.created_at}`);
  assert.equal(await archivedFrom(r.url), 399);
});

test('a worker killed with SIGKILL mid-chunk: the next cycles archive everything, no gap', async () => {
  const events = await cachedEvents(`neg-kill-${END}`, { count: 6000, end: END, seed: 77, keys: 8, span: 20 * DAY });
  const r = await relay({ negentropy: 'on', answerDelayMs: 400 });
  r.load(events);
  await only(r.url);
  await stopAndWait();
  await sql("SELECT bigbrotr.bigbrotr_start('synchronizer')");
  const pid = await waitFor('a worker storing fetched events', async () => {
    if ((await archivedFrom(r.url)) === 0) return null;
    return (await sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'bigbrotr synchronizer worker'"))[0]?.pid;
  }, { timeoutMs: 60000, intervalMs: 100 });
  const stored = await archivedFrom(r.url);
  process.kill(pid, 'SIGKILL');
  assert.ok(stored < events.length, `the kill happened mid-chunk (${stored} of ${events.length})`);
  await waitFor('the archive completed after the kill', async () => (await archivedFrom(r.url)) === events.length,
    { timeoutMs: 180000, intervalMs: 1000 });
  await stopAndWait();
  assert.equal(await archived(events), events.length);
  assert.ok(r.stats.negOpens >= 2, `the chunk was reconciled again after the kill (NEG-OPENs: ${r.stats.negOpens})`);
  assert.ok(r.stats.eventsSent < events.length + 4 * 500,
    `what was stored before the kill is not downloaded again (${r.stats.eventsSent} events sent for ${events.length})`);
  const state = await relayState(r.url);
  const cursor = Number(state?.cursor ?? -1);
  const below = events.filter((e) => e.created_at <= cursor);
  assert.equal(await sightings(r.url, below), below.length, `everything at or below the cursor (${cursor}) is archived`);
});

test('a relay with 20,000 events and chunks of 1,000 archive items: many chunks, everything archived, only the missing downloaded', async () => {
  const events = await cachedEvents(`neg-many-${END}`, { count: 20000, end: END, seed: 76, keys: 8, span: 60 * DAY });
  const r = await relay({ negentropy: 'on' });
  r.load(events.slice(0, 15000));
  await setConfig({ 'bigbrotr.synchronizer_negentropy': 'off' });
  await only(r.url);
  let s = await runOneCycle();
  assert.equal(await archivedFrom(r.url), 15000);
  r.load(events.slice(15000));
  // the cycle covers the relay's whole history (as a full rescan)
  await sql("DELETE FROM bigbrotr.service_state WHERE service_name = 'synchronizer:' || $1", [r.url]);
  await setConfig({ 'bigbrotr.synchronizer_negentropy': 'auto', 'bigbrotr.synchronizer_negentropy_max_items': 1000 });
  const sentBefore = r.stats.eventsSent;
  try {
    s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    const st = await relayStats(r.url);
    assert.equal(st.end, 'complete', JSON.stringify(st));
    assert.ok(st.neg_chunks >= 15, `many chunks: ${JSON.stringify(st)}`);
    assert.equal(st.neg_fetched, 5000, JSON.stringify(st));
    figure(`20,000 events, 15,000 archived, max_items 1,000: ${st.neg_chunks} chunks, ${st.neg_rounds} rounds, ` +
      `NEG bytes out/in ${st.neg_bytes_out}/${st.neg_bytes_in}, fetched ${st.neg_fetched}`);
    assert.equal(r.stats.eventsSent - sentBefore, 5000, 'only the 5,000 missing events downloaded');
    assert.equal(await archivedFrom(r.url), 20000);
    const state = await relayState(r.url);
    assert.ok(Number(state.cursor) >= END, JSON.stringify(state));
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_negentropy_max_items': null });
  }
});

test('a negentropy relay that demands NIP-42 AUTH: NEG-OPEN refused auth-required, AUTH with the synchronizer key, then reconciled', async () => {
  const events = await cachedEvents(`neg-auth-${END}`, { count: 300, end: END, seed: 78, keys: 4, span: 10 * DAY });
  const r = await relay({ negentropy: 'on', auth: 'req' });
  r.load(events);
  await setConfig({ 'bigbrotr.synchronizer_private_key': '7f'.repeat(32) });
  try {
    await only(r.url);
    const s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    const st = await relayStats(r.url);
    assert.equal(st.end, 'complete', JSON.stringify(st));
    assert.equal(st.negentropy, true, `negentropy used after AUTH: ${JSON.stringify(st)}`);
    assert.equal(st.neg_fetched, 300, JSON.stringify(st));
    assert.ok(r.stats.authOk >= 1, 'authenticated');
    assert.equal(r.stats.negOpens, 2, 'NEG-OPEN refused once, then re-sent after AUTH');
    assert.equal(await archivedFrom(r.url), 300);
    const state = await relayState(r.url);
    assert.equal(state.negentropy_unsupported_until, undefined, 'not marked as unsupported');
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_private_key': null });
  }
});

test("with negentropy a rescan covers the relay's whole history: an event backdated beyond the lookback is caught, nothing else downloaded", async () => {
  const events = await cachedEvents(`neg-rescan-${END}`, { count: 500, end: END, seed: 79, keys: 4, span: 20 * DAY });
  const r = await relay({ negentropy: 'on' });
  r.load(events);
  await only(r.url);
  let s = await runOneCycle();
  assert.equal(await archivedFrom(r.url), 500);
  const late = finalizeEvent({ kind: 1, created_at: END - 60 * DAY, tags: [], content: 'published late, backdated 60 days' },
    generateSecretKey());
  r.load([late]);
  await setConfig({ 'bigbrotr.synchronizer_rescan_interval': 0 }); // every cycle is a rescan (lookback: 1 day)
  const sent = r.stats.eventsSent;
  try {
    s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    const st = await relayStats(r.url);
    assert.equal(st.end, 'complete', JSON.stringify(st));
    assert.equal(st.rescan, true);
    assert.equal(r.stats.eventsSent - sent, 1, 'only the late event downloaded');
    assert.equal(await archivedFrom(r.url), 501, 'the backdated event is archived');
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_rescan_interval': null });
  }
});

test("an archived relay's whole history asked again: negentropy costs a small fraction of the window algorithm's bytes", async () => {
  const events = await cachedEvents(`neg-bytes-${END}`, { count: 3000, end: END, seed: 80, keys: 8, span: 30 * DAY });
  const r = await relay({ negentropy: 'on' });
  r.load(events);
  await only(r.url);
  const reset = () => sql("DELETE FROM bigbrotr.service_state WHERE service_name = 'synchronizer:' || $1", [r.url]);
  const cycleBytes = async (mode) => {
    await reset();
    await setConfig({ 'bigbrotr.synchronizer_negentropy': mode });
    const before = r.stats.wireBytes + r.stats.wireBytesIn;
    const s = await runOneCycle();
    assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
    assert.equal((await relayStats(r.url)).end, 'complete');
    return r.stats.wireBytes + r.stats.wireBytesIn - before;
  };
  try {
    await cycleBytes('off'); // the first download
    const windowBytes = await cycleBytes('off');
    const negBytes = await cycleBytes('auto');
    figure(`3,000 archived events asked again: window algorithm ${windowBytes} bytes, negentropy ${negBytes} bytes ` +
      `(${(100 * negBytes / windowBytes).toFixed(2)} %)`);
    assert.ok(negBytes < windowBytes / 20, `negentropy ${negBytes} bytes against ${windowBytes}`);
    assert.equal(await archivedFrom(r.url), 3000);
  } finally {
    await setConfig({ 'bigbrotr.synchronizer_negentropy': 'auto' });
  }
});
