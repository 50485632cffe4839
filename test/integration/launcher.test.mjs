// launcher.test.mjs: how the launcher stops services. A service it started itself is stopped through
// its BackgroundWorkerHandle; a service an earlier launcher started (the launcher was restarted, the
// service kept running, and the new launcher holds no handle for it) is stopped through the stop flag
// in shared memory and the worker's latch. Both must end the worker promptly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, waitFor, setConfig, freshExtension, workerPids, logMark, logSince } from './lib/cluster.mjs';

before(async () => {
  await freshExtension();
  // The finder with no sources and no events: quick, harmless cycles.
  await sql('DELETE FROM bigbrotr.finder_sources');
  await setConfig({ 'bigbrotr.finder_interval': 60, 'bigbrotr.log_level': 'info' });
});

after(async () => {
  await sql('UPDATE bigbrotr.service_control SET enabled = false').catch(() => {});
  await setConfig({ 'bigbrotr.log_level': null, 'bigbrotr.finder_interval': null });
});

const onePid = (name) => async () => {
  const pids = await workerPids(name);
  return pids.length === 1 ? pids[0] : null;
};

test('a service the launcher started is stopped, and comes back when started again', async () => {
  await sql("SELECT bigbrotr_start('finder')");
  const pid = await waitFor('the finder worker', onePid('finder'));
  const mark = logMark();
  await sql("SELECT bigbrotr_stop('finder')");
  await waitFor('the finder worker gone', async () => (await workerPids('finder')).length === 0);
  const log = logSince(mark);
  assert.match(log, new RegExp(`stopping service "finder" \\(pid ${pid}\\)`));
  assert.match(log, /bigbrotr finder: service stopped/, 'the worker ended its loop (SIGTERM), it was not killed');
  await sql("SELECT bigbrotr_start('finder')");
  const again = await waitFor('the finder worker again', onePid('finder'));
  assert.notEqual(again, pid);
  await sql("SELECT bigbrotr_stop('finder')");
  await waitFor('the finder worker gone again', async () => (await workerPids('finder')).length === 0);
});

test('a service started by an earlier launcher is still stopped after the launcher restarted', async () => {
  await sql("SELECT bigbrotr_start('finder')");
  const service = await waitFor('the finder worker', onePid('finder'));
  const launcher = await waitFor('the launcher', onePid('launcher'));

  // SIGTERM ends the launcher alone (exit code 1); the postmaster starts a new one after its restart
  // interval (10 s), while the service worker keeps running.
  process.kill(launcher, 'SIGTERM');
  const next = await waitFor('a new launcher', async () => {
    const pid = await onePid('launcher')();
    return pid && pid !== launcher ? pid : null;
  }, { timeoutMs: 60000, intervalMs: 500 });
  assert.notEqual(next, launcher);
  assert.deepEqual(await workerPids('finder'), [service], 'the service outlived the launcher');

  const mark = logMark();
  await sql("SELECT bigbrotr_stop('finder')");
  await waitFor('the orphaned finder worker gone', async () => (await workerPids('finder')).length === 0,
    { timeoutMs: 30000 });
  const log = logSince(mark);
  assert.match(log, new RegExp(`stopping service "finder" \\(pid ${service}\\)`));
  assert.match(log, /bigbrotr finder: service stopped/, 'the worker saw the stop request and ended its loop');

  // The new launcher starts (and holds the handle of) the next worker.
  await sql("SELECT bigbrotr_start('finder')");
  const fresh = await waitFor('a finder worker of the new launcher', onePid('finder'));
  assert.notEqual(fresh, service);
  await sql("SELECT bigbrotr_stop('finder')");
  await waitFor('that worker gone', async () => (await workerPids('finder')).length === 0);
});
