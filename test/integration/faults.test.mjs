// faults.test.mjs: faults and stops are bounded, wherever the workers are. kill -9 of the postmaster
// mid-sync: every process of the cluster exits within seconds, pg_ctl start succeeds at once and
// nothing committed is lost (no gap under the cursor). Workers blocked in SQL (a lock a test
// connection or a prepared transaction holds far longer than the bound) stop within seconds, by
// bigbrotr_stop (through the launcher's handle, and through shared memory after the launcher was
// restarted) and by pg_ctl stop -m fast. A bigbrotr.database that is not UTF8 is refused by the
// launcher with one clear error, not a restart storm.
import { test, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  sql, connect, env, pgctl, status, waitFor, setConfig, restartServer, freshExtension, workerPids, logMark,
  logSince, sleep,
} from './lib/cluster.mjs';
import { cachedEvents } from './lib/sync_events.mjs';
import { startSyncRelay } from '../fixtures/sync_relays.mjs';
import { scaled, scaledSeconds } from './lib/slowness.mjs';

// A measured figure: printed, and appended to $BB_FIGURES_FILE when set (run.sh shows only results).
function figure(line) {
  console.log(`# ${line}`);
  if (process.env.BB_FIGURES_FILE) fs.appendFileSync(process.env.BB_FIGURES_FILE, `${line}\n`);
}

const DAY = 86400;
const END = Math.floor(Date.now() / 1000 / DAY) * DAY - 3600;
const relays = [];
const logFile = path.join(env.pgdata, 'server.log');

const postmasterPid = () => Number(fs.readFileSync(path.join(env.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);

// /proc/<pid>/stat: [state, ppid]; null once the process is gone.
function procStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

const gone = (pid) => { const st = procStat(pid); return st === null || st.state === 'Z' || st.state === 'X'; };

// Every child of the postmaster with its title (the bigbrotr workers, the backends, the checkpointer...).
function childrenOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || procStat(Number(d))?.ppid !== ppid) continue;
    let title = '';
    try { title = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { /* gone */ }
    out.push({ pid: Number(d), title });
  }
  return out;
}

async function serverUp() {
  try {
    return (await sql('SELECT 1 AS ok', [], 'postgres'))[0].ok === 1;
  } catch {
    return false;
  }
}

// Starts the server when it is down (after a kill -9 of the postmaster), waiting for stragglers.
async function ensureServer() {
  if (await serverUp()) return;
  await waitFor('the server started', async () => {
    try { pgctl('-w', '-t', String(scaledSeconds(30)), 'start', '-l', logFile); } catch { /* retried */ }
    return serverUp();
  }, { timeoutMs: 120000, intervalMs: 1000 });
}

// pg_ctl stop -m fast, timed. When it cannot finish (a worker ignores the shutdown), the bigbrotr
// processes are killed so that the shutdown completes and the next tests find a server.
function timedFastStop() {
  const pm = postmasterPid();
  const t0 = Date.now();
  try {
    pgctl('-m', 'fast', '-w', '-t', String(scaledSeconds(30)), 'stop');
  } catch (e) {
    for (const c of childrenOf(pm)) if (/bigbrotr/.test(c.title)) process.kill(c.pid, 'SIGKILL');
    return { took: Date.now() - t0, error: e.message };
  }
  return { took: Date.now() - t0, error: null };
}

async function waitingForLock(backendType) {
  return (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity
                      WHERE backend_type = $1 AND wait_event_type = 'Lock'`, [backendType]))[0].n > 0;
}

const pidsOf = async (pattern) => (await sql('SELECT pid FROM pg_stat_activity WHERE backend_type LIKE $1', [pattern]))
  .map((r) => r.pid);

before(async () => {
  await freshExtension();
  await sql('DELETE FROM bigbrotr.finder_sources');
  await setConfig({
    'bigbrotr.log_level': 'info',
    'bigbrotr.finder_interval': 60,
    'bigbrotr.synchronizer_stagger_delay': 0,
    'bigbrotr.synchronizer_max_processes': 1,
    'bigbrotr.synchronizer_max_parallel': 2,
    'bigbrotr.synchronizer_request_timeout': scaledSeconds(10),
    'bigbrotr.synchronizer_negentropy': 'off', // these fixtures do not speak NIP-77: the window algorithm's tests
    'bigbrotr.synchronizer_limit': 100,
  });
});

// A test that failed with the server down (a kill, a stuck shutdown) must not fail the next ones.
beforeEach(async () => {
  await ensureServer();
  await sql('UPDATE bigbrotr.service_control SET enabled = false');
  await waitFor('no service running', async () => (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE backend_type LIKE 'bigbrotr %' AND backend_type <> 'bigbrotr launcher'`))[0].n === 0, { timeoutMs: 30000 });
});

after(async () => {
  await ensureServer().catch(() => {});
  await sql("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'bb_faults%'").then(async (rows) => {
    for (const r of rows) await sql(`ROLLBACK PREPARED '${r.gid}'`);
  }).catch(() => {});
  await sql('UPDATE bigbrotr.service_control SET enabled = false').catch(() => {});
  await setConfig({
    'bigbrotr.log_level': null, 'bigbrotr.finder_interval': null, 'bigbrotr.synchronizer_stagger_delay': null,
    'bigbrotr.synchronizer_max_processes': null, 'bigbrotr.synchronizer_max_parallel': null,
    'bigbrotr.synchronizer_request_timeout': null, 'bigbrotr.synchronizer_negentropy': null, 'bigbrotr.synchronizer_limit': null,
    'bigbrotr.initializer_seed_file': null,
  }).catch(() => {});
  await setConfig({ 'bigbrotr.initializer_seed_max_size': null }).catch(() => {});
  for (const r of relays) await r.close().catch(() => {});
});

test('kill -9 of the postmaster mid-sync: every process exits within seconds, the cluster starts at once, nothing committed is lost', async () => {
  const events = await cachedEvents(`faults-3000-${END}`, { count: 3000, end: END, span: 30 * DAY, seed: 31, keys: 4 });
  const relay = await startSyncRelay({ answerDelayMs: 300 }); // ~30+ requests: the sync runs for many seconds
  relays.push(relay);
  relay.load(events);
  await sql('INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ($1)', [relay.url]);
  await sql("SELECT bigbrotr.bigbrotr_start('synchronizer')");
  await waitFor('a few batches stored', async () => (await sql(
    'SELECT count(*)::int AS n FROM bigbrotr.events_relays WHERE relay_url = $1', [relay.url]))[0].n >= 200,
  { timeoutMs: 60000, intervalMs: 100 });

  // What is committed now must survive; nothing else may be open when the postmaster dies.
  const committed = (await sql('SELECT encode(event_id, \'hex\') AS id FROM bigbrotr.events_relays WHERE relay_url = $1',
    [relay.url])).map((r) => r.id);
  const pm = postmasterPid();
  const children = childrenOf(pm);
  assert.ok(children.some((c) => /bigbrotr synchronizer worker/.test(c.title)), `a sync worker runs: ${JSON.stringify(children)}`);
  assert.ok(committed.length < events.length, `the kill happens mid-sync (${committed.length} of ${events.length})`);

  process.kill(pm, 'SIGKILL');
  const t0 = Date.now();
  let left = children;
  while (Date.now() - t0 < scaled(5000) && left.length > 0) {
    await sleep(50);
    left = left.filter((c) => !gone(c.pid));
  }
  const took = Date.now() - t0;
  assert.deepEqual(left, [], `every process of the cluster exited within ${scaled(5000)} ms after the postmaster died`);

  // The dead postmaster itself is reaped by the machine's init (here every second or two); until
  // then its pid in postmaster.pid still answers kill(pid, 0), which is no bigbrotr process's doing.
  await waitFor('the postmaster reaped by init', async () => procStat(pm) === null, { timeoutMs: 30000, intervalMs: 50 });
  // No "pre-existing shared memory block is still in use": the first start succeeds.
  const mark = logMark();
  const started = Date.now();
  try {
    pgctl('-w', '-t', String(scaledSeconds(30)), 'start', '-l', logFile);
  } catch (e) {
    assert.fail(`pg_ctl start after the kill failed: ${e.message}\n${logSince(mark).slice(-3000)}`);
  }
  await waitFor('server accepting connections', serverUp);
  assert.doesNotMatch(logSince(mark), /pre-existing shared memory block/);
  figure(`processes gone ${took} ms after kill -9 of the postmaster; restart took ${Date.now() - started} ms`);

  const after = new Set((await sql('SELECT encode(event_id, \'hex\') AS id FROM bigbrotr.events_relays WHERE relay_url = $1',
    [relay.url])).map((r) => r.id));
  const lost = committed.filter((id) => !after.has(id));
  assert.equal(lost.length, 0, `${lost.length} of ${committed.length} committed events lost`);
  const state = (await sql("SELECT state FROM bigbrotr.service_state WHERE service_name = 'synchronizer:' || $1", [relay.url]))[0]?.state;
  const cursor = Number(state?.cursor ?? -1);
  const below = events.filter((e) => e.created_at <= cursor);
  const missing = below.filter((e) => !after.has(e.id));
  assert.equal(missing.length, 0, `no gap: every event at or below the cursor (${cursor}) is archived`);

  await sql("SELECT bigbrotr.bigbrotr_stop('synchronizer')");
  await waitFor('synchronizer stopped', async () => (await pidsOf('bigbrotr synchronizer%')).length === 0, { timeoutMs: 30000 });
  await sql('DELETE FROM bigbrotr.synchronizer_relays');
});

// A test connection holds a lock on the table the finder reads first (far longer than the bound).
async function holdLock(table) {
  const holder = await connect();
  await holder.query('BEGIN');
  await holder.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return holder;
}

async function stopBounded(name, backendType) {
  const t0 = Date.now();
  await sql('SELECT bigbrotr.bigbrotr_stop($1)', [name]);
  await waitFor(`${name} gone after bigbrotr_stop`, async () => (await pidsOf(backendType)).length === 0,
    { timeoutMs: 30000, intervalMs: 100 });
  return Date.now() - t0;
}

test('bigbrotr_stop ends a finder waiting for a lock within seconds', async () => {
  const holder = await holdLock('bigbrotr.finder_sources');
  try {
    await sql("SELECT bigbrotr.bigbrotr_start('finder')");
    await waitFor('the finder waiting for the lock', () => waitingForLock('bigbrotr finder'));
    const took = await stopBounded('finder', 'bigbrotr finder');
    figure(`finder behind a lock stopped ${took} ms after bigbrotr_stop`);
    assert.ok(took < scaled(5000), `stopped in ${took} ms (bound ${scaled(5000)} ms)`);
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end().catch(() => {});
  }
});

test('after a launcher restart (no handle: the stop goes through shared memory), a finder waiting for a lock still stops within seconds', async () => {
  const holder = await holdLock('bigbrotr.finder_sources');
  try {
    await sql("SELECT bigbrotr.bigbrotr_start('finder')");
    await waitFor('the finder waiting for the lock', () => waitingForLock('bigbrotr finder'));
    const [launcher] = await pidsOf('bigbrotr launcher');
    process.kill(launcher, 'SIGTERM'); // the postmaster starts a new one (restart time 10 s)
    await waitFor('a new launcher', async () => {
      const pids = await pidsOf('bigbrotr launcher');
      return pids.length === 1 && pids[0] !== launcher;
    }, { timeoutMs: 60000, intervalMs: 250 });
    assert.ok(await waitingForLock('bigbrotr finder'), 'the finder still waits');
    const took = await stopBounded('finder', 'bigbrotr finder');
    figure(`finder behind a lock stopped ${took} ms after bigbrotr_stop`);
    assert.ok(took < scaled(5000), `stopped in ${took} ms (bound ${scaled(5000)} ms)`);
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end().catch(() => {});
  }
});

test('pg_ctl stop -m fast finishes within seconds while the services wait for a lock a prepared transaction holds', async () => {
  await setConfig({ max_prepared_transactions: 4 }, { reload: false });
  await restartServer();
  // Survives the fast shutdown (no backend to terminate) and holds the tables the finder and the
  // synchronizer read first.
  await sql(`BEGIN; LOCK TABLE bigbrotr.finder_sources, bigbrotr.relays IN ACCESS EXCLUSIVE MODE;
             PREPARE TRANSACTION 'bb_faults_lock'`);
  try {
    const relay = await startSyncRelay();
    relays.push(relay);
    await sql("SELECT bigbrotr.bigbrotr_start('finder')");
    await sql("SELECT bigbrotr.bigbrotr_start('synchronizer')");
    await waitFor('the finder waiting for the lock', () => waitingForLock('bigbrotr finder'));
    await waitFor('the synchronizer waiting for the lock', () => waitingForLock('bigbrotr synchronizer'));
    const { took, error } = timedFastStop();
    figure(`pg_ctl stop -m fast took ${took} ms`);
    assert.equal(error, null, 'pg_ctl stop -m fast finished');
    assert.ok(took < scaled(8000), `pg_ctl stop -m fast took ${took} ms (bound ${scaled(8000)} ms)`);
  } finally {
    await ensureServer();
    await sql("ROLLBACK PREPARED 'bb_faults_lock'").catch(() => {});
    await sql("UPDATE bigbrotr.service_control SET enabled = false WHERE name IN ('finder', 'synchronizer')");
    await setConfig({ max_prepared_transactions: null }, { reload: false });
    await restartServer();
  }
});

test('pg_ctl stop -m fast finishes within seconds while the initializer reads an endless /dev/zero', async () => {
  await setConfig({ 'bigbrotr.initializer_seed_file': '/dev/zero' });
  // kB: practically endless (a server without the setting reads /dev/zero endlessly anyway)
  await setConfig({ 'bigbrotr.initializer_seed_max_size': String(2147483647) }).catch(() => {});
  try {
    await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
    await waitFor('initializer reading', async () => (await status('initializer')).running);
    await sleep(1000);
    const { took, error } = timedFastStop();
    figure(`pg_ctl stop -m fast took ${took} ms`);
    assert.equal(error, null, 'pg_ctl stop -m fast finished');
    assert.ok(took < scaled(8000), `pg_ctl stop -m fast took ${took} ms (bound ${scaled(8000)} ms)`);
  } finally {
    await ensureServer();
    await sql("UPDATE bigbrotr.service_control SET enabled = false WHERE name = 'initializer'");
    await setConfig({ 'bigbrotr.initializer_seed_file': null });
    await setConfig({ 'bigbrotr.initializer_seed_max_size': null }).catch(() => {});
  }
});

test('a bigbrotr.database that is not UTF8: the launcher logs one clear error and is not restarted', async () => {
  const db = 'bb_latin1';
  await sql(`DROP DATABASE IF EXISTS ${db}`, [], 'postgres');
  await sql(`CREATE DATABASE ${db} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, [], 'postgres');
  const mark = logMark();
  try {
    await setConfig({ 'bigbrotr.database': db }, { reload: false });
    await restartServer();
    const pattern = /ERROR: +bigbrotr launcher: database "bb_latin1" has encoding LATIN1, bigbrotr needs UTF8; exiting/;
    await waitFor('the launcher refused the database', async () => pattern.test(logSince(mark)), { timeoutMs: 30000 });
    assert.match(logSince(mark), /HINT: +Create a UTF8 database .*set bigbrotr.database to it and restart the server/);
    // The launcher's restart time is 10 s: a worker that exited with an error would be back by now.
    await sleep(12000);
    assert.equal(logSince(mark).match(new RegExp(pattern.source, 'g')).length, 1, 'one error, no restart storm');
    assert.equal((await pidsOf('bigbrotr launcher')).length, 0, 'the launcher stays down');
  } finally {
    await setConfig({ 'bigbrotr.database': null }, { reload: false });
    await restartServer();
    await sql(`DROP DATABASE IF EXISTS ${db}`, [], 'postgres');
  }
});
