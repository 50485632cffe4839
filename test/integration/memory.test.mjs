// memory.test.mjs: the memory of the launcher and of each looping service stays flat across many
// cycles, and the monitor's does not grow with the number of relays due. Each process is sampled with
// pg_log_backend_memory_contexts(pid), whose "Grand total: ... N used" line (the bytes its memory
// contexts hold) is read back from the server log, and with RssAnon from /proc/<pid>/status. Services
// are sampled between two cycles (status says the cycle ended, and no next one started around the
// sample). bigbrotr.debug_interval_ms makes the services cycle (and the launcher loop) every few
// hundred milliseconds so that one process runs dozens of cycles; every input is real and on loopback
// (an HTTP source and archived events for the finder, relays that answer or refuse for the monitor, the
// npm relay for the synchronizer). The initializer is one-shot: it runs one cycle and exits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { env, sql, sleep, status, waitFor, setConfig, freshExtension, workerPids } from './lib/cluster.mjs';
import { signed, archive } from './lib/events.mjs';
import { startSourceServer } from '../fixtures/http_sources.mjs';
import { startMisbehavingRelays } from '../fixtures/misbehaving_relays.mjs';
import { startRealRelay } from '../fixtures/real_relay.mjs';
import { scaledSeconds } from './lib/slowness.mjs';

const WARMUP_CYCLES = 5;
const MEASURED_CYCLES = 30;
const MAX_GROWTH_PER_CYCLE = 1024; // bytes of memory context per cycle
const INTERVAL_MS = 150;
const SERVICES = ['finder', 'monitor', 'synchronizer'];

let source;
let bad;
let real;

// The server log, read from an offset (it grows to many MB; re-reading all of it per poll is slow).
const logFile = () => path.join(env.pgdata, 'server.log');
const logSize = () => fs.statSync(logFile()).size;
function logFrom(offset) {
  const fd = fs.openSync(logFile(), 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(size - offset, 0));
    fs.readSync(fd, buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function rssAnon(pid) {
  const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

// One memory dump of the process: the bytes its memory contexts hold (total, used) and RssAnon.
async function memoryOf(pid) {
  const mark = logSize();
  const [{ ok }] = await sql('SELECT pg_log_backend_memory_contexts($1) AS ok', [pid]);
  assert.equal(ok, true, `pid ${pid} is a backend`);
  const re = new RegExp(`\\[${pid}\\] [^\\n]*LOG:  Grand total: (\\d+) bytes in (\\d+) blocks; (\\d+) free \\((\\d+) chunks\\); (\\d+) used\\n`);
  let text;
  const m = await waitFor(`the memory dump of pid ${pid}`, async () => re.exec(text = logFrom(mark)), { intervalMs: 20 });
  // The contexts of the first two levels, summed by name: which one grew, when one does.
  const contexts = {};
  const line = new RegExp(`\\[${pid}\\] [^\\n]*LOG:  level: ([12]); ([^:\\n]+): \\d+ total in \\d+ blocks; \\d+ free \\(\\d+ chunks\\); (\\d+) used`, 'g');
  for (const c of text.slice(0, m.index).matchAll(line)) contexts[c[2]] = (contexts[c[2]] || 0) + Number(c[3]);
  return { total: Number(m[1]), used: Number(m[5]), rss: rssAnon(pid), contexts };
}

// The contexts that grew most between two dumps, for the figures.
function grown(a, b) {
  return Object.keys(b.contexts).map((k) => [k, b.contexts[k] - (a.contexts[k] || 0)]).filter(([, d]) => d > 0)
    .sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k, d]) => `${k} +${d}`).join(', ') || 'none';
}

// A sample taken while the service waits between two cycles.
async function betweenCycles(name) {
  for (;;) {
    const s1 = await status(name);
    if (s1.last_cycle_end && s1.last_cycle_start && s1.last_cycle_end >= s1.last_cycle_start) {
      const m = await memoryOf(s1.pid);
      const s2 = await status(name);
      if (s2.pid === s1.pid && +s2.last_cycle_start === +s1.last_cycle_start)
        return { ...m, cycles: Number(s1.cycles_run), pid: s1.pid };
    }
    await sleep(5);
  }
}

// The figures: printed, and appended to $BB_MEMORY_FIGURES when set (run.sh shows only failures).
function figure(line) {
  console.log(`# ${line}`);
  if (process.env.BB_MEMORY_FIGURES) fs.appendFileSync(process.env.BB_MEMORY_FIGURES, `${line}\n`);
}

const cycles = async (name) => Number((await status(name))?.cycles_run ?? 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

before(async () => {
  await freshExtension();
  // finder: one HTTP source of a few relays, and archived kind 10002 events, one more each cycle
  source = await startSourceServer();
  source.setJson('/list', ['wss://relay.one.example', 'wss://relay.two.example', 'ws://relay.three.example:8080']);
  await sql('DELETE FROM bigbrotr.finder_sources');
  await sql('INSERT INTO bigbrotr.finder_sources (url) VALUES ($1)', [source.url('/list')]);
  // monitor: relays that answer (NIP-11, open, read) and one that refuses
  bad = await startMisbehavingRelays();
  await sql('SELECT bigbrotr.insert_relays($1::text[], $2::text[], $3::bigint[])',
    [[bad.url('/good/a'), bad.url('/event/b'), bad.refusedUrl], ['clearnet', 'clearnet', 'clearnet'], [1, 1, 1]]);
  // synchronizer: the npm relay with a few hundred events, forced in by an override
  real = await startRealRelay();
  const now = Math.floor(Date.now() / 1000);
  await real.load(Array.from({ length: 200 }, (_, i) => signed({ content: `memory ${i}`, created_at: now - 3600 + i })));
  await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url, enabled) VALUES ($1, true)', [real.url]);
  // the monitor finds the misbehaving relays readable: keep them out of the synchronizer, whose cycles
  // would then last a request timeout each (they never answer a COUNT probe)
  await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url, enabled) SELECT unnest($1::text[]), false',
    [[bad.url('/good/a'), bad.url('/event/b'), bad.refusedUrl]]);
  await setConfig({
    'bigbrotr.finder_delay_between_requests': 0,
    'bigbrotr.monitor_min_age_since_check': 0,
    'bigbrotr.monitor_timeout': `${scaledSeconds(3)}s`,
    'bigbrotr.synchronizer_stagger_delay': 0,
    'bigbrotr.synchronizer_max_processes': 1,
    'bigbrotr.synchronizer_request_timeout': scaledSeconds(10),
    'bigbrotr.synchronizer_negentropy': 'off', // these fixtures do not speak NIP-77: the window algorithm's tests
    'bigbrotr.log_level': 'warning',
  });
});

after(async () => {
  // the servers first: a failing statement below must not leave them holding the test process open
  await source?.close?.();
  await bad?.close();
  await real?.close();
  await sql('UPDATE bigbrotr.service_control SET enabled = false').catch(() => {});
  await setConfig({
    'bigbrotr.debug_interval_ms': null, 'bigbrotr.finder_delay_between_requests': null,
    'bigbrotr.monitor_min_age_since_check': null,
    'bigbrotr.monitor_timeout': null, 'bigbrotr.synchronizer_stagger_delay': null,
    'bigbrotr.synchronizer_max_processes': null, 'bigbrotr.synchronizer_request_timeout': null, 'bigbrotr.synchronizer_negentropy': null,
    'bigbrotr.log_level': null, 'bigbrotr.monitor_max_parallel': null, 'bigbrotr.monitor_page_size': null,
  });
});

test('the launcher and every looping service keep their memory flat across many cycles', async () => {
  await setConfig({ 'bigbrotr.debug_interval_ms': INTERVAL_MS });
  for (const name of SERVICES) await sql('SELECT bigbrotr.bigbrotr_start($1)', [name]);
  const launcher = await waitFor('the launcher', async () => (await workerPids('launcher'))[0]);
  const feed = setInterval(() => {
    archive(signed({ kind: 10002, tags: [['r', `ws://127.0.0.1:9/fed${Date.now()}`]] }), 'wss://seen.example', Math.floor(Date.now() / 1000)).catch(() => {});
  }, 500);
  try {
    for (const name of SERVICES)
      await waitFor(`${name}: ${WARMUP_CYCLES} cycles`, async () => (await cycles(name)) >= WARMUP_CYCLES, { timeoutMs: 120000 });
    // Two windows of MEASURED_CYCLES each: a leak grows in both; a one-off (a plan prepared the first
    // time a later cycle takes some path) in one only. The smaller growth must be below the bound.
    const samples = [{}, {}, {}];
    const launcherSamples = [];
    const launcherTimes = [];
    for (let w = 0; w < 3; w++) {
      if (w > 0)
        for (const name of SERVICES)
          await waitFor(`${name}: ${MEASURED_CYCLES} more cycles`, async () => (await cycles(name)) >= samples[w - 1][name].cycles + MEASURED_CYCLES,
            { timeoutMs: 300000, intervalMs: 500 });
      for (const name of SERVICES) samples[w][name] = await betweenCycles(name);
      launcherSamples.push(await memoryOf(launcher));
      launcherTimes.push(Date.now());
    }

    const failures = [];
    for (const name of SERVICES) {
      const growth = [];
      for (let w = 1; w < 3; w++) {
        const a = samples[w - 1][name];
        const b = samples[w][name];
        assert.equal(b.pid, a.pid, `${name}: the same worker throughout`);
        const n = b.cycles - a.cycles;
        const perCycle = (b.used - a.used) / n;
        growth.push({ n, perCycle, rss: b.rss - a.rss });
        figure(`${name}, window ${w}: ${n} cycles, contexts used ${a.used} -> ${b.used} bytes (${perCycle.toFixed(0)} B/cycle), ` +
          `total ${kb(a.total)} -> ${kb(b.total)}, RssAnon ${kb(a.rss)} -> ${kb(b.rss)}; grew most: ${grown(a, b)}`);
      }
      const least = growth.reduce((x, y) => (x.perCycle <= y.perCycle ? x : y));
      if (least.perCycle >= MAX_GROWTH_PER_CYCLE) failures.push(`${name} grew ${least.perCycle.toFixed(0)} bytes per cycle over ${least.n} cycles`);
      // RssAnon moves by whole pages and with malloc's arenas: a loose second signal.
      if (growth.every((g) => g.rss > 64 * 1024 * g.n)) failures.push(`${name}: RssAnon grew more than 64 KB per cycle`);
    }
    const launcherGrowth = [];
    for (let w = 1; w < 3; w++) {
      const a = launcherSamples[w - 1];
      const b = launcherSamples[w];
      const loops = Math.floor((launcherTimes[w] - launcherTimes[w - 1]) / INTERVAL_MS); // at most this many
      launcherGrowth.push({ loops, bytes: b.used - a.used });
      figure(`launcher, window ${w}: about ${loops} loops, contexts used ${a.used} -> ${b.used} bytes, ` +
        `total ${kb(a.total)} -> ${kb(b.total)}, RssAnon ${kb(a.rss)} -> ${kb(b.rss)}; grew most: ${grown(a, b)}`);
    }
    // The launcher reads the services' rows on every loop: flat means no more than a stray chunk.
    const launcherLeast = launcherGrowth.reduce((x, y) => (x.bytes <= y.bytes ? x : y));
    if (launcherLeast.bytes >= 2048)
      failures.push(`the launcher grew ${launcherLeast.bytes} bytes over about ${launcherLeast.loops} loops`);
    assert.deepEqual(failures, []);
  } finally {
    clearInterval(feed);
    for (const name of SERVICES) await sql('SELECT bigbrotr.bigbrotr_stop($1)', [name]);
    await setConfig({ 'bigbrotr.debug_interval_ms': null });
    await waitFor('services stopped', async () => {
      for (const name of SERVICES) if ((await workerPids(name)).length) return false;
      return (await workerPids('synchronizer worker')).length === 0;
    }, { timeoutMs: 30000 });
  }
});

// One monitor cycle over the relays in bigbrotr.relays; the memory peak seen while it ran.
async function monitorPeak(expected) {
  const before = await cycles('monitor');
  await sql("SELECT bigbrotr.bigbrotr_start('monitor')");
  const pid = await waitFor('the monitor worker', async () => (await workerPids('monitor'))[0]);
  let peak = { total: 0, used: 0, rss: 0 };
  let samples = 0;
  while ((await cycles('monitor')) === before) {
    let m;
    try {
      m = await memoryOf(pid);
    } catch (e) {
      break; // the worker ended
    }
    samples++;
    await sleep(30); // a dump costs the worker some time: let the cycle run
    peak = { total: Math.max(peak.total, m.total), used: Math.max(peak.used, m.used), rss: Math.max(peak.rss, m.rss) };
  }
  const st = await waitFor('the monitor cycle', async () => {
    const s = await status('monitor');
    return Number(s.cycles_run) > before ? s : null;
  }, { timeoutMs: 300000 });
  await sql("SELECT bigbrotr.bigbrotr_stop('monitor')");
  await waitFor('monitor stopped', async () => (await workerPids('monitor')).length === 0, { timeoutMs: 15000 });
  assert.equal(Number(st.cycles_failed), 0, st.last_error || '');
  assert.equal(st.last_cycle_stats.relays_due, expected);
  assert.equal(st.last_cycle_stats.relays_checked, expected, 'every due relay is checked');
  assert.equal(st.last_cycle_stats.snapshots_written, expected, 'and stored');
  const cs = st.last_cycle_stats;
  return { ...peak, samples, wall: `${cs.cycle_wall_ms} ms wall, ${cs.cycle_cpu_ms} ms CPU, ${cs.due_pages ?? '-'} pages read in ${cs.due_query_ms ?? '-'} ms` };
}

async function dueRelays(n) {
  // One in ten answers (NIP-11, open, read) on the fixture server, the others are refused at once.
  await sql('DELETE FROM bigbrotr.relay_metadata');
  await sql('DELETE FROM bigbrotr.relays');
  await sql(`SELECT bigbrotr.insert_relays(array_agg(u), array_agg('clearnet'::text), array_agg(1::bigint))
             FROM (SELECT CASE WHEN i % 10 = 0 THEN $2 || '/good/' || i ELSE $3 || '/r' || i END AS u
                   FROM generate_series(1, $1::int) i) s`, [n, bad.url(''), bad.refusedUrl]);
}

test('the monitor\'s memory does not grow with the number of relays due (500 vs 5,000)', async () => {
  await sql('UPDATE bigbrotr.service_control SET enabled = false');
  await setConfig({ 'bigbrotr.monitor_max_parallel': 50, 'bigbrotr.monitor_page_size': 100 });
  // Several cycles at each size so that each is sampled often while it runs.
  const peaks = {};
  for (const n of [500, 5000]) {
    await dueRelays(n);
    let p = { total: 0, used: 0, rss: 0, samples: 0 };
    while (p.samples < 8) {
      const q = await monitorPeak(n);
      p = { total: Math.max(p.total, q.total), used: Math.max(p.used, q.used), rss: Math.max(p.rss, q.rss), samples: p.samples + q.samples, wall: q.wall };
    }
    peaks[n] = p;
    figure(`monitor, ${n} relays due: peak contexts ${kb(p.used)} used, ${kb(p.total)} total, RssAnon ${kb(p.rss)} ` +
      `(${p.samples} samples; last cycle ${p.wall})`);
  }
  const ratio = peaks[5000].total / peaks[500].total;
  figure(`monitor peak ratio 5,000 / 500 relays: contexts ${ratio.toFixed(2)}, RssAnon ${(peaks[5000].rss / peaks[500].rss).toFixed(2)}`);
  assert.ok(ratio < 1.3, `ten times the relays may not make the monitor's memory grow (ratio ${ratio.toFixed(2)})`);
});
