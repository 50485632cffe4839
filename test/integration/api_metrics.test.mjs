// api_metrics.test.mjs: the api's GET /metrics, /ready and NIP-11 document on a live cluster with two
// api workers. /metrics is parsed by a strict reader of the Prometheus text format 0.0.4 written here
// (HELP/TYPE before samples, one TYPE per family, a family's samples together, no duplicate series,
// only the format's label escapes, cumulative histograms whose _count is the +Inf bucket), and its
// counters must move by exactly the requests made over fresh connections spread across both
// workers (shared memory); the archive and service gauges must equal the archive and
// bigbrotr_status(); /ready must answer 200 and, while the database does not answer (a lock held
// past the statement timeout, the api role denied its function), 503 not_ready; the NIP-11
// limitation must follow the GUCs after a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import { sql, connect, setConfig, waitFor, freshExtension, sleep } from './lib/cluster.mjs';
import { signed, archive } from './lib/events.mjs';

const PORT = 57781;
const SETTINGS = ['bigbrotr.api_listen_address', 'bigbrotr.api_port', 'bigbrotr.api_workers', 'bigbrotr.api_interval',
  'bigbrotr.api_statement_timeout', 'bigbrotr.api_max_limit', 'bigbrotr.api_max_subscriptions', 'bigbrotr.api_max_body_bytes'];

function figure(line) {
  console.log(`# ${line}`);
  if (process.env.BB_FIGURES_FILE) fs.appendFileSync(process.env.BB_FIGURES_FILE, `${line}\n`);
}

// One request on a connection of its own (agent: false), so the kernel spreads them over the workers.
function request(path, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, path, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

// A request line written byte for byte (node's client refuses some of these paths); the status.
function rawStatus(path) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(PORT, '127.0.0.1', () => sock.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let got = '';
    sock.on('data', (c) => { got += c.toString('latin1'); });
    sock.on('end', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1])));
    sock.on('error', reject);
  });
}

// ---- a strict reader of the text format 0.0.4 ----

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s, what) {
  if (s === 'NaN') return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  assert.match(s, /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/, `${what}: value ${JSON.stringify(s)}`);
  return Number(s);
}

// Labels text between the braces -> [[name, value], ...]; only \\ \" \n escapes.
function parseLabels(s, what) {
  const out = [];
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    assert.ok(eq > i, `${what}: label name expected at ${i}`);
    const name = s.slice(i, eq);
    assert.match(name, LABEL_NAME, `${what}: label name ${JSON.stringify(name)}`);
    assert.equal(s[eq + 1], '"', `${what}: label value not quoted`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      assert.ok(j < s.length, `${what}: unterminated label value`);
      const c = s[j];
      if (c === '"') break;
      assert.notEqual(c, '\n', `${what}: raw line feed in a label value`);
      if (c === '\\') {
        const e = s[j + 1];
        assert.ok(e === '\\' || e === '"' || e === 'n', `${what}: bad escape \\${e}`);
        value += e === 'n' ? '\n' : e;
        j += 2;
      } else {
        value += c;
        j++;
      }
    }
    out.push([name, value]);
    i = j + 1;
    if (i < s.length) {
      assert.equal(s[i], ',', `${what}: comma expected between labels`);
      i++;
    }
  }
  const names = out.map(([n]) => n);
  assert.equal(new Set(names).size, names.length, `${what}: a label name twice`);
  return out;
}

// Returns { families: Map(name -> {type, help, samples: [{name, labels (object), value}]}), text }.
function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  assert.ok(!text.includes('\r'), 'no carriage return');
  const families = new Map();
  const series = new Set();
  const closed = new Set();
  let current = null;
  const familyOf = (sampleName) => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = sampleName.endsWith(suffix) ? sampleName.slice(0, -suffix.length) : null;
      if (base && families.get(base)?.type === 'histogram') return base;
    }
    return sampleName;
  };
  const lines = text.slice(0, -1).split('\n');
  for (const [n, line] of lines.entries()) {
    const what = `line ${n + 1} ${JSON.stringify(line.slice(0, 120))}`;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m;
      assert.match(name, NAME, `${what}: metric name`);
      assert.ok(!closed.has(name), `${what}: ${name} comes back after other families`);
      if (current && current !== name) closed.add(current);
      current = name;
      const f = families.get(name) ?? { help: null, type: null, samples: [] };
      families.set(name, f);
      if (kind === 'HELP') {
        assert.equal(f.help, null, `${what}: HELP twice`);
        assert.ok(!/\\[^\\n]/.test(rest.replace(/\\\\/g, '')), `${what}: HELP escapes only \\\\ and \\n`);
        f.help = rest;
      } else {
        assert.equal(f.type, null, `${what}: TYPE twice`);
        assert.equal(f.samples.length, 0, `${what}: TYPE after samples`);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `${what}: type ${rest}`);
        f.type = rest;
      }
      continue;
    }
    assert.ok(line.length > 0, `${what}: empty line`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    assert.ok(m, `${what}: not a sample line`);
    const [, sampleName, , labelText, valueText] = m;
    const family = familyOf(sampleName);
    assert.ok(!closed.has(family), `${what}: a sample of ${family} after other families`);
    if (current !== family) {
      if (current) closed.add(current);
      current = family;
    }
    const f = families.get(family) ?? { help: null, type: null, samples: [] };
    families.set(family, f);
    const labels = parseLabels(labelText ?? '', what);
    const key = sampleName + JSON.stringify([...labels].sort());
    assert.ok(!series.has(key), `${what}: duplicate series`);
    series.add(key);
    f.samples.push({ name: sampleName, labels: Object.fromEntries(labels), value: parseValue(valueText, what) });
  }
  // Histograms: per label set without le, buckets ascending and cumulative, +Inf last, _count = +Inf.
  for (const [name, f] of families) {
    if (f.type !== 'histogram') continue;
    const groups = new Map();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const g = groups.get(key) ?? { buckets: [], sum: null, count: null, labels: rest };
      groups.set(key, g);
      if (s.name === `${name}_bucket`) g.buckets.push([parseValue(le, `${name} le`), s.value]);
      else if (s.name === `${name}_sum`) g.sum = s.value;
      else if (s.name === `${name}_count`) g.count = s.value;
    }
    for (const g of groups.values()) {
      const what = `${name}${JSON.stringify(g.labels)}`;
      assert.ok(g.buckets.length > 0 && g.sum !== null && g.count !== null, `${what}: buckets, _sum and _count`);
      for (let i = 1; i < g.buckets.length; i++) {
        assert.ok(g.buckets[i][0] > g.buckets[i - 1][0], `${what}: le ascending`);
        assert.ok(g.buckets[i][1] >= g.buckets[i - 1][1], `${what}: buckets cumulative`);
      }
      assert.equal(g.buckets.at(-1)[0], Infinity, `${what}: +Inf bucket last`);
      assert.equal(g.count, g.buckets.at(-1)[1], `${what}: _count equals the +Inf bucket`);
      assert.ok(g.sum >= 0, `${what}: _sum`);
    }
    f.histograms = groups;
  }
  for (const [name, f] of families) {
    assert.ok(f.type, `${name}: has a TYPE`);
    assert.ok(f.help, `${name}: has a HELP`);
  }
  return families;
}

async function scrape() {
  const r = await request('/metrics');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4');
  return { families: parseExposition(r.text), text: r.text };
}

const sample = (families, name, labels = {}) => {
  const fam = families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? families.get(name);
  if (!fam) return undefined;
  const s = fam.samples.find((x) => x.name === name && JSON.stringify(Object.entries(x.labels).sort()) === JSON.stringify(Object.entries(labels).sort()));
  return s?.value;
};
const requests = (f, endpoint, status) => sample(f, 'bigbrotr_api_requests_total', { endpoint, status: String(status) }) ?? 0;
const histCount = (f, endpoint) => sample(f, 'bigbrotr_api_request_duration_seconds_count', { endpoint });

before(async () => {
  await freshExtension();
  await setConfig({
    'bigbrotr.api_listen_address': '127.0.0.1', 'bigbrotr.api_port': PORT, 'bigbrotr.api_workers': 2,
    'bigbrotr.api_interval': 1,
  });
  await sql("SELECT bigbrotr_start('api')");
  await waitFor('the api answering /health', async () => (await request('/health').catch(() => ({}))).status === 200);
  await waitFor('/ready answering 200', async () => (await request('/ready')).status === 200);
});

after(async () => {
  await sql("SELECT bigbrotr_stop('api')").catch(() => {});
  await waitFor('the api processes gone', async () =>
    (await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr api%'"))[0].n === 0).catch(() => {});
  const reset = {};
  for (const s of SETTINGS) reset[s] = null;
  await setConfig(reset);
});

test('counters move by exactly the requests made, summed over both workers', async () => {
  const m0 = await scrape();
  const pids = new Set();
  let healths = 0;
  // Fresh connections until both workers served some (the kernel spreads them by hash), 20 at least.
  while (healths < 20 || (pids.size < 2 && healths < 200)) {
    pids.add(JSON.parse((await request('/health')).text).pid);
    healths++;
  }
  for (let i = 0; i < 3; i++) assert.equal((await request('/v1/stats')).status, 200);
  for (let i = 0; i < 4; i++) assert.equal((await request('/v1/relays?network=moon')).status, 400);
  for (let i = 0; i < 5; i++) assert.equal((await request(`/no/such/path/${i}`)).status, 404);
  for (let i = 0; i < 2; i++) assert.equal((await request('/health', { method: 'POST' })).status, 405);
  assert.ok(pids.size >= 2, `${healths} fresh connections reached ${pids.size} worker(s); both workers must have served`);

  // One scrape, by whichever worker, sees every /health request although both workers served
  // them: the counters are shared, not per process.
  const m1 = await scrape();
  const d = (endpoint, status) => requests(m1.families, endpoint, status) - requests(m0.families, endpoint, status);
  assert.equal(d('/health', 200), healths);
  assert.equal(d('/metrics', 200), 1, 'the scrape before counted (a scrape is counted after its answer)');
  assert.equal(d('/v1/stats', 200), 3);
  assert.equal(d('/v1/relays', 400), 4);
  assert.equal(d('unmatched', 404), 5);
  assert.equal(d('unmatched', 405), 2, 'a path with other methods only is unmatched too (405)');
  assert.equal(d('/v1/relays', 200), 0);

  // Histogram counts move with the requests of their endpoint (all statuses).
  const hc = (e) => histCount(m1.families, e) - histCount(m0.families, e);
  assert.equal(hc('/health'), healths);
  assert.equal(hc('/v1/stats'), 3);
  assert.equal(hc('/v1/relays'), 4);
  assert.equal(hc('unmatched'), 7);
  // And for every endpoint the histogram count equals the sum of its status counters.
  for (const [, g] of m1.families.get('bigbrotr_api_request_duration_seconds').histograms) {
    const total = m1.families.get('bigbrotr_api_requests_total').samples
      .filter((s) => s.labels.endpoint === g.labels.endpoint).reduce((a, s) => a + s.value, 0);
    assert.equal(g.count, total, `${g.labels.endpoint}: histogram count = sum of requests_total`);
  }
  figure(`api metrics: one scrape is ${Buffer.byteLength(m1.text)} bytes, ${m1.text.split('\n').length - 1} lines`);
});

test('odd paths never become labels; the exposition stays valid', async () => {
  const m0 = await scrape();
  const odd = ['/a"b', '/back\\slash', '/x%0Ay%22z', '/x%0Dy', '/%7B%7D%3D', `/${'long'.repeat(500)}`];
  for (const p of odd) assert.equal(await rawStatus(p), 404, p);
  // Decoded control characters: a tab reaches the server and is refused (400); at a decoded CR or
  // line feed libwebsockets itself ends the path, so this one is served as /metrics, never as a label.
  const controls = ['/metrics%09x', '/v1/stats%09x'];
  for (const p of controls) assert.equal(await rawStatus(p), 400, p);
  assert.equal(await rawStatus('/metrics%0A%23%20TYPE%20x%20counter'), 200);
  const m1 = await scrape();
  assert.equal(requests(m1.families, 'unmatched', 404) - requests(m0.families, 'unmatched', 404), odd.length);
  assert.equal(requests(m1.families, 'unmatched', 400) - requests(m0.families, 'unmatched', 400), controls.length);
  for (const s of ['a"b', 'a\\"b', 'back', 'longlong', '# TYPE x']) assert.ok(!m1.text.includes(s), `the exposition holds no trace of ${s}`);
  const endpoints = new Set(m1.families.get('bigbrotr_api_requests_total').samples.map((s) => s.labels.endpoint));
  for (const e of endpoints) assert.ok(e === 'unmatched' || e === 'websocket' || e.startsWith('/'), e);
});

test('archive gauges equal the archive; service gauges equal bigbrotr_status()', async () => {
  const now = Math.floor(Date.now() / 1000);
  const relays = ['wss://one.example.com', 'wss://two.example.com', 'wss://three.example.com'];
  for (let i = 0; i < 12; i++) await archive(signed({ created_at: now - i * 60, content: `g${i}` }), relays[i % 3], now);
  for (let i = 0; i < 4; i++) await archive(signed({ created_at: now - i }), relays[0], now);
  await sql('ANALYZE bigbrotr.events_relays');
  const [truth] = await sql(`SELECT (SELECT count(*) FROM bigbrotr.events)::int8 AS events, (SELECT count(*) FROM bigbrotr.relays)::int8 AS relays,
                                    (SELECT count(*) FROM bigbrotr.events_relays)::int8 AS sightings`);
  assert.equal(Number(truth.events), 16);
  // events come from the stats table, which the coordinator folds every cycle (api_interval 1 s).
  const m = await waitFor('bigbrotr_archive_events to reach the archive', async () => {
    const s = await scrape();
    return sample(s.families, 'bigbrotr_archive_events') === Number(truth.events) ? s : null;
  });
  assert.equal(sample(m.families, 'bigbrotr_archive_relays'), Number(truth.relays), 'relays exact');
  assert.equal(sample(m.families, 'bigbrotr_archive_sightings'), Number(truth.sightings), 'sightings: reltuples after ANALYZE');
  assert.equal(sample(m.families, 'bigbrotr_api_database_up'), 1);
  assert.equal(m.families.get('bigbrotr_archive_events').type, 'gauge');
  assert.equal(m.families.get('bigbrotr_service_cycles_total').type, 'counter');

  // Services: the api's own numbers move while we look; the others stand still.
  const before = await sql('SELECT * FROM bigbrotr.bigbrotr_status() ORDER BY name');
  const s = await scrape();
  const afterRows = await sql('SELECT * FROM bigbrotr.bigbrotr_status() ORDER BY name');
  assert.ok(before.length >= 5, 'every service has a row');
  for (const [i, row] of before.entries()) {
    const l = { service: row.name };
    const cycles = sample(s.families, 'bigbrotr_service_cycles_total', l);
    const failed = sample(s.families, 'bigbrotr_service_cycles_failed_total', l);
    const running = sample(s.families, 'bigbrotr_service_running', l);
    if (row.name === 'api') {
      assert.ok(cycles >= Number(row.cycles_run) && cycles <= Number(afterRows[i].cycles_run), `api cycles ${cycles}`);
      assert.equal(running, 1);
    } else {
      assert.equal(cycles, Number(row.cycles_run), `${row.name} cycles`);
      assert.equal(failed, Number(row.cycles_failed), `${row.name} failed cycles`);
      assert.equal(running, row.running ? 1 : 0, `${row.name} running`);
    }
  }
});

test('/ready: 200 with the services; 503 not_ready while the database does not answer', async () => {
  const r = await request('/ready');
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text);
  const status = await sql('SELECT name, enabled, running FROM bigbrotr.bigbrotr_status() ORDER BY name');
  assert.deepEqual(body.services.map((s) => s.name).sort(), status.map((s) => s.name).sort());
  assert.equal(body.services.find((s) => s.name === 'api').running, true);
  assert.equal(body.services.find((s) => s.name === 'finder').enabled, false);

  // 1. A lock held past the statement timeout: the query never answers in time.
  await setConfig({ 'bigbrotr.api_statement_timeout': '300ms' });
  await sleep(1500); // the reload reaches both workers
  const holder = await connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE bigbrotr.service_status IN ACCESS EXCLUSIVE MODE');
    for (let i = 0; i < 4; i++) {
      const x = await request('/ready');
      assert.equal(x.status, 503, x.text);
      assert.equal(JSON.parse(x.text).error, 'not_ready');
      // /metrics still answers, without the gauges, and says so.
      const m = await scrape();
      assert.equal(sample(m.families, 'bigbrotr_api_database_up'), 0);
      assert.equal(sample(m.families, 'bigbrotr_archive_events'), undefined);
    }
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end();
  }
  await setConfig({ 'bigbrotr.api_statement_timeout': null });
  await waitFor('/ready 200 again after the lock', async () => (await request('/ready')).status === 200);

  // 2. The api role denied the function /ready calls (checked at every execution).
  await sql('REVOKE EXECUTE ON FUNCTION bigbrotr.api_services() FROM PUBLIC, bigbrotr_api');
  try {
    for (let i = 0; i < 4; i++) {
      const x = await request('/ready');
      assert.equal(x.status, 503, x.text);
      assert.match(JSON.parse(x.text).message, /permission denied/);
    }
  } finally {
    await sql('GRANT EXECUTE ON FUNCTION bigbrotr.api_services() TO PUBLIC, bigbrotr_api');
  }
  for (let i = 0; i < 4; i++) assert.equal((await request('/ready')).status, 200);
});

test('the NIP-11 document follows the GUCs after a reload', async () => {
  const nip11 = async () => {
    const r = await request('/', { headers: { Accept: 'application/nostr+json' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    return JSON.parse(r.text);
  };
  const d0 = await nip11();
  assert.deepEqual(d0.supported_nips, [1, 11, 45]);
  assert.equal(d0.limitation.max_limit, 500);
  await setConfig({ 'bigbrotr.api_max_limit': 123, 'bigbrotr.api_max_subscriptions': 7, 'bigbrotr.api_max_body_bytes': 4096 });
  // Every worker: ten fresh connections in a row all show the new values.
  await waitFor('both workers serving the new limitation', async () => {
    for (let i = 0; i < 10; i++) {
      const d = await nip11();
      if (d.limitation.max_limit !== 123 || d.limitation.max_subscriptions !== 7 || d.limitation.max_message_length !== 4096) return false;
    }
    return true;
  });
  const d1 = await nip11();
  assert.deepEqual(d1.limitation, { max_limit: 123, max_subscriptions: 7, max_message_length: 4096, restricted_writes: true, auth_required: false, payment_required: false });
  const idx = await request('/');
  assert.deepEqual(Object.keys(JSON.parse(idx.text)), ['name', 'version', 'endpoints']);
  await setConfig({ 'bigbrotr.api_max_limit': null, 'bigbrotr.api_max_subscriptions': null, 'bigbrotr.api_max_body_bytes': null });
});
