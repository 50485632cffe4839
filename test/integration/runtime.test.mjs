// runtime.test.mjs: the service runtime on a live cluster: start, status, a second start, kill -9 of
// a worker, a server restart, SIGTERM, SIGHUP reload, stop; and the one-shot initializer seeding a
// file with good, bad, duplicate and private lines, and reading bounded files that never end
// (/dev/zero, one endless line, a FIFO nobody writes to) that it must finish or stop on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  sql, connect, status, waitFor, setConfig, restartServer, freshExtension, workerPids, writeWorkFile,
  logMark, logSince, sleep, env,
} from './lib/cluster.mjs';
import { scaled } from './lib/slowness.mjs';

// A measured figure: printed, and appended to $BB_FIGURES_FILE when set (run.sh shows only results).
function figure(line) {
  console.log(`# ${line}`);
  if (process.env.BB_FIGURES_FILE) fs.appendFileSync(process.env.BB_FIGURES_FILE, `${line}\n`);
}

const running = async (name) => {
  const s = await status(name);
  return s.running ? s : null;
};

before(async () => {
  await freshExtension();
  // The finder is the continuous service under test; with no sources and no events its cycles are
  // quick and harmless.
  await sql('DELETE FROM bigbrotr.finder_sources');
  await setConfig({ 'bigbrotr.finder_interval': 60, 'bigbrotr.log_level': 'info' });
});

after(async () => {
  await sql("UPDATE bigbrotr.service_control SET enabled = false").catch(() => {});
  await setConfig({ 'bigbrotr.log_level': null, 'bigbrotr.finder_interval': null, 'bigbrotr.initializer_seed_file': null });
  await setConfig({ 'bigbrotr.initializer_seed_max_size': null }).catch(() => {});
});

test('a started service runs as a background worker and reports its cycles', async () => {
  const [{ bigbrotr_start: started }] = await sql("SELECT bigbrotr.bigbrotr_start('finder')");
  assert.equal(started, true);
  const s = await waitFor('finder running with a cycle done', async () => {
    const st = await status('finder');
    return st.running && Number(st.cycles_run) >= 1 ? st : null;
  });
  assert.ok(s.pid > 0);
  assert.ok(s.started_at instanceof Date);
  assert.ok(s.last_cycle_end >= s.last_cycle_start);
  assert.equal(Number(s.cycles_failed), 0);
  assert.equal((await workerPids('finder')).length, 1, 'exactly one worker for the service');
});

test('starting a running service is a no-op with a notice', async () => {
  const client = await connect();
  const notices = [];
  client.on('notice', (n) => notices.push(n.message));
  const { rows } = await client.query("SELECT bigbrotr.bigbrotr_start('finder') AS r");
  await client.end();
  assert.equal(rows[0].r, false);
  assert.match(notices.join('\n'), /already started/);
  assert.equal((await workerPids('finder')).length, 1);
});

test('an unknown service name is a clear error listing the known ones', async () => {
  await assert.rejects(sql("SELECT bigbrotr.bigbrotr_start('monitr')"), (e) => {
    assert.match(e.message, /unknown bigbrotr service "monitr"/);
    assert.match(e.detail, /Known services: .*finder/);
    return true;
  });
});

test('a worker killed with SIGKILL comes back', async () => {
  const before = (await status('finder')).pid;
  process.kill(before, 'SIGKILL');
  const s = await waitFor('finder back after kill -9', async () => {
    const st = await running('finder');
    return st && st.pid !== before ? st : null;
  }, { timeoutMs: 60000 });
  assert.notEqual(s.pid, before);
});

test('started services come back after a server restart', async () => {
  const before = (await status('finder')).pid;
  await restartServer();
  const s = await waitFor('finder back after restart', async () => {
    const st = await running('finder');
    return st && st.pid !== before ? st : null;
  }, { timeoutMs: 60000 });
  assert.ok(s.pid > 0);
});

test('SIGHUP makes the worker re-read its settings', async () => {
  await waitFor('finder running', () => running('finder'));
  const mark = logMark();
  await setConfig({ 'bigbrotr.log_level': 'debug' });
  await waitFor('reload logged by the finder', async () => /bigbrotr finder: configuration reloaded/.test(logSince(mark)));
  await setConfig({ 'bigbrotr.log_level': 'info' });
});

test('SIGTERM stops a worker within 5 seconds (and the launcher restarts a wanted service)', async () => {
  const pid = (await waitFor('finder running', () => running('finder'))).pid;
  process.kill(pid, 'SIGTERM');
  const t0 = Date.now();
  while (Date.now() - t0 < scaled(5000)) {
    try { process.kill(pid, 0); } catch { break; }
    await sleep(50);
  }
  assert.throws(() => process.kill(pid, 0), `the worker exited within ${scaled(5000)} ms`);
  const s = await waitFor('finder restarted', async () => {
    const st = await running('finder');
    return st && st.pid !== pid ? st : null;
  }, { timeoutMs: 30000 });
  assert.ok(s.pid > 0);
});

test('bigbrotr_stop stops the service and it stays stopped', async () => {
  const [{ bigbrotr_stop: stopped }] = await sql("SELECT bigbrotr.bigbrotr_stop('finder')");
  assert.equal(stopped, true);
  await waitFor('finder stopped', async () => (await workerPids('finder')).length === 0, { timeoutMs: 10000 });
  await sleep(scaled(7000)); // longer than the launcher's restart delay (5 s), even on a slow machine
  assert.equal((await workerPids('finder')).length, 0);
  const s = await status('finder');
  assert.equal(s.enabled, false);
  assert.equal(s.running, false);
});

test('the initializer verifies the install and seeds good, bad and duplicate lines', async () => {
  const file = writeWorkFile('seeds.txt', [
    '# comment line',
    '',
    'wss://relay.example.com',
    'WSS://Relay.Example.COM/',          // duplicate after normalization
    'wss://relay.example.com:443',       // duplicate: default port dropped
    '  ws://plain.example.org:8080/path/  ',
    'https://not-a-relay.example',        // wrong scheme
    'wss://',                             // no host
    'not a url at all',
    'wss://user:pw@auth.example',         // userinfo refused
    'ws://oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion',
    'wss://relay.example.com',            // plain duplicate
    'wss://127.0.0.1:7777',               // loopback: accepted because the tests allow private addresses
  ].join('\n') + '\n');
  await setConfig({ 'bigbrotr.initializer_seed_file': file });
  const mark = logMark();
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  const s = await waitFor('initializer done', async () => {
    const st = await status('initializer');
    return Number(st.cycles_run) >= 1 && !st.running && !st.enabled ? st : null;
  }, { timeoutMs: 30000 });
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');

  const relays = await sql('SELECT url, network FROM bigbrotr.relays ORDER BY url');
  assert.deepEqual(relays, [
    { url: 'ws://oxtrdevav64z64yb7x6rjg4ntzqjhedm5b5zjqulugknhzr46ny2qbad.onion', network: 'tor' },
    { url: 'ws://plain.example.org:8080/path', network: 'clearnet' },
    { url: 'wss://127.0.0.1:7777', network: 'clearnet' },
    { url: 'wss://relay.example.com', network: 'clearnet' },
  ]);
  const stats = s.last_cycle_stats;
  assert.equal(stats.objects_missing, 0);
  assert.equal(stats.lines_read, 11);
  assert.equal(stats.relays_valid, 4);
  assert.equal(stats.lines_duplicate, 3);
  assert.equal(stats.lines_invalid, 4);
  assert.equal(stats.relays_new, 4);
  const log = logSince(mark);
  assert.match(log, /line 7: invalid relay URL "https:\/\/not-a-relay.example"/);
  assert.match(log, /line 10: invalid relay URL "wss:\/\/user:pw@auth.example"/);

  // A second run changes nothing: duplicates are harmless.
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  const s2 = await waitFor('second initializer run', async () => {
    const st = await status('initializer');
    return Number(st.cycles_run) >= 2 && !st.running ? st : null;
  }, { timeoutMs: 30000 });
  assert.equal(s2.last_cycle_stats.relays_new, 0);
  assert.equal((await sql('SELECT count(*)::int AS n FROM bigbrotr.relays'))[0].n, 4);
});

test('with private addresses refused, the initializer skips loopback seeds', async () => {
  await sql('DELETE FROM bigbrotr.relays');
  await setConfig({ 'bigbrotr.allow_private_addresses': 'off' });
  try {
    const before = Number((await status('initializer')).cycles_run);
    await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
    const s = await waitFor('initializer run', async () => {
      const st = await status('initializer');
      return Number(st.cycles_run) > before && !st.running ? st : null;
    }, { timeoutMs: 30000 });
    assert.equal(s.last_cycle_stats.lines_private_refused, 1);
    const urls = (await sql('SELECT url FROM bigbrotr.relays')).map((r) => r.url);
    assert.ok(!urls.includes('wss://127.0.0.1:7777'));
  } finally {
    await setConfig({ 'bigbrotr.allow_private_addresses': 'on' });
  }
});

// ---- the initializer on files that never end ----

// Runs the initializer once on `file` and returns its status after the run.
async function seedOnce(file, { timeoutMs = 30000 } = {}) {
  await setConfig({ 'bigbrotr.initializer_seed_file': file });
  const before = Number((await status('initializer')).cycles_run);
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  return waitFor('initializer run', async () => {
    const st = await status('initializer');
    return Number(st.cycles_run) > before && !st.running ? st : null;
  }, { timeoutMs });
}

// Starts the initializer on `file`, lets it read for a while, stops it: the worker must be gone
// within a few seconds.
async function stopWhileReading(file) {
  await setConfig({ 'bigbrotr.initializer_seed_file': file });
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  const pid = (await waitFor('initializer reading', () => running('initializer'))).pid;
  await sleep(1500);
  assert.ok((await workerPids('initializer')).includes(pid), 'still reading before the stop');
  const t0 = Date.now();
  await sql("SELECT bigbrotr.bigbrotr_stop('initializer')");
  try {
    await waitFor('initializer gone after bigbrotr_stop', async () => (await workerPids('initializer')).length === 0,
      { timeoutMs: 20000, intervalMs: 100 });
  } catch (e) {
    process.kill(pid, 'SIGKILL'); // a worker that cannot be stopped must not outlive the test
    await waitFor('the server back after the crash restart', async () => (await sql('SELECT 1 AS ok', [], 'postgres'))[0].ok === 1);
    throw e;
  }
  const took = Date.now() - t0;
  figure(`initializer on ${file} stopped ${took} ms after bigbrotr_stop`);
  assert.ok(took < scaled(5000), `stopped in ${took} ms (bound ${scaled(5000)} ms)`);
}

test('the initializer on /dev/zero: one overlong line, the read capped, the run finishes', async () => {
  await sql('DELETE FROM bigbrotr.relays');
  await setConfig({ 'bigbrotr.initializer_seed_max_size': '8MB' });
  const mark = logMark();
  const s = await seedOnce('/dev/zero');
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(s.last_cycle_stats.seed_truncated, 1);
  assert.equal(s.last_cycle_stats.lines_invalid, 1, 'the endless line counts once');
  assert.equal(s.last_cycle_stats.relays_valid ?? 0, 0);
  assert.match(logSince(mark), /seed file \/dev\/zero: stopped after 8388608 bytes \(bigbrotr.initializer_seed_max_size\)/);
});

test('an endless first line is skipped to its newline; the valid lines after it are seeded', async () => {
  await sql('DELETE FROM bigbrotr.relays');
  await setConfig({ 'bigbrotr.initializer_seed_max_size': null }).catch(() => {});
  const file = path.join(env.work, 'seeds-long-line.txt');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(1 << 20, 'x');
  for (let i = 0; i < 20; i++) fs.writeSync(fd, block); // 20 MB without a newline
  fs.writeSync(fd, '\nwss://after-long.example.com\n# comment\nwss://second.example.org\nwss://last-no-newline.example.net');
  fs.closeSync(fd);
  fs.chmodSync(file, 0o644);
  const mark = logMark();
  const s = await seedOnce(file);
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(s.last_cycle_stats.lines_invalid, 1);
  assert.equal(s.last_cycle_stats.relays_valid, 3);
  assert.equal(s.last_cycle_stats.seed_truncated ?? 0, 0);
  const urls = (await sql('SELECT url FROM bigbrotr.relays ORDER BY url')).map((r) => r.url);
  assert.deepEqual(urls, ['wss://after-long.example.com', 'wss://last-no-newline.example.net', 'wss://second.example.org']);
  assert.match(logSince(mark), /line 1: line longer than 4095 bytes, skipped/);
});

test('bigbrotr_stop stops the initializer reading an endless /dev/zero', async () => {
  // kB: practically endless (a server without the setting reads /dev/zero endlessly anyway)
  await setConfig({ 'bigbrotr.initializer_seed_max_size': String(2147483647) }).catch(() => {});
  try {
    await stopWhileReading('/dev/zero');
  } finally {
    await setConfig({ 'bigbrotr.initializer_seed_max_size': null }).catch(() => {});
  }
});

test('bigbrotr_stop stops the initializer waiting on a FIFO nobody writes to', async () => {
  const fifo = path.join(env.work, 'seeds.fifo');
  fs.rmSync(fifo, { force: true });
  execFileSync('mkfifo', ['-m', '0666', fifo]);
  fs.chmodSync(fifo, 0o666);
  // Held open for writing (O_RDWR does not wait for a reader) and never written to.
  const writer = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  try {
    await stopWhileReading(fifo);
  } finally {
    fs.closeSync(writer);
  }
});

test('the initializer fails clearly when an object is missing', async () => {
  // The view belongs to the extension: detach it first, as a careless DBA's script might.
  await sql('ALTER EXTENSION bigbrotr DROP VIEW bigbrotr.relay_metadata_latest');
  await sql('DROP VIEW bigbrotr.relay_metadata_latest');
  // And a 0.4.0 procedure the api needs (the list knows the api's objects too).
  await sql('ALTER EXTENSION bigbrotr DROP FUNCTION bigbrotr.api_stats_fold()');
  await sql('DROP FUNCTION bigbrotr.api_stats_fold()');
  const before = Number((await status('initializer')).cycles_failed);
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  const s = await waitFor('initializer failed run', async () => {
    const st = await status('initializer');
    return Number(st.cycles_failed) > before && !st.running ? st : null;
  }, { timeoutMs: 30000 });
  assert.match(s.last_error, /installation is incomplete: 2 required objects are missing/);
  assert.equal(s.enabled, false, 'a one-shot service is not retried after a failed run');
});
