// api_limits.test.mjs: the api under stress and attack. A query slower than bigbrotr.api_statement_timeout
// (events locked by another transaction) answers 504 within the timeout and the same worker serves the
// next request; 100 concurrent clients are all answered; SIGTERM (bigbrotr_stop and a kill of the
// coordinator) ends every api process within seconds; SQL-injection-shaped values in every parameter
// answer 400 or an ordinary result and leave the archive byte for byte unchanged; and the bigbrotr_api
// role itself cannot write. Time bounds are generous multiples of the timeout, scaled by BB_SLOWNESS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { freshExtension, sql, connect, setConfig, waitFor, env } from './lib/cluster.mjs';
import { scaled, SLOWNESS } from './lib/slowness.mjs';
import {
  startApi, stopApi, resetApiConfig, apiPids, api, curl, assertValid, loadFixture, archiveFingerprint,
  waitApiUp, WS_URL, BASE,
} from './lib/api.mjs';

const execFileP = promisify(execFile);
const GUCS = ['bigbrotr.api_listen_address', 'bigbrotr.api_port', 'bigbrotr.api_workers', 'bigbrotr.api_interval',
  'bigbrotr.api_statement_timeout'];
let fx;

before(async () => {
  await freshExtension();
  fx = await loadFixture({ nEvents: 120 });
  await startApi({ 'bigbrotr.api_workers': 1 });
});

after(async () => {
  await stopApi();
  await resetApiConfig(GUCS);
});

// Holds ACCESS EXCLUSIVE on bigbrotr.events in an open transaction until release() is called.
async function lockEvents() {
  const c = await connect();
  await c.query('BEGIN');
  await c.query('LOCK TABLE bigbrotr.events IN ACCESS EXCLUSIVE MODE');
  return async () => { await c.query('ROLLBACK'); await c.end(); };
}

test('a query slower than api_statement_timeout answers 504 within it; the same worker serves on', async () => {
  const timeoutMs = 1000;
  await setConfig({ 'bigbrotr.api_statement_timeout': `${timeoutMs}ms` });
  await waitFor('the timeout in effect', async () =>
    (await sql("SELECT setting FROM pg_settings WHERE name = 'bigbrotr.api_statement_timeout'"))[0].setting === String(timeoutMs));
  const pid = (await api('/health')).json.pid;
  const release = await lockEvents();
  try {
    for (const [method, path, body] of [['GET', '/v1/events?limit=5'], ['POST', '/v1/count', { kinds: [1] }], ['GET', `/v1/events/${fx.events[0].id}`]]) {
      const t0 = Date.now();
      const r = await api(path, { method, body });
      const elapsed = Date.now() - t0;
      assert.equal(r.status, 504, `${method} ${path} under the lock: ${r.status} ${r.text}`);
      assert.equal(r.json.error, 'timeout');
      await assertValid(method, path, r);
      // It waited for the timeout, and not much longer (a generous multiple of it, scaled).
      assert.ok(elapsed >= timeoutMs * 0.9, `${path}: answered after ${elapsed} ms, before the ${timeoutMs} ms timeout`);
      assert.ok(elapsed < timeoutMs * 5 * SLOWNESS, `${path}: answered after ${elapsed} ms, far beyond the ${timeoutMs} ms timeout`);
      // The worker is free again while the lock is still held.
      const h = await api('/health');
      assert.equal(h.status, 200);
      assert.equal(h.json.pid, pid, 'the same (only) worker');
    }
    // The relay endpoint: CLOSED "error: timeout".
    const ws = new WebSocket(WS_URL);
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    const closed = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error('no answer to REQ under the lock')), scaled(timeoutMs * 10));
      ws.on('message', (d) => { const m = JSON.parse(d.toString()); if (m[1] === 't1' && m[0] !== 'EVENT') { clearTimeout(timer); res(m); } });
      ws.send(JSON.stringify(['REQ', 't1', { kinds: [1], limit: 3 }]));
    });
    assert.deepEqual(closed, ['CLOSED', 't1', 'error: timeout']);
    ws.close();
  } finally {
    await release();
  }
  const r = await api('/v1/events?limit=5');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.events.length, 5);
  assert.equal((await api('/health')).json.pid, pid, 'no worker was restarted');
  await setConfig({ 'bigbrotr.api_statement_timeout': null });
});

test('100 concurrent clients are all answered (200, valid bodies)', async () => {
  await setConfig({ 'bigbrotr.api_workers': 2 });
  await waitFor('two api workers', async () => (await apiPids()).filter((p) => p.backend_type !== 'bigbrotr api').length === 2);
  await waitApiUp();
  const reqs = [];
  for (let i = 0; i < 100; i++) {
    const a = fx.authors[i % fx.authors.length];
    const pick = i % 5;
    if (pick === 0) reqs.push(['GET', `/v1/events?authors=${a}&limit=10`]);
    else if (pick === 1) reqs.push(['GET', `/v1/events?%23t=nostr&limit=20`]);
    else if (pick === 2) reqs.push(['POST', '/v1/count', { authors: [a] }]);
    else if (pick === 3) reqs.push(['GET', '/v1/relays']);
    else reqs.push(['GET', `/v1/events/${fx.events[i].id}`]);
  }
  // Each client its own connection (fetch pools per origin; the clients are concurrent, so it opens one each).
  const answers = await Promise.all(reqs.map(([method, path, body]) => api(path, { method, body })));
  for (let i = 0; i < answers.length; i++) {
    const [method, path] = reqs[i];
    assert.equal(answers[i].status, 200, `${method} ${path}: ${answers[i].status} ${answers[i].text.slice(0, 200)}`);
    await assertValid(method, path, answers[i]);
  }
  // And 30 WebSocket clients at once.
  const wsAnswers = await Promise.all(Array.from({ length: 30 }, (_, i) => new Promise((res, rej) => {
    const ws = new WebSocket(WS_URL);
    const got = [];
    const timer = setTimeout(() => rej(new Error(`ws client ${i}: no EOSE`)), scaled(60000));
    ws.on('open', () => ws.send(JSON.stringify(['REQ', 'x', { authors: [fx.authors[i % fx.authors.length]], limit: 500 }])));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m[0] === 'EVENT') got.push(m[2].id);
      else { clearTimeout(timer); ws.close(); res([i, m[0], got.length]); }
    });
    ws.on('error', rej);
  })));
  for (const [i, kind, n] of wsAnswers) {
    assert.equal(kind, 'EOSE', `ws client ${i}`);
    assert.equal(n, fx.events.filter((e) => e.pubkey === fx.authors[i % fx.authors.length]).length);
  }
});

test('SQL-injection-shaped values in every parameter: 400 or an ordinary answer (200, 404), the archive unchanged', async () => {
  const before = await archiveFingerprint();
  const evil = ["1);DELETE FROM bigbrotr.events;--", "x'||pg_sleep(10)||'", "'; DROP TABLE bigbrotr.events; --",
    "' OR '1'='1", '"', '\\', '$$; DELETE FROM bigbrotr.relays; $$', '$1', "0'); TRUNCATE bigbrotr.events_relays; --",
    "wss://x.example/'||(SELECT pg_sleep(10))||'"];
  const enc = encodeURIComponent;
  const gets = [];
  for (const v of evil) {
    for (const p of ['ids', 'authors', 'kinds', '%23t', '%23e', 'since', 'until', 'limit', 'relay', 'cursor', 'search']) gets.push(`/v1/events?${p}=${enc(v)}`);
    for (const p of ['network', 'readable', 'writable', 'software', 'nip', 'limit', 'cursor']) gets.push(`/v1/relays?${p}=${enc(v)}`);
    gets.push(`/v1/stats?days=${enc(v)}`, `/v1/events/${enc(v)}`, `/v1/relays/${enc(v)}`, `/v1/relays/${enc(v)}/history`,
      `/v1/relays/${enc(v)}/nip11`, `/v1/relays/${enc('wss://alpha.example.com')}/history?since=${enc(v)}`,
      `/v1/relays/${enc('wss://alpha.example.com')}/history?cursor=${enc(v)}`, `/v1/events?${enc(v)}=1`);
  }
  // Huge lists in the query string (the server may refuse a URL that long: any 4xx, never a write).
  gets.push(`/v1/events?%23t=${Array.from({ length: 3000 }, (_, i) => `v${i}'`).join(',')}`);
  gets.push(`/v1/events?kinds=${Array.from({ length: 5000 }, (_, i) => i).join(',')}`);
  for (const path of gets) {
    const r = await api(path);
    assert.ok([200, 400, 404].includes(r.status) || (path.length > 8000 && r.status >= 400 && r.status < 500),
      `${path.slice(0, 120)}: ${r.status} ${r.text.slice(0, 200)}`);
    if ([200, 400, 404].includes(r.status)) await assertValid('GET', path.length > 8000 ? '/v1/events' : path, r);
    if (r.status === 200 && r.json?.events) {
      // An ordinary answer: only events that the (literal) filter selects, here none or real rows.
      for (const e of r.json.events) assert.ok(fx.events.some((x) => x.id === e.id));
    }
  }
  const bodies = evil.flatMap((v) => [
    { '#t': [v, "'", '"', '\\'] }, { kinds: [v] }, { authors: [v] }, { relay: v }, { cursor: v }, { since: v }, { [v]: [1] },
  ]);
  bodies.push({ authors: Array.from({ length: 900 }, (_, i) => i.toString(16).padStart(64, '0')) });
  bodies.push({ '#t': Array.from({ length: 5000 }, (_, i) => `'${i}`) });
  for (const b of bodies) {
    for (const p of ['/v1/req', '/v1/count']) {
      const r = await api(p, { method: 'POST', body: b });
      assert.ok([200, 400, 413].includes(r.status), `${p} ${JSON.stringify(b).slice(0, 120)}: ${r.status} ${r.text.slice(0, 200)}`);
      await assertValid('POST', p, r);
      if (p === '/v1/count' && r.status === 200 && b['#t']) assert.equal(r.json.count, 0);
    }
  }
  // The same through curl (its own encoding of the raw bytes) for a few of them.
  for (const path of gets.slice(0, 30)) {
    const r = await curl(path);
    assert.ok([200, 400, 404].includes(r.status), `curl ${path}: ${r.status}`);
  }
  // The relay endpoint.
  const ws = new WebSocket(WS_URL);
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  let answered = 0;
  await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`relay: ${answered} of ${evil.length * 2} answered`)), scaled(60000));
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m[0] === 'EOSE' || m[0] === 'CLOSED' || m[0] === 'COUNT' || m[0] === 'NOTICE') {
        answered++;
        if (answered === evil.length * 2) { clearTimeout(timer); res(); }
      }
    });
    evil.forEach((v, i) => {
      ws.send(JSON.stringify(['REQ', `i${i}`, { '#t': [v], kinds: [1] }, { authors: [v] }]));
      ws.send(JSON.stringify(['COUNT', `c${i}`, { '#t': [v] }, { relay: v }]));
      ws.send(JSON.stringify(['CLOSE', `i${i}`]));
    });
  });
  ws.close();
  assert.deepEqual(await archiveFingerprint(), before, 'row counts and content hashes of every table are unchanged');
  assert.equal((await api('/health')).status, 200);
});

test('as the bigbrotr_api role, writes fail (permission denied, read-only transaction)', async () => {
  const [role] = await sql("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'bigbrotr_api'");
  assert.ok(role, 'the role bigbrotr_api exists');
  assert.equal(role.rolcanlogin, false);
  assert.equal(role.rolsuper, false);
  const psql = async (...cmds) => {
    const args = ['-X', '-h', '127.0.0.1', '-p', String(env.port), '-U', 'postgres', '-d', env.db, '-v', 'ON_ERROR_STOP=1', '-At'];
    for (const c of cmds) args.push('-c', c);
    try {
      const { stdout } = await execFileP('psql', args);
      return { ok: true, out: stdout };
    } catch (e) {
      return { ok: false, out: e.stderr };
    }
  };
  // It can read (the refusals below are not a broken role).
  const read = await psql('SET ROLE bigbrotr_api', 'SELECT count(*) FROM bigbrotr.events');
  assert.ok(read.ok, read.out);
  assert.equal(read.out.trim().split('\n').pop(), String(fx.events.length));
  const e = fx.events[0];
  const writes = [
    'DELETE FROM bigbrotr.events',
    "UPDATE bigbrotr.relays SET network = 'tor'",
    "INSERT INTO bigbrotr.relays (url, network, inserted_at) VALUES ('wss://x.example.com', 'clearnet', 1)",
    'TRUNCATE bigbrotr.events_relays',
    'CREATE TABLE bigbrotr.evil (x int)',
    `SELECT bigbrotr.insert_relay('wss://y.example.com', 'clearnet', 1)`,
    "SELECT bigbrotr_start('finder')",
    'SELECT bigbrotr.delete_orphan_events()',
    'ALTER TABLE bigbrotr.events DROP COLUMN content',
  ];
  for (const w of writes) {
    const r = await psql('SET ROLE bigbrotr_api', w);
    assert.equal(r.ok, false, `${w} succeeded as bigbrotr_api`);
    assert.match(r.out, /permission denied|must be owner/, `${w}: ${r.out}`);
    // In the api's own transaction shape: READ ONLY refuses even before the privileges.
    const ro = await psql('BEGIN READ ONLY', 'SET LOCAL ROLE bigbrotr_api', w);
    assert.equal(ro.ok, false, `${w} succeeded in a read-only transaction`);
    assert.match(ro.out, /read-only transaction|permission denied|must be owner/, `${w}: ${ro.out}`);
  }
  assert.equal((await sql("SELECT count(*)::int AS n FROM bigbrotr.events WHERE id = decode($1, 'hex')", [e.id]))[0].n, 1);
});

test('SIGTERM: bigbrotr_stop ends every api process within seconds; a killed coordinator takes its workers', async () => {
  let procs = await apiPids();
  assert.ok(procs.some((p) => p.backend_type === 'bigbrotr api'), `a coordinator runs: ${JSON.stringify(procs)}`);
  assert.ok(procs.some((p) => p.backend_type.startsWith('bigbrotr api worker')), 'workers run');
  // A kill of the coordinator (SIGTERM): the coordinator and every worker end; the launcher starts
  // the still-wanted service again with new processes.
  const coord = procs.find((p) => p.backend_type === 'bigbrotr api');
  const old = new Set(procs.map((p) => p.pid));
  process.kill(coord.pid, 'SIGTERM');
  await waitFor('every old api process gone', async () => (await apiPids()).every((p) => !old.has(p.pid)), { timeoutMs: 10000 });
  await waitFor('the api back (launcher)', async () => (await apiPids()).length >= 2, { timeoutMs: 60000 });
  await waitApiUp();
  // bigbrotr_stop: every process gone, the port closed.
  procs = await apiPids();
  const t0 = Date.now();
  await sql("SELECT bigbrotr_stop('api')");
  await waitFor('every api process gone after bigbrotr_stop', async () => (await apiPids()).length === 0, { timeoutMs: 10000 });
  for (const p of procs) assert.throws(() => process.kill(p.pid, 0), `process ${p.pid} (${p.backend_type}) is gone`);
  await waitFor('the port closed', async () => fetch(`${BASE}/health`).then(() => false, () => true), { timeoutMs: 10000 });
  assert.ok(Date.now() - t0 < scaled(10000));
});
