// ws_client.test.mjs: the WebSocket client layer (src/net/ws_client.c) through its probe program
// (test/net/ws_client_probe.c) against real servers on loopback: the npm relay, `ws` servers that
// misbehave, a TLS server with a self-signed certificate made by openssl at test time, a silent TCP
// server and a CONNECT proxy standing in for Tor. Every run also checks the probe's own bookkeeping:
// each connection closed exactly once and no callback after its close.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { startRealRelay } from '../fixtures/real_relay.mjs';
import { startConnectProxy } from '../fixtures/connect_proxy.mjs';
import { SLOWNESS } from './lib/slowness.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// BB_WS_PROBE=san runs the AddressSanitizer build; BB_WS_PROBE=valgrind runs the plain one under
// valgrind (errors make the probe exit non-zero, which fails the test).
const MODE = process.env.BB_WS_PROBE || '';
const PROBE = path.join(ROOT, MODE === 'san' ? 'test/net/bin/ws_client_probe_san' : 'test/net/bin/ws_client_probe');
const WRAP = MODE === 'valgrind'
  ? ['valgrind', ['-q', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite',
    `--suppressions=${path.join(ROOT, 'test/net/valgrind.supp')}`]]
  : null;
// Every time bound below scales with SLOW: the probe's mode times the machine's BB_SLOWNESS.
const SLOW = (MODE === 'valgrind' ? 10 : MODE === 'san' ? 3 : 1) * SLOWNESS;
const ms = (x) => String(Math.ceil(x * SLOW));
// Fake but well-formed v3 onion names (key, checksum, version): relay URL parsing rejects made-up ones.
function fakeOnion(seed) {
  const key = crypto.createHash('sha256').update(seed).digest();
  const version = Buffer.from([3]);
  const checksum = crypto.createHash('sha3-256')
    .update(Buffer.concat([Buffer.from('.onion checksum'), key, version])).digest().subarray(0, 2);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0; let value = 0; let out = '';
  for (const byte of Buffer.concat([key, checksum, version])) {
    value = ((value << 8) | byte) & 0xffff; bits += 8;
    while (bits >= 5) { out += alphabet[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  return `${out}.onion`;
}
const ONION = fakeOnion('bigbrotr ws_client test relay');

let relay;
let events;
let misbehaving;
let misbehavingConnections = 0;
let silent;
let silentSockets = [];
let tls;
let tmp;
let closedPort;

async function probe(args) {
  // The probe's default connection timeout (5 s) and run (20 s), scaled; later arguments override.
  const scaledArgs = ['--timeout', ms(5000), '--run', ms(20000), ...args];
  const [cmd, argv] = WRAP ? [WRAP[0], [...WRAP[1], PROBE, ...scaledArgs]] : [PROBE, scaledArgs];
  const { stdout } = await run(cmd, argv, { maxBuffer: 64 << 20, timeout: Math.ceil(60000 * SLOW) });
  const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const summary = lines.find((l) => l.ev === 'summary');
  assert.ok(summary, `the probe printed a summary:\n${stdout}`);
  // The contract, checked on every run.
  assert.equal(summary.double_closes, 0, 'no connection is closed twice');
  assert.equal(summary.missing_closes, 0, 'every connection gets its on_close');
  assert.equal(summary.after_close, 0, 'no callback after on_close');
  const closes = lines.filter((l) => l.ev === 'close');
  assert.equal(closes.length, summary.conns - summary.connect_errors, 'one close line per started connection');
  assert.ok(summary.max_slice_ms < summary.slice_ms + 2000 * SLOW,
    `ws_loop_run returns about when asked (longest slice ${summary.max_slice_ms} ms)`);
  return {
    lines, summary, closes,
    opens: lines.filter((l) => l.ev === 'open'),
    messages: lines.filter((l) => l.ev === 'message'),
    reasons: closes.map((c) => c.reason),
  };
}

function listenOn(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// One ws server, behaviour chosen by path.
function misbehave(ws, req) {
  misbehavingConnections++;
  ws.on('error', () => {});
  const url = req.url;
  if (url === '/huge') {
    ws.send('x'.repeat(1536 * 1024));
  } else if (url === '/fragments') {
    ws.send('["NOTICE",', { fin: false });
    ws.send('"hello', { fin: false });
    ws.send(' world"]', { fin: true });
    const part = 'y'.repeat(50 * 1024);
    for (let i = 0; i < 9; i++) ws.send(part, { fin: false });
    ws.send(part, { fin: true });
    ws.send('');
    ws.send('["EOSE","done"]');
  } else if (url === '/fragments-too-large') {
    const part = 'z'.repeat(200 * 1024);
    for (let i = 0; i < 9; i++) ws.send(part, { fin: false });
    ws.send(part, { fin: true });
  } else if (url === '/midclose') {
    ws.send('["EVENT","s",{"half":', { fin: false });
    setTimeout(() => ws._socket.destroy(), 100);
  } else if (url === '/close') {
    ws.close(4000, 'bye now');
  } else if (url === '/binary') {
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send('["NOTICE","after binary"]');
  } else if (url.startsWith('/whoami')) {
    ws.send(JSON.stringify({ url, host: req.headers.host, ua: req.headers['user-agent'] }));
  } else if (url === '/echo') {
    ws.on('message', (data) => ws.send(String(data)));
  }
}

before(async () => {
  execFileSync('make', ['-s', '-C', path.join(ROOT, 'test/net'), ...(MODE === 'san' ? ['SAN=1'] : [])],
    { stdio: 'inherit' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-ws-'));

  relay = await startRealRelay({ port: 0 });
  const sk = generateSecretKey();
  const now = Math.floor(Date.now() / 1000);
  events = Array.from({ length: 8 }, (_, i) =>
    finalizeEvent({ kind: 1, tags: [], content: `ws client test ${i}`, created_at: now - i }, sk));
  await relay.load(events);

  const plain = http.createServer();
  new WebSocketServer({ server: plain, verifyClient: ({ req }) => req.url !== '/reject' })
    .on('connection', misbehave);
  misbehaving = { server: plain, port: await listenOn(plain) };

  silent = net.createServer((socket) => { silentSockets.push(socket); socket.on('error', () => {}); });
  silent.port = await listenOn(silent);

  const dead = net.createServer();
  closedPort = await listenOn(dead);
  await new Promise((resolve) => dead.close(resolve));

  // A certificate for "localhost" only, signed by nobody the system trusts.
  const key = path.join(tmp, 'key.pem');
  const cert = path.join(tmp, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  const serverNames = [];
  const secure = https.createServer({
    key: fs.readFileSync(key), cert: fs.readFileSync(cert),
    SNICallback: (name, cb) => { serverNames.push(name); cb(null, undefined); },
  });
  new WebSocketServer({ server: secure }).on('connection', misbehave);
  tls = { server: secure, port: await listenOn(secure), cert, serverNames };
});

after(async () => {
  await relay?.close();
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  misbehaving?.server.closeAllConnections?.();
  await new Promise((resolve) => misbehaving?.server.close(resolve));
  tls?.server.closeAllConnections?.();
  await new Promise((resolve) => tls?.server.close(resolve));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const REQ = JSON.stringify(['REQ', 'sub1', { kinds: [1], limit: 100 }]);

test('opens, sends a REQ queued before the handshake, receives every EVENT and the EOSE from the real relay', async () => {
  const r = await probe(['--allow-private', '--send', REQ, '--close-on', '["EOSE"', relay.url]);
  assert.equal(r.opens.length, 1);
  const got = r.messages.map((m) => JSON.parse(m.data));
  const ids = got.filter((m) => m[0] === 'EVENT').map((m) => m[2].id).sort();
  assert.deepEqual(ids, events.map((e) => e.id).sort());
  assert.deepEqual(got.at(-1), ['EOSE', 'sub1']);
  assert.deepEqual(r.reasons, ['normal']);
});

test('the relay sees its own name in Host, our User-Agent and the path with its query', async () => {
  // Connected to the resolved 127.0.0.1, but the HTTP layer speaks to "localhost".
  const r = await probe(['--allow-private', '--close-on', '{', `ws://localhost:${misbehaving.port}/whoami?a=1&b=%20`]);
  assert.deepEqual(JSON.parse(r.messages[0].data),
    { url: '/whoami?a=1&b=%20', host: `localhost:${misbehaving.port}`, ua: 'bigbrotr-ws-probe' });
  assert.deepEqual(r.reasons, ['normal']);
});

test('200 concurrent connections on one loop each get their events and close normally', async () => {
  const req = JSON.stringify(['REQ', 'many', { kinds: [1], limit: 3 }]);
  const r = await probe(['--allow-private', '--count', '200', '--timeout', ms(20000),
    '--run', ms(50000),
    '--send', req, '--close-on', '["EOSE"', relay.url]);
  assert.equal(r.summary.conns, 200);
  assert.equal(r.summary.opened, 200);
  assert.ok(r.reasons.every((x) => x === 'normal'), `all normal: ${[...new Set(r.reasons)]}`);
  const perConn = new Map();
  for (const m of r.messages) perConn.set(m.conn, (perConn.get(m.conn) ?? 0) + 1);
  assert.equal(perConn.size, 200);
  assert.ok([...perConn.values()].every((n) => n === 4), 'three events and an EOSE on every connection');
});

test('a refused TCP connection is connect_failed', async () => {
  const r = await probe(['--allow-private', `ws://127.0.0.1:${closedPort}`]);
  assert.deepEqual(r.reasons, ['connect_failed']);
  assert.match(r.closes[0].detail, new RegExp(`127\\.0\\.0\\.1 port ${closedPort}`));
  assert.equal(r.opens.length, 0);
});

test('a server that refuses the upgrade is connect_failed', async () => {
  const r = await probe(['--allow-private', `ws://127.0.0.1:${misbehaving.port}/reject`]);
  assert.deepEqual(r.reasons, ['connect_failed']);
  assert.equal(r.opens.length, 0);
});

test('a server that accepts TCP and never answers the handshake times out', async () => {
  const r = await probe(['--allow-private', '--timeout', '1000', `ws://127.0.0.1:${silent.port}`]);
  assert.deepEqual(r.reasons, ['timeout']);
  assert.ok(r.closes[0].ms >= 900, `not before the timeout (${r.closes[0].ms} ms)`);
  assert.ok(silentSockets.length >= 1, 'the TCP connection was made');
});

test('a message over max_message_size closes with too_large, single frame or fragmented', async () => {
  const base = `ws://127.0.0.1:${misbehaving.port}`;
  const r = await probe(['--allow-private', '--max-message', String(1 << 20), `${base}/huge`,
    `${base}/fragments-too-large`]);
  assert.deepEqual(r.reasons, ['too_large', 'too_large']);
  assert.equal(r.messages.length, 0);
});

test('fragmented messages are reassembled; binary messages are not delivered as text', async () => {
  const base = `ws://127.0.0.1:${misbehaving.port}`;
  const r = await probe(['--allow-private', '--close-on', '["EOSE"', `${base}/fragments`]);
  const data = r.messages.map((m) => m.data);
  assert.deepEqual(data[0], '["NOTICE","hello world"]');
  assert.equal(data[1], 'y'.repeat(500 * 1024));
  assert.equal(data[2], '', 'an empty message is a message');
  assert.equal(data[3], '["EOSE","done"]');
  assert.deepEqual(r.reasons, ['normal']);

  const b = await probe(['--allow-private', '--run', ms(1500), `${base}/binary`]);
  assert.deepEqual(b.messages.map((m) => m.data), ['["NOTICE","after binary"]']);
  assert.deepEqual(b.reasons, ['shutdown'], 'still open when the loop is destroyed');
});

test('a peer closing, or dropping mid-message, is remote; nothing half-received is delivered', async () => {
  const base = `ws://127.0.0.1:${misbehaving.port}`;
  const r = await probe(['--allow-private', `${base}/close`, `${base}/midclose`]);
  assert.deepEqual(r.reasons, ['remote', 'remote']);
  assert.match(r.closes.find((c) => c.conn === 0).detail, /4000 bye now/);
  assert.equal(r.messages.length, 0);
});

test('ws_close before and after the handshake, and loop destruction, each close exactly once', async () => {
  const base = `ws://127.0.0.1:${misbehaving.port}`;
  // close-after 0: closed right after the first slice, whatever state each connection is in.
  const early = await probe(['--allow-private', '--count', '5', '--close-after', '0', '--slice', '1', `${base}/echo`,
    `ws://127.0.0.1:${silent.port}`]);
  assert.ok(early.reasons.every((x) => x === 'normal'), `${early.reasons}`);
  const late = await probe(['--allow-private', '--close-after', ms(500), '--send', 'ping-1', '--send', 'ping-2',
    `${base}/echo`]);
  assert.deepEqual(late.messages.map((m) => m.data), ['ping-1', 'ping-2'], 'queued messages go out in order');
  assert.deepEqual(late.reasons, ['normal']);
  const destroyed = await probe(['--allow-private', '--run', '400', `${base}/echo`, `ws://127.0.0.1:${silent.port}`]);
  assert.deepEqual(destroyed.reasons, ['shutdown', 'shutdown']);
});

test('TLS: a self-signed certificate is connect_failed; trusted, it opens; a name mismatch fails', async () => {
  const url = `wss://localhost:${tls.port}/echo`;
  const untrusted = await probe(['--allow-private', url]);
  assert.deepEqual(untrusted.reasons, ['connect_failed']);
  assert.match(untrusted.closes[0].detail, /TLS certificate of localhost rejected: self-signed/);
  assert.equal(untrusted.opens.length, 0);

  tls.serverNames.length = 0;
  const trusted = await probe(['--allow-private', '--ca', tls.cert, '--send', 'over tls', '--close-after', ms(500), url]);
  assert.equal(trusted.opens.length, 1);
  assert.deepEqual(trusted.messages.map((m) => m.data), ['over tls']);
  assert.deepEqual(tls.serverNames, ['localhost'], 'SNI carries the name, though the connection went to 127.0.0.1');

  // Same server and CA, but the certificate names "localhost", not 127.0.0.1.
  const mismatch = await probe(['--allow-private', '--ca', tls.cert, `wss://127.0.0.1:${tls.port}/echo`]);
  assert.deepEqual(mismatch.reasons, ['connect_failed']);
  assert.match(mismatch.closes[0].detail, /mismatch/);
});

test('private targets are refused, by literal and after resolution, without touching the server', async () => {
  const before = misbehavingConnections;
  const r = await probe([`ws://127.0.0.1:${misbehaving.port}/echo`, `ws://localhost:${misbehaving.port}/echo`,
    `ws://[::1]:${misbehaving.port}/echo`, `ws://10.1.2.3:${misbehaving.port}/`,
    `ws://[::ffff:127.0.0.1]:${misbehaving.port}/echo`, 'ws://169.254.169.254/', 'ws://[fd00::1]/']);
  assert.deepEqual(r.reasons, Array(7).fill('refused_private_address'));
  assert.match(r.closes.find((c) => c.conn === 4).detail, /not a public address \(loopback\)/);
  assert.match(r.closes.find((c) => c.conn === 1).detail, /localhost resolves to 127\.0\.0\.1, not a public address \(loopback\)/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(misbehavingConnections, before, 'no connection reached the server');
});

test('an unknown host name is connect_failed; bad URLs and Tor without a proxy are refused up front', async () => {
  const r = await probe(['--allow-private', 'ws://no-such-host.invalid/', 'http://not-a-relay.example/',
    `ws://${ONION}/`]);
  assert.equal(r.summary.connect_errors, 2);
  assert.deepEqual(r.reasons, ['connect_failed']);
  assert.match(r.closes[0].detail, /DNS lookup of no-such-host.invalid failed/);
  const t = await probe(['--via-tor', 'ws://relay.example/']);
  assert.equal(t.summary.connect_errors, 1);
  assert.match(t.lines.find((l) => l.ev === 'connect_error').error, /no tunnel proxy/);
});

test('a tunnel proxy whose name does not resolve fails the loop creation, with the reason', async () => {
  const err = await run(PROBE, ['--proxy', 'no-such-proxy.invalid:9080', '--via-tor', `ws://${ONION}`])
    .then(() => null, (e) => e);
  assert.ok(err, 'the probe exits non-zero');
  const line = JSON.parse(err.stdout.trim());
  assert.equal(line.ev, 'loop_error');
  assert.match(line.error, /cannot resolve the tunnel proxy host no-such-proxy.invalid/);
});

test('lws failures reach the caller with their reason: a User-Agent too big for the handshake, a CA file lws cannot load', async () => {
  // lws_add_http_header_by_token refuses a 5000-byte header: that connection fails, naming the call.
  const before = misbehavingConnections;
  const r = await probe(['--allow-private', '--user-agent-size', '5000', `ws://127.0.0.1:${misbehaving.port}/whoami`]);
  assert.deepEqual(r.reasons, ['connect_failed']);
  assert.match(r.closes[0].detail, /lws_add_http_header_by_token failed: the User-Agent \(5000 bytes\) does not fit/);
  assert.equal(misbehavingConnections, before, 'no upgrade reached the server');
  const ok = await probe(['--allow-private', '--user-agent', 'custom-agent/1', '--close-on', '{',
    `ws://127.0.0.1:${misbehaving.port}/whoami`]);
  assert.equal(JSON.parse(ok.messages[0].data).ua, 'custom-agent/1', 'a User-Agent that fits is sent');

  // lws makes a vhost whose CA file it cannot load and only logs it: the loop refuses, with lws' line.
  const garbage = path.join(tmp, 'not-a-ca.pem');
  fs.writeFileSync(garbage, 'not a certificate\n');
  const err = await run(PROBE, ['--ca', garbage, `ws://127.0.0.1:${closedPort}`]).then(() => null, (e) => e);
  assert.ok(err, 'the probe exits non-zero');
  const line = JSON.parse(err.stdout.trim());
  assert.equal(line.ev, 'loop_error');
  assert.match(line.error, /could not create the direct vhost .*lws: Unable to load SSL Client certs file from .*not-a-ca\.pem/);
});

test('via Tor: an .onion relay is reached through the CONNECT proxy, with no local DNS or address check', async () => {
  const proxy = await startConnectProxy({ map: { [`${ONION}:80`]: relay.port } });
  try {
    const r = await probe(['--proxy', `localhost:${proxy.port}`, '--via-tor', '--send', REQ,
      '--close-on', '["EOSE"', `ws://${ONION}`]);
    assert.equal(r.opens.length, 1);
    const got = r.messages.map((m) => JSON.parse(m.data));
    assert.equal(got.filter((m) => m[0] === 'EVENT').length, events.length);
    assert.deepEqual(r.reasons, ['normal']);
    assert.equal(proxy.tunnels(), 1);
    assert.deepEqual(proxy.targets, [`${ONION}:80`]);

    // An .onion the proxy cannot reach: the proxy's refusal is a connect failure.
    const other = `ws://${fakeOnion('nobody maps this one')}`;
    const f = await probe(['--proxy', `127.0.0.1:${proxy.port}`, '--via-tor', '--timeout', ms(5000), other]);
    assert.deepEqual(f.reasons, ['connect_failed']);
    assert.equal(proxy.refused(), 1);

    // wss through the tunnel: TLS runs end to end, SNI and certificate check on the relay's name.
    proxy.map(`localhost:${tls.port}`, tls.port);
    const t = await probe(['--proxy', `127.0.0.1:${proxy.port}`, '--via-tor', '--ca', tls.cert, '--send', 'tunnelled',
      '--close-after', ms(500), `wss://localhost:${tls.port}/echo`]);
    assert.deepEqual(t.messages.map((m) => m.data), ['tunnelled']);
    assert.deepEqual(t.reasons, ['normal']);
    assert.equal(proxy.tunnels(), 2);
  } finally {
    await proxy.close();
  }
});
