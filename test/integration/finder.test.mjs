// finder.test.mjs: the finder against a real HTTP server on loopback serving good and hostile sources,
// and against archived kind 10002 / kind 3 events, which must yield their relays exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, sleep, status, waitFor, setConfig, freshExtension, logMark, logSince } from './lib/cluster.mjs';
import { signed, archive } from './lib/events.mjs';
import { startSourceServer } from '../fixtures/http_sources.mjs';

let server;

async function runOneCycle() {
  // A freshly started worker runs its first cycle at once: stop/start triggers a cycle on demand.
  await sql("SELECT bigbrotr.bigbrotr_stop('finder')");
  await waitFor('finder stopped', async () => !(await status('finder')).running, { timeoutMs: 15000 });
  const before = Number((await status('finder')).cycles_run);
  await sql("SELECT bigbrotr.bigbrotr_start('finder')");
  return waitFor('a finder cycle', async () => {
    const st = await status('finder');
    return Number(st.cycles_run) > before ? st : null;
  }, { timeoutMs: 60000 });
}

before(async () => {
  await freshExtension();
  server = await startSourceServer();
  server.setJson('/online', ['wss://relay.one.example', 'wss://Relay.Two.Example:443/', 'ws://relay.three.example:8080']);
  server.setJson('/mixed', ['wss://relay.one.example', 42, { url: 'wss://x' }, null, 'https://web.example',
    'not a url', 'wss://relay.four.example/nostr/', ['wss://nested.example']]);
  await sql('DELETE FROM bigbrotr.finder_sources');
  await sql(`INSERT INTO bigbrotr.finder_sources (url, timeout_seconds) VALUES
      ($1, NULL), ($2, NULL), ($3, NULL), ($4, NULL), ($5, NULL), ($6, NULL), ($7, 2),
      ('http://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion/relays', NULL),
      ('http://expyuzz4wqqyqhjn.onion/relays', NULL)`,
    ['/online', '/mixed', '/html', '/error500', '/object', '/huge', '/never'].map(server.url));
  await sql("INSERT INTO bigbrotr.finder_sources (url, enabled) VALUES ($1, false)", [server.url('/disabled')]);
  await setConfig({
    'bigbrotr.finder_delay_between_requests': '50ms',
    'bigbrotr.finder_max_response_size': '1MB',
    'bigbrotr.finder_events_commit_lag': 0,
  });
});

after(async () => {
  await sql("SELECT bigbrotr.bigbrotr_stop('finder')").catch(() => {});
  await setConfig({
    'bigbrotr.finder_delay_between_requests': null, 'bigbrotr.finder_max_response_size': null,
    'bigbrotr.finder_events_commit_lag': null,
  });
  await server.close();
});

test('good sources are read, hostile ones are logged and counted, none stops the cycle', async () => {
  const now = Math.floor(Date.now() / 1000);
  const mark = logMark();
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  const st = s.last_cycle_stats;
  assert.equal(st.sources_ok, 2);
  assert.equal(st.sources_failed, 6, 'five hostile sources, and a .onion name that is no v3 address');
  assert.equal(st.sources_skipped, 1, 'the valid .onion source is skipped while Tor is off');
  assert.equal(st.urls_fetched, 3 + 8);
  assert.equal(st.urls_valid, 3 + 2);
  assert.equal(st.urls_invalid, 6);
  assert.equal(st.relays_new, 4, 'relay.one is in both sources: inserted once');
  assert.equal(server.hits('/disabled'), 0, 'disabled sources are not fetched');

  const relays = await sql("SELECT url, network, inserted_at FROM bigbrotr.relays WHERE url LIKE '%example%' ORDER BY url");
  assert.deepEqual(relays.map((r) => r.url), [
    'ws://relay.three.example:8080', 'wss://relay.four.example/nostr', 'wss://relay.one.example',
    'wss://relay.two.example']);
  const log = logSince(mark);
  for (const [path, why] of [
    ['/html', /is not valid JSON/], ['/error500', /HTTP status 500/], ['/object', /expected a JSON array, got an object/],
    ['/huge', /too_large/], ['/never', /timeout/]]) {
    const line = log.split('\n').find((l) => l.includes(`source ${server.url(path)}`) && why.test(l));
    assert.ok(line, `a log line for ${path} matching ${why}`);
  }
  assert.match(log, /source http:\/\/expyuzz4wqqyqhjn\.onion\/relays: .*not a valid v3 onion address/,
    'a .onion name that is no v3 address is refused before any lookup, with the reason');
  // Inserted by this very cycle, as clearnet relays, stamped with the cycle's time.
  const cycleStart = Math.floor(s.last_cycle_start.getTime() / 1000);
  const cycleEnd = Math.ceil(s.last_cycle_end.getTime() / 1000);
  for (const r of relays) {
    assert.equal(r.network, 'clearnet', r.url);
    const at = Number(r.inserted_at);
    assert.ok(at >= now && at >= cycleStart && at <= cycleEnd,
      `${r.url}: inserted_at ${at} lies in the cycle [${cycleStart}, ${cycleEnd}], not before the test (${now})`);
  }
});

test('archived 10002 and kind 3 events yield their relays, each event read once', async () => {
  // First seen after the previous cycle's horizon (lag 0 here), and in the past when the cycle runs.
  const seen = Math.floor(Date.now() / 1000) + 1;
  const e1 = signed({ kind: 10002, tags: [['r', 'wss://nip65-a.example'], ['r', 'wss://nip65-b.example/', 'read'], ['p', 'abc'], ['r', 'garbage']] });
  const e2 = signed({ kind: 10002, tags: [['r', 'wss://nip65-a.example'], ['r', 'WSS://NIP65-C.example']] });
  const e3 = signed({ kind: 3, content: JSON.stringify({ 'wss://contacts-a.example': { read: true, write: true }, 'ftp://bad.example': {} }) });
  const e4 = signed({ kind: 3, content: 'this is not json' });
  const e5 = signed({ kind: 1, tags: [['r', 'wss://not-a-relay-list.example']] });
  for (const e of [e1, e2, e3, e4, e5]) await archive(e, 'wss://archive.example', seen);
  await archive(e1, 'wss://archive2.example', seen); // the same event seen on a second relay
  await sleep(2100);

  const s = await runOneCycle();
  const st = s.last_cycle_stats;
  const watermark = async () => (await sql(
    "SELECT state->'archive_watermark' AS w FROM bigbrotr.service_state WHERE service_name = 'finder'"))[0]?.w;
  const wm1 = await watermark();
  assert.ok(wm1, 'the watermark is kept in service_state');
  // Caught up: it stands at the horizon (lag 0: the scan's own time), past every sighting it read.
  assert.ok(Number(wm1.seen_at) >= seen && Number(wm1.seen_at) <= Math.ceil(s.last_cycle_end.getTime() / 1000),
    `watermark at ${wm1.seen_at}: at or after the sightings (${seen}), not after the cycle`);
  assert.equal(st.events_scanned, 4, 'kinds 10002 and 3 only, each event once');
  assert.equal(st.event_urls, 3 + 2 + 2);
  assert.equal(st.event_urls_invalid, 2);
  assert.equal(st.contact_lists_unparsable, 1);
  assert.equal(st.relays_new_from_events, 4);
  const urls = (await sql("SELECT url FROM bigbrotr.relays WHERE url LIKE 'wss://nip65%' OR url LIKE 'wss://contacts%' OR url LIKE '%not-a-relay-list%' ORDER BY url")).map((r) => r.url);
  assert.deepEqual(urls, ['wss://contacts-a.example', 'wss://nip65-a.example', 'wss://nip65-b.example', 'wss://nip65-c.example']);

  // The watermark: a new cycle reads only what arrived since.
  const e6 = signed({ kind: 10002, tags: [['r', 'wss://nip65-d.example']] });
  const seen6 = Math.floor(Date.now() / 1000) + 1;
  await archive(e6, 'wss://archive.example', seen6);
  await sleep(2100);
  const s2 = await runOneCycle();
  assert.equal(s2.last_cycle_stats.events_scanned, 1);
  assert.equal(s2.last_cycle_stats.relays_new_from_events, 1);
  const wm2 = await watermark();
  assert.ok(wm2, 'the watermark is kept in service_state');
  assert.ok(Number(wm2.seen_at) >= seen6 && Number(wm2.seen_at) > Number(wm1.seen_at),
    `the watermark moved from ${wm1.seen_at} to ${wm2.seen_at}, past the new sighting (${seen6})`);
});

test('pg_dump keeps user-added sources and restores without conflicts on the built-in ones', async () => {
  const { execFileSync } = await import('node:child_process');
  const { env } = await import('./lib/cluster.mjs');
  await sql("INSERT INTO bigbrotr.finder_sources (url, timeout_seconds) VALUES ('https://user.example/relays.json', 7)");
  const conn = ['-h', '127.0.0.1', '-p', String(env.port), '-U', 'postgres'];
  const dump = execFileSync(`${env.pgBin}/pg_dump`, [...conn, '-d', env.db], { encoding: 'utf8', maxBuffer: 1 << 28 });
  await sql('DROP DATABASE IF EXISTS bigbrotr_restore', [], 'postgres');
  await sql('CREATE DATABASE bigbrotr_restore', [], 'postgres');
  try {
    execFileSync(`${env.pgBin}/psql`, [...conn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'bigbrotr_restore'],
      { input: dump, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    const q = 'SELECT url, enabled, timeout_seconds, builtin FROM bigbrotr.finder_sources ORDER BY url';
    const original = (await sql(q)).filter((r) => !r.builtin);
    const restored = await sql(q, [], 'bigbrotr_restore');
    assert.deepEqual(restored.filter((r) => r.builtin).map((r) => r.url),
      ['https://api.nostr.watch/v1/offline', 'https://api.nostr.watch/v1/online'], 'built-in rows made by CREATE EXTENSION');
    assert.deepEqual(restored.filter((r) => !r.builtin), original, 'every user row, as it was');
    assert.ok(original.some((r) => r.url === 'https://user.example/relays.json' && r.timeout_seconds === 7));
  } finally {
    await sql('DROP DATABASE bigbrotr_restore WITH (FORCE)', [], 'postgres');
  }
});

test('with Tor on, an .onion source is fetched through the SOCKS proxy', async () => {
  const { startSocksProxy } = await import('../fixtures/socks_proxy.mjs');
  const onion = 'duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion';
  const port = Number(new URL(server.url('/x')).port);
  server.setJson('/onion-relays', ['wss://found-over-tor.example', 'not a url']);
  const socks = await startSocksProxy({ map: { [`${onion}:80`]: port } });
  try {
    await sql('UPDATE bigbrotr.finder_sources SET enabled = false');
    await sql('INSERT INTO bigbrotr.finder_sources (url) VALUES ($1)', [`http://${onion}/onion-relays`]);
    await setConfig({ 'bigbrotr.tor_enabled': 'on', 'bigbrotr.tor_socks_port': socks.port });
    const st = (await runOneCycle()).last_cycle_stats;
    assert.equal(st.sources_ok, 1, 'the .onion source answered through the proxy');
    assert.equal(st.urls_valid, 1);
    assert.equal(st.urls_invalid, 1);
    assert.ok(socks.connects() >= 1, 'the request went through the SOCKS proxy');
    assert.equal((await sql("SELECT network FROM bigbrotr.relays WHERE url = 'wss://found-over-tor.example'")).length, 1);
  } finally {
    await setConfig({ 'bigbrotr.tor_enabled': null, 'bigbrotr.tor_socks_port': null });
    await socks.close();
  }
});
