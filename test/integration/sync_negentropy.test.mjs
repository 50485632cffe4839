// sync_negentropy.test.mjs: NIP-77 negentropy in the synchronizer (issue 12 item 3), on real fixture
// relays (test/fixtures/sync_relays.mjs with `negentropy`): a relay speaking it gets only the events the
// archive lacks downloaded, the ones the archive holds from other relays linked without download, and a
// second cycle downloads nothing; relays that answer NEG-OPEN with a NOTICE, never, or with NEG-ERR are
// synced by the window algorithm instead, and remembered (not probed again); `only` mode does not fall
// back and says so; an id the relay lists and then does not serve is a shortfall that holds the cursor;
// a worker killed mid-chunk leaves no gap; a small chunk size (many chunks) still archives everything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, setConfig, freshExtension, sleep, waitFor } from './lib/cluster.mjs';
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
  assert.equal(a.stats.eventsSent, 500, 'the relay served only the 500 events the archive lacked');
  assert.equal(await archived(events), 2000, 'every event archived');
  assert.equal((await sql('SELECT count(*)::int AS n FROM bigbrotr.events'))[0].n, 2000, 'each exactly once');
  assert.equal(await sightings(a.url, events), 2000, 'a sighting for every event of the relay');
  const state = await relayState(a.url);
  assert.ok(Number(state.cursor) >= END, `cursor past every event: ${JSON.stringify(state)}`);
  assert.equal(Number(state.frontier), Number(state.cursor), 'a negentropy-complete range is exact');
  assert.ok(s.last_cycle_stats.neg_linked >= 1200 && s.last_cycle_stats.relays_negentropy === 1,
    `cycle totals: ${JSON.stringify(s.last_cycle_stats)}`);

  s = await runOneCycle();
  const st2 = await relayStats(a.url);
  assert.equal(st2.end, 'complete', JSON.stringify(st2));
  assert.equal(a.stats.eventsSent, 500, 'the second cycle downloaded no event');
  assert.equal(st2.neg_fetched, 0);
});
