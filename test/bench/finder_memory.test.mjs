// finder_memory.test.mjs: a measurement, not a test (issue 10, items 6 and 8): the finder worker's peak
// memory in one cycle, A) an archive scan over FIG_EVENTS (50,000) stored kind-3 events, sources off;
// B) one loopback HTTP source of FIG_URLS (370,000) distinct relay URLs, archive scan off. Samples
// /proc/<pid>/status every ~50 ms and a memory context dump (pg_log_backend_memory_contexts) every ~2 s.
// Figures go to FIG_OUT (default /tmp/finder-memory.json). Run it (it takes the test lock, makes its own
// cluster) with:  BB_TEST_FILES=test/bench/finder_memory.test.mjs test/run.sh integration
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { sql, sleep, status, setConfig, freshExtension, logMark, logSince } from '../integration/lib/cluster.mjs';

const tree = fileURLToPath(import.meta.url).split('/').slice(-4)[0]; // the checkout's folder name
const OUT = process.env.FIG_OUT || '/tmp/finder-memory.json';
const results = fs.existsSync(OUT) ? JSON.parse(fs.readFileSync(OUT, 'utf8')) : {};
const save = () => fs.writeFileSync(OUT, JSON.stringify(results, null, 2));
const log = (k, v) => { results[k] = v; save(); };

const N_EVENTS = Number(process.env.FIG_EVENTS || 50000);
const N_URLS = Number(process.env.FIG_URLS || 370000);
const CAP_MS = 10 * 60 * 1000;

const mb = (b) => Math.round(b / 1048576 * 10) / 10;

function procStatus(pid) {
  try {
    const t = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const g = (k) => { const m = new RegExp(`${k}:\\s+(\\d+) kB`).exec(t); return m ? Number(m[1]) * 1024 : 0; };
    return { rssAnon: g('RssAnon'), vmHWM: g('VmHWM'), vmRSS: g('VmRSS'), rssShmem: g('RssShmem'), rssFile: g('RssFile') };
  } catch {
    return null;
  }
}

async function hasGuc(name) {
  return (await sql('SELECT 1 FROM pg_settings WHERE name = $1', [name])).length > 0;
}

async function stopFinder() {
  await sql("SELECT bigbrotr.bigbrotr_stop('finder')");
  for (let i = 0; i < 600; i++) {
    if (!(await status('finder')).running) return;
    await sleep(100);
  }
  throw new Error('finder did not stop');
}

// One cycle (stop/start runs one at once), sampled every ~50 ms; progress() is called on the cap.
async function measuredCycle(label, progress) {
  await stopFinder();
  const before = Number((await status('finder')).cycles_run);
  const mark = logMark();
  const t0 = Date.now();
  await sql("SELECT bigbrotr.bigbrotr_start('finder')");
  let pid = null;
  let peak = { rssAnon: 0 };
  let first = null;
  let last = null;
  let samples = 0;
  let lastDump = 0;
  let st = null;
  let capped = false;
  for (;;) {
    if (!pid) {
      const s = await status('finder');
      if (s.running && s.pid) pid = s.pid;
    }
    if (pid) {
      const p = procStatus(pid);
      if (p) {
        samples++;
        if (!first) first = { ...p, atMs: Date.now() - t0 };
        last = p;
        if (p.rssAnon > peak.rssAnon) peak = { ...p, atMs: Date.now() - t0 };
      }
      if (Date.now() - lastDump > 2000) {
        lastDump = Date.now();
        await sql('SELECT pg_log_backend_memory_contexts($1)', [pid]).catch(() => {});
      }
    }
    const s = await status('finder');
    if (Number(s.cycles_run) > before) { st = s; break; }
    if (Date.now() - t0 > CAP_MS) { capped = true; break; }
    await sleep(50);
  }
  const wallMs = Date.now() - t0;
  const p = pid && procStatus(pid);
  const hwmAtEnd = p ? p.vmHWM : null;
  let prog = null;
  if (capped && progress) prog = await progress();
  await stopFinder();
  // The context dumps of the worker, read back from the server log.
  await sleep(500);
  const text = logSince(mark);
  let grand = 0;
  let cycleCtx = 0;
  let dumps = 0;
  const maxCtx = {};
  for (const m of text.matchAll(new RegExp(`\\[${pid}\\] [^\\n]*LOG:  Grand total: (\\d+) bytes`, 'g'))) { grand = Math.max(grand, Number(m[1])); dumps++; }
  for (const m of text.matchAll(new RegExp(`\\[${pid}\\] [^\\n]*LOG:  level: (\\d+); ([^:\\n]+): (\\d+) total`, 'g'))) {
    maxCtx[m[2]] = Math.max(maxCtx[m[2]] || 0, Number(m[3]));
    if (m[2] === 'bigbrotr cycle') cycleCtx = Math.max(cycleCtx, Number(m[3]));
  }
  const top = Object.entries(maxCtx).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k}: ${mb(v)} MB`);
  const r = {
    tree, label, pid, capped, wallMs, samples,
    peakRssAnonMB: mb(peak.rssAnon), peakAtMs: peak.atMs,
    atPeak: { vmRSSMB: mb(peak.vmRSS || 0), rssShmemMB: mb(peak.rssShmem || 0), rssFileMB: mb(peak.rssFile || 0) },
    firstSample: first && { rssAnonMB: mb(first.rssAnon), atMs: first.atMs },
    lastSample: last && { rssAnonMB: mb(last.rssAnon) },
    vmHWMatEndMB: hwmAtEnd == null ? null : mb(hwmAtEnd),
    contextDumps: dumps, maxGrandTotalMB: mb(grand), maxCycleContextOwnMB: mb(cycleCtx), largestContexts: top,
    cycle: st && { cycles_failed: st.cycles_failed, last_error: st.last_error, duration: st.last_cycle_duration, stats: st.last_cycle_stats },
    progressAtCap: prog,
  };
  log(label, r);
  return r;
}

let server;
let body;

before(async () => {
  await freshExtension();
  await sql('DELETE FROM bigbrotr.finder_sources');
  const settings = { 'bigbrotr.allow_private_addresses': 'on', 'bigbrotr.log_level': 'warning' };
  if (await hasGuc('bigbrotr.finder_events_commit_lag')) settings['bigbrotr.finder_events_commit_lag'] = 0;
  await setConfig(settings);
  log('settings', Object.fromEntries((await sql("SELECT name, setting, unit FROM pg_settings WHERE name LIKE 'bigbrotr.finder%' OR name = 'bigbrotr.allow_private_addresses' ORDER BY name")).map((r) => [r.name, r.setting + (r.unit ? ' ' + r.unit : '')])));
});

after(async () => {
  await sql("SELECT bigbrotr.bigbrotr_stop('finder')").catch(() => {});
  await setConfig({ 'bigbrotr.finder_scan_events': null, 'bigbrotr.log_level': null }).catch(() => {});
  if (await hasGuc('bigbrotr.finder_events_commit_lag').catch(() => false)) await setConfig({ 'bigbrotr.finder_events_commit_lag': null }).catch(() => {});
  if (server) await new Promise((r) => { server.closeAllConnections?.(); server.close(r); });
});

// N kind-3 events, unique ids and pubkeys, 40 p tags, a contact-list content of 20 distinct relay URLs
// (a quarter ws://, the rest wss://, drawn from 3,000), stored through insert_events; sig is any 64 bytes.
async function bulkKind3(count) {
  for (let from = 0; from < count; from += 5000) {
    await sql(`
      SELECT bigbrotr.insert_events(array_agg(sha256(convert_to('fig-a:' || i, 'UTF8'))),
        array_agg(sha256(convert_to('fig-pk:' || i, 'UTF8'))), array_agg(1700000000::bigint + i),
        array_agg(3),
        array_agg((SELECT jsonb_agg(jsonb_build_array('p', encode(sha256(convert_to(i || '/' || j, 'UTF8')), 'hex')))
                   FROM generate_series(1, 40) j)),
        array_agg((SELECT jsonb_object_agg(format('%s://relay-%s.contacts.example/', CASE WHEN j % 4 = 0 THEN 'ws' ELSE 'wss' END, (i * 7 + j) % 3000),
                   '{"read": true, "write": true}'::jsonb) FROM generate_series(1, 20) j)::text),
        array_agg(decode(repeat('22', 64), 'hex')), array_agg('wss://bulk.example'::text),
        array_agg('clearnet'::text), array_agg(1::bigint), array_agg(1::bigint + i))
      FROM generate_series($1::int, $2::int) i`, [from, Math.min(count, from + 5000) - 1]);
  }
}

test('A: archive scan over 50,000 kind-3 events', async () => {
  await sql('DELETE FROM bigbrotr.finder_sources');
  await setConfig({ 'bigbrotr.finder_scan_events': 'on' });
  const t0 = Date.now();
  await bulkKind3(N_EVENTS);
  const [{ n, k3 }] = await sql("SELECT count(*)::int AS n, count(*) FILTER (WHERE kind = 3)::int AS k3 FROM bigbrotr.events");
  const hasQueue = (await sql("SELECT 1 FROM pg_tables WHERE schemaname = 'bigbrotr' AND tablename = 'finder_queue'")).length > 0;
  log('A_setup', { events: n, kind3: k3, insertMs: Date.now() - t0, hasQueue,
    queued: hasQueue ? (await sql('SELECT count(*)::int AS n FROM bigbrotr.finder_queue'))[0].n : null });
  const progress = async () => {
    if (hasQueue) return { queueLeft: (await sql('SELECT count(*)::int AS n FROM bigbrotr.finder_queue'))[0].n };
    const w = (await sql("SELECT state->'archive_watermark' AS w FROM bigbrotr.service_state WHERE service_name = 'finder'"))[0]?.w;
    return { watermark: w, eventsPastWatermark: w ? Number(w.seen_at) - 1 : 0,
      relays: (await sql("SELECT count(*)::int AS n FROM bigbrotr.relays WHERE url LIKE '%contacts.example%'"))[0].n };
  };
  const r = await measuredCycle('A', progress);
  r.relaysFound = (await sql("SELECT count(*)::int AS n FROM bigbrotr.relays WHERE url LIKE '%contacts.example%'"))[0].n;
  log('A', r);
  assert.ok(r.samples > 0);
});

test('B: one HTTP source of 370,000 relay URLs', async () => {
  await setConfig({ 'bigbrotr.finder_scan_events': 'off' });
  body = Buffer.from(JSON.stringify(Array.from({ length: N_URLS }, (_, i) => `wss://relay${i}.nos.lol`)));
  const cap = Number((await sql("SELECT setting FROM pg_settings WHERE name = 'bigbrotr.finder_max_response_size'"))[0].setting);
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/big`;
  await sql('DELETE FROM bigbrotr.finder_sources');
  await sql('INSERT INTO bigbrotr.finder_sources (url) VALUES ($1)', [url]);
  log('B_setup', { urls: N_URLS, bodyBytes: body.length, capBytes: cap, fits: body.length <= cap });
  const r = await measuredCycle('B');
  r.relaysStored = (await sql("SELECT count(*)::int AS n FROM bigbrotr.relays WHERE url LIKE '%.nos.lol'"))[0].n;
  log('B', r);
  assert.ok(r.samples > 0);
});
