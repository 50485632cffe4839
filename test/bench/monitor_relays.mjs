// monitor_relays.mjs: many responsive relays on a few loopback ports for the monitor benchmark. Each
// path is its own relay (ws://127.0.0.1:PORT/r0001 ...): NIP-11 on GET, EOSE after one stored event
// to a REQ, and a real signature check (nostr-tools) before OK true to an EVENT. Also one "dead"
// port that accepts TCP and never answers. Prints one JSON line {ports, dead} when listening.
//
//   node test/bench/monitor_relays.mjs [ports=4]
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { verifyEvent } from 'nostr-tools/pure';

const STORED = { id: 'a'.repeat(64), pubkey: 'b'.repeat(64), created_at: 1700000000, kind: 1, tags: [], content: 'hello', sig: 'c'.repeat(128) };

async function serve() {
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    res.writeHead(200, { 'content-type': 'application/nostr+json' });
    res.end(JSON.stringify({ name: `bench ${path}`, supported_nips: [1, 11], software: 'bench', version: '1', limitation: { max_limit: 500 } }));
  });
  const wss = new WebSocketServer({ server, maxPayload: 1 << 20 });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data) => {
      let msg;
      try { msg = JSON.parse(String(data)); } catch { return; }
      if (msg[0] === 'REQ') {
        ws.send(JSON.stringify(['EVENT', msg[1], STORED]));
        ws.send(JSON.stringify(['EOSE', msg[1]]));
      } else if (msg[0] === 'EVENT') {
        const ok = verifyEvent(msg[1]);
        ws.send(JSON.stringify(['OK', msg[1].id, ok, ok ? '' : 'invalid: bad signature']));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

const n = Number(process.argv[2] || 4);
const ports = [];
for (let i = 0; i < n; i++) ports.push(await serve());
const dead = net.createServer((s) => s.on('error', () => {}));
await new Promise((resolve) => dead.listen(0, '127.0.0.1', resolve));
console.log(JSON.stringify({ ports, dead: dead.address().port }));
