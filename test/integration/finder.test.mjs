// finder.test.mjs: the finder against a real HTTP server on loopback serving good and hostile sources,
// and against archived kind 10002 / kind 3 events, which must yield their relays exactly once: bad
// elements and rows PostgreSQL refuses cost only themselves, late events are still read, the archive
// page query stops at its LIMIT, and the worker's memory is bounded by the body cap and the page size
// (sampled from /proc/<pid>/status while a cycle runs), not by the archive or the number of URLs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { sql, connect, sleep, status, waitFor, setConfig, freshExtension, logMark, logSince, workerPids } from './lib/cluster.mjs';
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
  });
});

after(async () => {
  await sql("SELECT bigbrotr.bigbrotr_stop('finder')").catch(() => {});
  await setConfig({
    'bigbrotr.finder_delay_between_requests': null, 'bigbrotr.finder_max_response_size': null,
    'bigbrotr.finder_events_batch_size': null,
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

const queued = async () => (await sql('SELECT count(*)::int AS n FROM bigbrotr.finder_queue'))[0].n;

test('archived 10002 and kind 3 events yield their relays, each event read once', async () => {
  const seen = Math.floor(Date.now() / 1000);
  const e1 = signed({ kind: 10002, tags: [['r', 'wss://nip65-a.example'], ['r', 'wss://nip65-b.example/', 'read'], ['p', 'abc'], ['r', 'garbage']] });
  const e2 = signed({ kind: 10002, tags: [['r', 'wss://nip65-a.example'], ['r', 'WSS://NIP65-C.example']] });
  const e3 = signed({ kind: 3, content: JSON.stringify({ 'wss://contacts-a.example': { read: true, write: true }, 'ftp://bad.example': {} }) });
  const e4 = signed({ kind: 3, content: 'this is not json' });
  const e5 = signed({ kind: 1, tags: [['r', 'wss://not-a-relay-list.example']] });
  for (const e of [e1, e2, e3, e4, e5]) await archive(e, 'wss://archive.example', seen);
  await archive(e1, 'wss://archive2.example', seen); // the same event seen on a second relay

  assert.equal(await queued(), 4, 'the trigger queued the kind 10002 and kind 3 events, each once');
  const s = await runOneCycle();
  const st = s.last_cycle_stats;
  assert.equal(await queued(), 0, 'each page is dequeued with the relays it yielded');
  assert.equal(st.events_scanned, 4, 'kinds 10002 and 3 only, each event once');
  assert.equal(st.event_urls, 3 + 2 + 2);
  assert.equal(st.event_urls_invalid, 2);
  assert.equal(st.contact_lists_unparsable, 1);
  assert.equal(st.relays_new_from_events, 4);
  const urls = (await sql("SELECT url FROM bigbrotr.relays WHERE url LIKE 'wss://nip65%' OR url LIKE 'wss://contacts%' OR url LIKE '%not-a-relay-list%' ORDER BY url")).map((r) => r.url);
  assert.deepEqual(urls, ['wss://contacts-a.example', 'wss://nip65-a.example', 'wss://nip65-b.example', 'wss://nip65-c.example']);

  const e6 = signed({ kind: 10002, tags: [['r', 'wss://nip65-d.example']] });
  await archive(e6, 'wss://archive.example', Math.floor(Date.now() / 1000));
  const s2 = await runOneCycle();
  assert.equal(s2.last_cycle_stats.events_scanned, 1, 'a new cycle reads only what arrived since');
  assert.equal(s2.last_cycle_stats.relays_new_from_events, 1);
});

// Only these paths of the source server are enabled sources.
async function onlySources(paths) {
  await sql('UPDATE bigbrotr.finder_sources SET enabled = false');
  for (const p of paths) {
    await sql(`INSERT INTO bigbrotr.finder_sources (url) VALUES ($1)
               ON CONFLICT (url) DO UPDATE SET enabled = true`, [server.url(p)]);
  }
}

// Private anonymous memory of a process, in bytes (/proc/<pid>/status RssAnon).
function rssAnon(pid) {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// runOneCycle, sampling the finder worker's RssAnon every few ms: resolves to { st, peak }.
async function cycleWithPeak() {
  let done = false;
  let peak = 0;
  let samples = 0;
  const cycle = runOneCycle().finally(() => { done = true; });
  const sampler = (async () => {
    let pid = null;
    while (!done) {
      const now = pid ? rssAnon(pid) : 0;
      if (now > 0) {
        peak = Math.max(peak, now);
        samples++;
        await sleep(2);
        continue;
      }
      // No live pid yet (or a stale one): the worker's row in pg_stat_activity, else its status row.
      const [live] = await workerPids('finder').catch(() => []);
      pid = live || (await status('finder').catch(() => null))?.pid || null;
      await sleep(5);
    }
  })();
  const st = await cycle;
  await sampler;
  assert.ok(samples > 0, 'the worker was sampled while its cycle ran');
  return { st, peak };
}

test('a source element that cannot be a URL is counted and skipped; the rest of the source is kept', async () => {
  const good = Array.from({ length: 9 }, (_, i) => `"wss://good-${i}.elements.example"`);
  const bad = [
    '"wss://nul.elements.example/\\u0000x"', // U+0000: "cannot be converted to text" lost the whole list
    Buffer.from([0x22, 0x77, 0x73, 0x73, 0x3a, 0x2f, 0x2f, 0xc3, 0x28, 0x2e, 0x65, 0x78, 0x22]), // invalid UTF-8
    `"wss://huge.elements.example/${'x'.repeat(100000)}"`, // longer than any relay URL
    '"wss://ctl.elements.example/\tx"', // a raw control character
    '"wss://surrogate.elements.example/\\ud800"', // a lone surrogate
    '12', '{"url": "wss://object.elements.example"}', 'null',
  ];
  const parts = [];
  for (let i = 0; i < good.length; i++) {
    parts.push(Buffer.from(good[i]));
    if (i < bad.length) parts.push(typeof bad[i] === 'string' ? Buffer.from(bad[i]) : bad[i]);
  }
  const body = Buffer.concat([Buffer.from('['), ...parts.flatMap((p, i) => (i ? [Buffer.from(','), p] : [p])), Buffer.from(']')]);
  server.setRoute('/bad-elements', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await onlySources(['/bad-elements']);
  const mark = logMark();
  const s = await runOneCycle();
  const st = s.last_cycle_stats;
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(st.sources_ok, 1, 'the source is read, not failed');
  assert.equal(st.urls_fetched, 9 + 8);
  assert.equal(st.urls_valid, 9, 'every good URL is kept');
  assert.equal(st.elements_skipped, 8);
  assert.equal(st.urls_invalid, 8);
  const n = (await sql("SELECT count(*)::int AS n FROM bigbrotr.relays WHERE url LIKE 'wss://good-_.elements.example'"))[0].n;
  assert.equal(n, 9);
  assert.equal((await sql("SELECT count(*)::int AS n FROM bigbrotr.relays WHERE url LIKE '%elements.example%' AND url NOT LIKE 'wss://good-%'"))[0].n, 0);
  assert.match(logSince(mark), new RegExp(`source ${server.url('/bad-elements').replace(/[/.]/g, '\\$&')}: 8 array elements skipped \\(the first, element 1, is U\\+0000`),
    'logged once with the source URL, how many and the first reason');
});

test('a relay PostgreSQL refuses costs only itself, from a source and from the archive', async () => {
  await sql(`CREATE FUNCTION public.bb_test_refuse_relay() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.url LIKE 'wss://refused%' THEN RAISE EXCEPTION 'test trigger refuses %', NEW.url; END IF;
               RETURN NEW;
             END $$`);
  await sql(`CREATE TRIGGER bb_test_refuse_relay BEFORE INSERT ON bigbrotr.relays
             FOR EACH ROW EXECUTE FUNCTION public.bb_test_refuse_relay()`);
  try {
    const urls = Array.from({ length: 9 }, (_, i) => `wss://kept-${i}.refuse.example`);
    server.setJson('/refuse', [...urls.slice(0, 4), 'wss://refused.example', ...urls.slice(4)]);
    await onlySources(['/refuse']);
    const e = signed({ kind: 10002, tags: [['r', 'wss://refused-archive.example'], ['r', 'wss://kept-archive.refuse.example']] });
    await archive(e, 'wss://archive.example', Math.floor(Date.now() / 1000));
    const mark = logMark();
    const s = await runOneCycle();
    const st = s.last_cycle_stats;
    assert.equal(s.last_error, null, 'the cycle did not fail');
    assert.equal(st.relays_unstorable, 2, 'one from the source, one from the archive');
    assert.equal(st.relays_new, 9, 'the refused URL\'s 9 batch neighbours are stored');
    assert.equal(st.relays_new_from_events, 1);
    const kept = (await sql("SELECT count(*)::int AS n FROM bigbrotr.relays WHERE url LIKE 'wss://kept-%.refuse.example'"))[0].n;
    assert.equal(kept, 10);
    assert.equal(await queued(), 0, 'the archive page committed despite the refused row');
    const log = logSince(mark);
    assert.match(log, /relay wss:\/\/refused\.example could not be stored \(SQLSTATE P0001\): test trigger refuses wss:\/\/refused\.example/);
    assert.match(log, /relay wss:\/\/refused-archive\.example could not be stored \(SQLSTATE P0001\)/);
  } finally {
    await sql('DROP TRIGGER bb_test_refuse_relay ON bigbrotr.relays');
    await sql('DROP FUNCTION public.bb_test_refuse_relay()');
  }
});

test('an event stored late (its transaction open during a cycle) is read by a later cycle', async () => {
  await onlySources([]);
  const late = signed({ kind: 10002, tags: [['r', 'wss://late.queue.example']] });
  const early = signed({ kind: 10002, tags: [['r', 'wss://early.queue.example']] });
  const client = await connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `SELECT bigbrotr.insert_event(decode($1, 'hex'), decode($2, 'hex'), $3, $4, $5::jsonb, $6,
                                    decode($7, 'hex'), 'wss://archive.example', 'clearnet', 1, 1)`,
      [late.id, late.pubkey, late.created_at, late.kind, JSON.stringify(late.tags), late.content, late.sig]);
    await archive(early, 'wss://archive.example', Math.floor(Date.now() / 1000)); // queued after, committed before
    const s1 = await runOneCycle();
    assert.equal(s1.last_cycle_stats.events_scanned, 1, 'the committed event is read');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  const s2 = await runOneCycle();
  assert.equal(s2.last_cycle_stats.events_scanned, 1, 'the late one is read next cycle, not skipped');
  const urls = (await sql("SELECT url FROM bigbrotr.relays WHERE url LIKE '%.queue.example' ORDER BY url")).map((r) => r.url);
  assert.deepEqual(urls, ['wss://early.queue.example', 'wss://late.queue.example']);
});

// count events (half kind 3, half 10002) made in SQL, stored through insert_events: realistic
// contact lists and relay lists (20 relay URLs each, 40 p tags), URLs shared across events.
async function bulkArchive(tag, count) {
  for (let from = 0; from < count; from += 5000) {
    await sql(`
      SELECT bigbrotr.insert_events(array_agg(sha256(convert_to($1 || ':' || i, 'UTF8'))),
        array_agg(sha256(convert_to('pk' || (i % 997), 'UTF8'))), array_agg(1700000000::bigint + i),
        array_agg(CASE WHEN i % 2 = 0 THEN 3 ELSE 10002 END),
        array_agg((SELECT jsonb_agg(t) FROM (
            SELECT jsonb_build_array('p', encode(sha256(convert_to(i || '/' || j, 'UTF8')), 'hex')) t FROM generate_series(1, 40) j
            UNION ALL SELECT jsonb_build_array('r', format('wss://relay-%s.bulk.example', (i + j) % 3000), 'write')
                      FROM generate_series(1, 20) j WHERE i % 2 = 1) x)),
        array_agg(CASE WHEN i % 2 = 0 THEN (SELECT jsonb_object_agg(format('wss://relay-%s.bulk.example/', (i + j) % 3000),
                   '{"read": true, "write": true}'::jsonb) FROM generate_series(1, 20) j)::text ELSE '' END),
        array_agg(decode(repeat('22', 64), 'hex')), array_agg('wss://bulk.example'::text),
        array_agg('clearnet'::text), array_agg(1::bigint), array_agg(1::bigint + i))
      FROM generate_series($2::int, $3::int) i`, [tag, from, Math.min(count, from + 5000) - 1]);
  }
}

function planNodes(plan, out = []) {
  out.push(plan);
  for (const p of plan.Plans || []) planNodes(p, out);
  return out;
}

test('the archive page query stops at its LIMIT and a cycle\'s memory does not grow with the archive', async () => {
  await onlySources([]);
  await setConfig({ 'bigbrotr.finder_events_batch_size': 500 });
  await bulkArchive('small', 4000);
  const small = await cycleWithPeak();
  assert.equal(small.st.last_cycle_stats.events_scanned, 4000);

  await bulkArchive('large', 20000);
  // Each page is an index range of the queue, one key probe of events per row: no Sort, no Seq Scan of
  // the big tables, and the queue's scan stops at the LIMIT (custom and generic plans alike).
  const client = await connect();
  try {
    await client.query('ANALYZE bigbrotr.finder_queue; ANALYZE bigbrotr.events');
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`);
      await client.query('PREPARE page(bigint, int) AS SELECT * FROM bigbrotr.finder_archive_page($1, $2)');
      const [{ 'QUERY PLAN': [{ Plan: plan }] }] = (await client.query('EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page(0, 500)')).rows;
      await client.query('DEALLOCATE page');
      const nodes = planNodes(plan);
      const text = JSON.stringify(plan);
      assert.ok(!nodes.some((n) => n['Node Type'] === 'Sort'), `${mode}: no Sort: ${text}`);
      assert.ok(!nodes.some((n) => n['Node Type'] === 'Seq Scan' && ['finder_queue', 'events', 'events_relays'].includes(n['Relation Name'])),
        `${mode}: no Seq Scan of a big table: ${text}`);
      const queueScan = nodes.find((n) => n['Relation Name'] === 'finder_queue');
      assert.ok(queueScan && /Index/.test(queueScan['Node Type']), `${mode}: the queue is read through its index: ${text}`);
      assert.ok(queueScan['Actual Rows'] <= 500, `${mode}: the queue scan stops at the LIMIT (${queueScan['Actual Rows']} rows of 20000)`);
      assert.equal(plan['Actual Rows'], 500);
    }
  } finally {
    await client.end();
  }

  const large = await cycleWithPeak();
  assert.equal(large.st.last_cycle_stats.events_scanned, 20000);
  assert.equal(await queued(), 0);
  const mb = (b) => (b / 1048576).toFixed(1);
  console.log(`finder archive cycle peak RssAnon: ${mb(small.peak)} MB over 4000 events, ${mb(large.peak)} MB over 20000`);
  assert.ok(large.peak < small.peak * 1.5,
    `peak memory must not grow with the archive: ${mb(small.peak)} MB at 4000 events, ${mb(large.peak)} MB at 20000`);
  await setConfig({ 'bigbrotr.finder_events_batch_size': null });
});

test('a source of 300,000 URLs costs the worker a small multiple of its body', async () => {
  const count = 300000;
  const body = Buffer.from(JSON.stringify(Array.from({ length: count }, (_, i) => `wss://relay-${i}.big.example`)));
  server.setRoute('/big', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await onlySources(['/big']);
  await setConfig({ 'bigbrotr.finder_max_response_size': '16MB', 'bigbrotr.finder_batch_size': 2000 });
  try {
    const { st, peak } = await cycleWithPeak();
    assert.equal(st.last_error, null, 'the cycle did not fail');
    assert.equal(st.last_cycle_stats.urls_valid, count);
    assert.equal(st.last_cycle_stats.relays_new, count);
    const mb = (b) => (b / 1048576).toFixed(1);
    console.log(`finder source of ${count} URLs (${mb(body.length)} MB body): peak RssAnon ${mb(peak)} MB`);
    const bound = 6 * body.length + 32 * 1048576;
    assert.ok(peak < bound, `peak RssAnon ${mb(peak)} MB must stay under 6 x body + 32 MB = ${mb(bound)} MB`);
  } finally {
    await setConfig({ 'bigbrotr.finder_max_response_size': '1MB', 'bigbrotr.finder_batch_size': null });
    await sql("DELETE FROM bigbrotr.relays WHERE url LIKE '%.big.example'");
  }
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
