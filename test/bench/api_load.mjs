// api_load.mjs: the api benchmark's load generator (test/bench/api.sh). C concurrent clients for D
// seconds, each sending its next request as soon as the previous one is answered, over keep-alive
// connections (HTTP) or one WebSocket each (relay: REQ -> every EVENT -> EOSE, then CLOSE, then the next
// REQ). Prints one JSON line: requests, errors (non-200 / CLOSED / a wrong event count), requests/s and
// latency percentiles in ms, and this process's own CPU (client_cpu_pct, % of one core: near 100 the
// figure is the load generator's limit, not the api's). Answers are checked without parsing them (a
// JSON.parse of every 100 KB page would make node the bottleneck): events are counted by their
// '{"id":"' openings (inside a string a quote is escaped, so only an event's opening matches) and
// relay messages by their '["EVENT"' prefix. A short warm-up (1 s) is not counted.
//   node test/bench/api_load.mjs http URL C D [expected_events]
//   node test/bench/api_load.mjs ws   WS_URL C D FILTER_JSON [expected_events]
import http from 'node:http';
import WebSocket from 'ws';

const [mode, target, cStr, dStr, a5, a6] = process.argv.slice(2);
const C = Number(cStr || 8);
const D = Number(dStr || 10) * 1000;
const WARMUP = 1000;
const lat = [];
let errors = 0;
let firstError = null;
const t0 = Date.now();
const counting = () => Date.now() - t0 >= WARMUP;
const done = () => Date.now() - t0 >= WARMUP + D;

const EVENT_OPENING = Buffer.from('{"id":"');
const EVENT_PREFIX = Buffer.from('["EVENT"');
function countOpenings(buf) {
  let n = 0;
  for (let i = buf.indexOf(EVENT_OPENING); i !== -1; i = buf.indexOf(EVENT_OPENING, i + 1)) n++;
  return n;
}
let cpuAtStart = null;

function fail(why) {
  errors++;
  firstError ??= why;
}

async function httpClient(expected) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(target);
  while (!done()) {
    const s = process.hrtime.bigint();
    const { status, body } = await new Promise((resolve) => {
      const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent }, (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
      });
      req.on('error', (e) => resolve({ status: 0, body: Buffer.from(String(e)) }));
      req.end();
    });
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    if (!counting()) continue;
    if (status !== 200) { fail(`status ${status}: ${body.toString().slice(0, 200)}`); continue; }
    if (expected !== undefined) {
      const n = countOpenings(body);
      if (n !== expected) { fail(`${n} events, expected ${expected}`); continue; }
    }
    lat.push(ms);
  }
  agent.destroy();
}

async function wsClient(id, filter, expected) {
  const ws = new WebSocket(target);
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  let onEnd = null;
  let n = 0;
  ws.on('message', (d) => {
    if (d.length >= EVENT_PREFIX.length && d.subarray(0, EVENT_PREFIX.length).equals(EVENT_PREFIX)) { n++; return; }
    const m = JSON.parse(d.toString());
    if (m[0] === 'EOSE' || m[0] === 'CLOSED') onEnd?.(m);
  });
  let seq = 0;
  while (!done()) {
    const sub = `b${id}-${seq++}`;
    n = 0;
    const s = process.hrtime.bigint();
    const end = await new Promise((resolve) => { onEnd = resolve; ws.send(JSON.stringify(['REQ', sub, filter])); });
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    ws.send(JSON.stringify(['CLOSE', sub]));
    if (!counting()) continue;
    if (end[0] !== 'EOSE') { fail(JSON.stringify(end)); continue; }
    if (expected !== undefined && n !== expected) { fail(`${n} events, expected ${expected}`); continue; }
    lat.push(ms);
  }
  ws.close();
}

const clients = [];
for (let i = 0; i < C; i++) {
  if (mode === 'http') clients.push(httpClient(a5 === undefined ? undefined : Number(a5)));
  else clients.push(wsClient(i, JSON.parse(a5), a6 === undefined ? undefined : Number(a6)));
}
setTimeout(() => { cpuAtStart = process.cpuUsage(); }, WARMUP);
await Promise.all(clients);
const cpu = process.cpuUsage(cpuAtStart ?? undefined);
lat.sort((x, y) => x - y);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : NaN);
console.log(JSON.stringify({
  mode, clients: C, seconds: D / 1000, requests: lat.length, errors, first_error: firstError,
  rps: +(lat.length / (D / 1000)).toFixed(1), p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2),
  client_cpu_pct: +(((cpu.user + cpu.system) / 1000 / D) * 100).toFixed(0),
}));
process.exit(0);
