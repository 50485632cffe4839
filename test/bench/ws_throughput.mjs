// ws_throughput.mjs: how fast src/net/ws_client.c takes in relay-shaped traffic. A `ws` server on
// loopback streams N EVENT messages (a real signed event, ~0.5 KB) then an EOSE on each of C
// connections; the probe (test/net) receives them all on one loop without printing them and closes
// on EOSE. Node's sending side may well be the bottleneck: the figure is a floor, not a ceiling.
//
//   node test/bench/ws_throughput.mjs [messages-per-connection=50000] [connections=1,10]
import http from 'node:http';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const N = Number(process.argv[2] || 50000);
const CONNS = (process.argv[3] || '1,10').split(',').map(Number);

execFileSync('make', ['-s', '-C', path.join(ROOT, 'test/net')], { stdio: 'inherit' });
const event = finalizeEvent({ kind: 1, tags: [['t', 'bench']], content: 'x'.repeat(280),
  created_at: Math.floor(Date.now() / 1000) }, generateSecretKey());
const message = JSON.stringify(['EVENT', 'bench', event]);

const server = http.createServer();
new WebSocketServer({ server }).on('connection', (ws) => {
  ws.on('error', () => {});
  let sent = 0;
  const pump = () => {
    while (sent < N && ws.bufferedAmount < (4 << 20)) { ws.send(message); sent++; }
    if (sent < N) setImmediate(pump); else ws.send('["EOSE","bench"]');
  };
  pump();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `ws://127.0.0.1:${server.address().port}/`;

console.log(`message size ${message.length} bytes, ${N} messages per connection`);
let cpu;
for (const c of CONNS) {
  const started = process.cpuUsage();
  const { stdout } = await run('/usr/bin/time', ['-f', '%U %S', path.join(ROOT, 'test/net/bin/ws_client_probe'),
    '--allow-private', '--quiet', '--count', String(c), '--timeout', '60000', '--run', '600000', '--close-on', '["EOSE"', url],
    { maxBuffer: 16 << 20 }).then((r) => { cpu = r.stderr.trim().split('\n').at(-1); return r; });
  const server_cpu = process.cpuUsage(started);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
  const s = lines.at(-1);
  const reasons = {};
  for (const l of lines) if (l.ev === 'close') reasons[l.reason] = (reasons[l.reason] ?? 0) + 1;
  const secs = s.elapsed_ms / 1000;
  console.log(`${c} connection(s): ${s.messages} messages, ${(s.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s` +
    ` = ${Math.round(s.messages / secs)} messages/s, ${(s.bytes / 1e6 / secs).toFixed(1)} MB/s` +
    ` (longest slice ${s.max_slice_ms} ms; probe CPU user+sys ${cpu} s,` +
    ` node server CPU ${((server_cpu.user + server_cpu.system) / 1e6).toFixed(2)} s; closes ${JSON.stringify(reasons)})`);
}
server.close();
process.exit(0);
