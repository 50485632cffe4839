// api_server.test.mjs: the api server's own behaviour (not the endpoints' answers, api.test.mjs has
// those): two worker processes share the port; 404/405/413/HEAD/OPTIONS/CORS; the relay URL path
// segment that libwebsockets decodes; a query blocked by a lock answers 504 at the statement timeout
// and the worker goes on; the relay endpoint refuses EVENT and drops a client that never reads; the
// coordinator restarts a killed worker; bigbrotr_stop and a postmaster kill -9 leave no api process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { env, sql, connect, waitFor, setConfig, freshExtension, workerPids, logMark, logSince, pgctl, sleep } from './lib/cluster.mjs';
import { signed, archive } from './lib/events.mjs';
import { scaled, scaledSeconds } from './lib/slowness.mjs';

const PORT = 57780;
const TIMEOUT_MS = 1000;
const ORIGIN = 'https://app.example.org';
const logFile = path.join(env.pgdata, 'server.log');

// One request on its own connection (so that the kernel may pick either worker).
function request(method, pathname, { headers = {}, body = null, agent = false, port = PORT, chunked = false } = {}) {
  if (body !== null && !chunked) headers = { 'Content-Length': Buffer.byteLength(body), ...headers };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(scaled(30000), () => req.destroy(new Error(`${method} ${pathname}: no answer within ${scaled(30000)} ms`)));
    if (body !== null) req.write(body);
    req.end();
  });
}

const apiWorkers = () => workerPids('api worker');

// A measured figure: a TAP comment, and a line of BB_FIGURES_FILE when set.
function figure(line) {
  console.log(`# figure: ${line}`);
  if (process.env.BB_FIGURES_FILE) fs.appendFileSync(process.env.BB_FIGURES_FILE, `api_server: ${line}\n`);
}

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
const postmasterPid = () => Number(fs.readFileSync(path.join(env.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);

async function serverUp() {
  try { return (await sql('SELECT 1 AS ok', [], 'postgres'))[0].ok === 1; } catch { return false; }
}

async function startApi() {
  await sql("SELECT bigbrotr_start('api')").catch(() => {});
  await waitFor('two api workers', async () => (await apiWorkers()).length === 2);
  await waitFor('the api answering', async () => (await request('GET', '/health')).status === 200);
}

function wsOpen() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// The next n messages a socket receives, parsed.
function nextMessages(ws, n) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} messages: ${JSON.stringify(got)}`)), scaled(10000));
    const on = (data) => {
      got.push(JSON.parse(data.toString()));
      if (got.length === n) {
        clearTimeout(timer);
        ws.off('message', on);
        resolve(got);
      }
    };
    ws.on('message', on);
  });
}

before(async () => {
  await freshExtension();
  await setConfig({
    'bigbrotr.log_level': 'info',
    'bigbrotr.api_port': PORT,
    'bigbrotr.api_workers': 2,
    'bigbrotr.api_interval': 2,
    'bigbrotr.api_statement_timeout': `${TIMEOUT_MS}ms`,
    'bigbrotr.api_cors_origins': `${ORIGIN}, http://localhost:3000`,
  });
  await startApi();
});

after(async () => {
  if (await serverUp()) {
    await sql('UPDATE bigbrotr.service_control SET enabled = false').catch(() => {});
    await setConfig({
      'bigbrotr.log_level': null, 'bigbrotr.api_port': null, 'bigbrotr.api_workers': null, 'bigbrotr.api_interval': null,
      'bigbrotr.api_statement_timeout': null, 'bigbrotr.api_cors_origins': null, 'bigbrotr.api_max_pending_bytes': null,
    }).catch(() => {});
  }
});

test('two worker processes serve the one port: /health answers from both', async () => {
  const workers = await apiWorkers();
  const seen = new Set();
  for (let i = 0; i < 80 && seen.size < 2; i++) {
    const res = await request('GET', '/health');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'ok');
    seen.add(res.json.pid);
  }
  assert.deepEqual([...seen].sort(), [...workers].sort(), 'both workers answered, and only they');
});

test('keep-alive: several requests on one connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set();
  agent.on('free', (s) => ports.add(s.localPort));
  for (let i = 0; i < 5; i++) assert.equal((await request('GET', '/health', { agent })).status, 200);
  assert.equal(ports.size, 1, `one connection served them (local ports ${[...ports]})`);
  // Throughput of one client, for the figures (no bound: a shared machine).
  let t0 = Date.now();
  for (let i = 0; i < 500; i++) await request('GET', '/health', { agent });
  const keep = Date.now() - t0;
  t0 = Date.now();
  for (let i = 0; i < 500; i++) await request('GET', '/health');
  const fresh = Date.now() - t0;
  figure(`GET /health, one sequential client: ${Math.round(500000 / keep)}/s on one keep-alive connection, ${Math.round(500000 / fresh)}/s with a connection each`);
  agent.destroy();
});

test('404 for an unknown path, 405 with Allow for a wrong method, 413 for a large body', async () => {
  const nf = await request('GET', '/no/such/path');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error, 'not_found');

  const post = await request('POST', '/health', { body: '{}', headers: { 'Content-Type': 'application/json' } });
  assert.equal(post.status, 405);
  assert.equal(post.json.error, 'method_not_allowed');
  assert.equal(post.headers.allow, 'GET, HEAD, OPTIONS');

  const get = await request('GET', '/v1/count');
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, 'POST, OPTIONS');

  const del = await request('DELETE', '/v1/events');
  assert.equal(del.status, 405);

  const body = 'x'.repeat(65536 + 1);
  const big = await request('POST', '/v1/count', { body, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } });
  assert.equal(big.status, 413);
  assert.equal(big.json.error, 'body_too_large');
  assert.equal(big.headers.connection, 'close');
  // Without a length (chunked), the body is not read.
  const chunked = await request('POST', '/v1/count', { body: '{}', chunked: true, headers: { 'Content-Type': 'application/json' } });
  assert.equal(chunked.status, 411);
  assert.equal(chunked.json.error, 'length_required');
  // The worker goes on.
  assert.equal((await request('GET', '/health')).status, 200);
});

test('HEAD answers like GET without a body', async () => {
  const get = await request('GET', '/health');
  const head = await request('HEAD', '/health');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.equal(head.headers['content-type'], get.headers['content-type']);
  assert.ok(Number(head.headers['content-length']) > 0);
});

test('CORS: an allowed origin gets its headers, another none; OPTIONS preflight is 204', async () => {
  const ok = await request('GET', '/health', { headers: { Origin: ORIGIN } });
  assert.equal(ok.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(ok.headers.vary, 'Origin');
  const other = await request('GET', '/health', { headers: { Origin: 'https://evil.example.org' } });
  assert.equal(other.status, 200);
  assert.equal(other.headers['access-control-allow-origin'], undefined);

  const pre = await request('OPTIONS', '/v1/events', {
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  assert.match(pre.headers['access-control-allow-methods'], /GET/);
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  assert.match(pre.headers['access-control-allow-headers'], /Content-Type/);
  assert.equal((await request('OPTIONS', '/nope', { headers: { Origin: ORIGIN } })).status, 404);

  // NIP-11 is for everyone.
  const nip11 = await request('GET', '/', { headers: { Accept: 'application/nostr+json' } });
  assert.equal(nip11.status, 200);
  assert.equal(nip11.headers['access-control-allow-origin'], '*');
  assert.equal(nip11.json.limitation.restricted_writes, true);
});

test('a relay URL percent-encoded in one path segment reaches its route (libwebsockets decodes the path)', async () => {
  const t = Math.floor(Date.now() / 1000);
  await sql("SELECT bigbrotr.insert_relay('wss://relay.example.com', 'clearnet', $1)", [t]);
  await sql("SELECT bigbrotr.insert_relay('wss://relay.example.com/nostr', 'clearnet', $1)", [t]);

  const one = await request('GET', `/v1/relays/${encodeURIComponent('wss://relay.example.com')}`);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.url, 'wss://relay.example.com');

  const hist = await request('GET', `/v1/relays/${encodeURIComponent('wss://relay.example.com')}/history`);
  assert.equal(hist.status, 200, hist.text);
  assert.equal(hist.json.relay, 'wss://relay.example.com');
  assert.deepEqual(hist.json.history, []);

  const nip11 = await request('GET', `/v1/relays/${encodeURIComponent('wss://relay.example.com')}/nip11`);
  assert.equal(nip11.status, 200, nip11.text);
  assert.equal(nip11.json.relay, 'wss://relay.example.com');

  const withPath = await request('GET', `/v1/relays/${encodeURIComponent('wss://relay.example.com/nostr')}`);
  assert.equal(withPath.status, 200, withPath.text);
  assert.equal(withPath.json.url, 'wss://relay.example.com/nostr');

  const unknown = await request('GET', `/v1/relays/${encodeURIComponent('wss://unknown.example.com')}`);
  assert.equal(unknown.status, 404);
});

test('a query blocked by a lock answers 504 at the statement timeout; the worker goes on', async () => {
  const before = await apiWorkers();
  const locker = await connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE bigbrotr.events IN ACCESS EXCLUSIVE MODE');
    const t0 = Date.now();
    const res = await request('GET', '/v1/events?limit=1');
    const took = Date.now() - t0;
    assert.equal(res.status, 504, res.text);
    assert.equal(res.json.error, 'timeout');
    assert.ok(took >= TIMEOUT_MS * 0.9, `answered after the timeout (${took} ms)`);
    assert.ok(took < scaled(TIMEOUT_MS * 8), `answered soon after the ${TIMEOUT_MS} ms timeout (${took} ms)`);
    figure(`a request behind a lock answered 504 after ${took} ms (api_statement_timeout ${TIMEOUT_MS} ms)`);
    // The relay endpoint gets the same timeout.
    const ws = await wsOpen();
    const closed = nextMessages(ws, 1);
    ws.send(JSON.stringify(['REQ', 'blocked', { limit: 1 }]));
    assert.deepEqual((await closed)[0], ['CLOSED', 'blocked', 'error: timeout']);
    ws.close();
  } finally {
    await locker.query('ROLLBACK').catch(() => {});
    await locker.end();
  }
  const ev = signed({ content: 'after the lock' });
  await archive(ev, 'wss://relay.example.com', ev.created_at);
  const res = await request('GET', '/v1/events?limit=1');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.events[0].id, ev.id);
  assert.deepEqual(await apiWorkers(), before, 'no worker was restarted');
});

test('the relay endpoint: EVENT and AUTH get OK false, REQ EOSE, garbage a NOTICE, CLOSE frees a subscription', async () => {
  const ev = signed({ content: 'relay endpoint' });
  await archive(ev, 'wss://relay.example.com', ev.created_at);
  const ws = await wsOpen();
  try {
    let got = nextMessages(ws, 1);
    ws.send(JSON.stringify(['EVENT', ev]));
    assert.deepEqual((await got)[0], ['OK', ev.id, false, 'blocked: read-only archive']);

    got = nextMessages(ws, 1);
    ws.send(JSON.stringify(['AUTH', ev]));
    assert.deepEqual((await got)[0].slice(0, 3), ['OK', ev.id, false]);

    got = nextMessages(ws, 2);
    ws.send(JSON.stringify(['REQ', 's1', { ids: [ev.id] }]));
    const [e, eose] = await got;
    assert.deepEqual(e, ['EVENT', 's1', JSON.parse(JSON.stringify(ev))]);
    assert.deepEqual(eose, ['EOSE', 's1']);

    got = nextMessages(ws, 1);
    ws.send('this is not json');
    assert.equal((await got)[0][0], 'NOTICE');

    // 20 subscriptions (api_max_subscriptions), then one too many; CLOSE frees one.
    for (let i = 2; i <= 20; i++) {
      got = nextMessages(ws, 1);
      ws.send(JSON.stringify(['REQ', `s${i}`, { ids: [ev.id.replace(/./, (c) => (c === '0' ? '1' : '0'))] }]));
      assert.deepEqual((await got)[0], ['EOSE', `s${i}`]);
    }
    got = nextMessages(ws, 1);
    ws.send(JSON.stringify(['REQ', 's21', { limit: 1 }]));
    assert.deepEqual((await got)[0], ['CLOSED', 's21', 'error: too many subscriptions']);
    ws.send(JSON.stringify(['CLOSE', 's20']));
    got = nextMessages(ws, 2);
    ws.send(JSON.stringify(['REQ', 's21', { ids: [ev.id] }]));
    assert.deepEqual((await got)[1], ['EOSE', 's21']);
  } finally {
    ws.close();
  }
});

test('a WebSocket client that never reads is dropped once its unsent output passes api_max_pending_bytes', async () => {
  // 300 events of 60 KB: ~18 MB per REQ, far more than the socket buffers hold.
  const big = 'z'.repeat(60000);
  const values = [];
  const base = Math.floor(Date.now() / 1000) - 100000;
  for (let i = 0; i < 300; i++) values.push(signed({ content: big, created_at: base + i }));
  for (const ev of values) await archive(ev, 'wss://relay.example.com', ev.created_at);
  await setConfig({ 'bigbrotr.api_max_pending_bytes': '256kB' });
  await sleep(500); // the workers re-read it at their next loop

  const mark = logMark();
  const ws = await wsOpen();
  ws._socket.pause(); // never read
  let closed = false;
  ws.on('close', () => { closed = true; });
  ws.send(JSON.stringify(['REQ', 'flood', { limit: 500 }]));
  await waitFor('the flooded client dropped', async () => /dropping a WebSocket client/.test(logSince(mark)), { timeoutMs: 30000 });
  ws._socket.resume();
  await waitFor('the dropped socket closed', async () => closed, { timeoutMs: 30000 });
  // The worker that dropped it goes on.
  for (let i = 0; i < 4; i++) assert.equal((await request('GET', '/health')).status, 200);
  const metrics = await request('GET', '/metrics');
  assert.match(metrics.text, /bigbrotr_api_websocket_dropped_total 1\b/);
  await setConfig({ 'bigbrotr.api_max_pending_bytes': null });
});

// The bytes the memory contexts of a process hold ("used" of pg_log_backend_memory_contexts).
async function usedMemory(pid) {
  const size = () => fs.statSync(logFile).size;
  const from = size();
  const [{ ok }] = await sql('SELECT pg_log_backend_memory_contexts($1) AS ok', [pid]);
  assert.equal(ok, true);
  const re = new RegExp(`\\[${pid}\\] [^\\n]*LOG:  Grand total: \\d+ bytes in \\d+ blocks; \\d+ free \\(\\d+ chunks\\); (\\d+) used`);
  const m = await waitFor(`the memory dump of ${pid}`, async () => {
    const fd = fs.openSync(logFile, 'r');
    try {
      const buf = Buffer.alloc(size() - from);
      fs.readSync(fd, buf, 0, buf.length, from);
      return re.exec(buf.toString('utf8'));
    } finally { fs.closeSync(fd); }
  }, { intervalMs: 20 });
  return Number(m[1]);
}

async function mixedLoad(n) {
  for (let i = 0; i < n; i++) {
    switch (i % 6) {
      case 0: assert.equal((await request('GET', '/health')).status, 200); break;
      case 1: assert.equal((await request('GET', '/v1/events?limit=3')).status, 200); break;
      case 2: assert.equal((await request('GET', '/nope')).status, 404); break;
      case 3: assert.equal((await request('POST', '/v1/count', { body: '{"kinds":[1]}' })).status, 200); break;
      case 4: assert.equal((await request('GET', '/v1/events?kinds=bad')).status, 400); break;
      default: {
        const ws = await wsOpen();
        const got = nextMessages(ws, 2);
        ws.send(JSON.stringify(['REQ', 'm', { limit: 1 }]));
        assert.equal((await got)[1][0], 'EOSE');
        ws.close();
      }
    }
  }
}

test('requests do not grow a worker: its memory is the same after 600 more requests', async () => {
  const workers = await apiWorkers();
  await mixedLoad(300); // warm: plans, caches
  const a = await Promise.all(workers.map(usedMemory));
  await mixedLoad(600);
  const b = await Promise.all(workers.map(usedMemory));
  await mixedLoad(600);
  const c = await Promise.all(workers.map(usedMemory));
  const growth = workers.map((_, i) => c[i] - b[i]);
  figure(`api worker memory (used bytes) after 300/900/1500 mixed requests: ${workers.map((_, i) => `${a[i]}/${b[i]}/${c[i]}`).join(', ')}`);
  for (const g of growth) assert.ok(g < 8192, `a worker grew ${g} bytes over 600 requests`);
});

test('SIGTERM of a worker: the coordinator starts it again', async () => {
  const [victim, other] = await apiWorkers();
  const mark = logMark();
  process.kill(victim, 'SIGTERM');
  const now = await waitFor('a new second worker', async () => {
    const pids = await apiWorkers();
    return pids.length === 2 && !pids.includes(victim) ? pids : null;
  }, { timeoutMs: 20000 });
  assert.ok(now.includes(other), 'the other worker kept running');
  assert.match(logSince(mark), /bigbrotr api: api worker \d is gone; starting it again/);
  // The coordinator's cycle counters say so.
  await waitFor('a cycle that counted the restart', async () => {
    const st = (await sql("SELECT last_cycle_stats AS s FROM bigbrotr.bigbrotr_status() WHERE name = 'api'"))[0]?.s;
    return st && st.worker_restarts >= 1 && st.workers === 2 ? st : null;
  }, { timeoutMs: 20000 });
  await waitFor('both answering', async () => {
    const pids = new Set();
    for (let i = 0; i < 40 && pids.size < 2; i++) pids.add((await request('GET', '/health')).json?.pid);
    return pids.size === 2;
  });
});

test('a new api_port on reload: the coordinator restarts the workers on it', async () => {
  const before = await apiWorkers();
  await setConfig({ 'bigbrotr.api_port': PORT + 1 });
  await waitFor('the api on the new port', async () => (await request('GET', '/health', { port: PORT + 1 }).catch(() => ({}))).status === 200);
  await waitFor('the old port closed', async () => (await request('GET', '/health').then(() => false, () => true)));
  const after = await waitFor('two new workers', async () => { const p = await apiWorkers(); return p.length === 2 ? p : null; });
  assert.ok(after.every((p) => !before.includes(p)), 'both workers were restarted');
  await setConfig({ 'bigbrotr.api_port': PORT });
  await waitFor('the api back on its port', async () => (await request('GET', '/health').catch(() => ({}))).status === 200);
  await waitFor('two workers again', async () => (await apiWorkers()).length === 2);
});

test('bigbrotr_stop(\'api\'): the coordinator and every worker are gone within seconds', async () => {
  const workers = await apiWorkers();
  const coordinator = await workerPids('api');
  assert.equal(workers.length, 2);
  const t0 = Date.now();
  await sql("SELECT bigbrotr_stop('api')");
  await waitFor('no api process', async () => [...workers, ...coordinator].every(gone), { timeoutMs: scaled(5000), intervalMs: 50 });
  const took = Date.now() - t0;
  figure(`api stopped (coordinator and 2 workers gone) ${took} ms after bigbrotr_stop`);
  await assert.rejects(request('GET', '/health'), /ECONNREFUSED/, 'nothing listens on the port any more');
  await startApi();
});

test('kill -9 of the postmaster: the api workers exit and free the port', async () => {
  const workers = await apiWorkers();
  assert.equal(workers.length, 2);
  const pm = postmasterPid();
  const t0 = Date.now();
  process.kill(pm, 'SIGKILL');
  await waitFor('the api workers gone', async () => workers.every(gone), { timeoutMs: scaled(5000), intervalMs: 50 });
  figure(`api workers gone ${Date.now() - t0} ms after kill -9 of the postmaster`);
  await waitFor('the port free', () => new Promise((resolve) => {
    const s = net.connect(PORT, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  }), { timeoutMs: scaled(5000) });
  await waitFor('the server started again', async () => {
    try { pgctl('-w', '-t', String(scaledSeconds(30)), 'start', '-l', logFile); } catch { /* retried */ }
    return serverUp();
  }, { timeoutMs: 120000, intervalMs: 1000 });
});
