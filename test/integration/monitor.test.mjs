// monitor.test.mjs: the monitor against real relays on loopback: the npm relay (which verifies
// signatures and serves NIP-11 on its port), relays that misbehave on purpose in every way the
// issue lists, a port that refuses, one that accepts and never speaks, TLS to a plain port, an
// .onion relay reached through a CONNECT proxy; plus the write test's key handling (a malformed key
// is refused when set), SIGTERM, and due relays read a few at a time (monitor_page_size 3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@noble/hashes/utils';
import { generateSecretKey } from 'nostr-tools/pure';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { env, connect, sql, sleep, status, waitFor, setConfig, freshExtension, logMark, logSince, serverLog, workerPids } from './lib/cluster.mjs';
import { startRealRelay } from '../fixtures/real_relay.mjs';
import { startMisbehavingRelays, GOOD_NIP11 } from '../fixtures/misbehaving_relays.mjs';
import { startConnectProxy } from '../fixtures/connect_proxy.mjs';
import { startSocksProxy } from '../fixtures/socks_proxy.mjs';
import { scaled, scaledSeconds } from './lib/slowness.mjs';

const ONION = 'ws://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion';
// Each relay's check budget: long enough for every loopback relay that answers to answer (scaled),
// short enough that the silent ones time out within the test.
const CHECK_TIMEOUT_S = scaledSeconds(3);
let real;
let bad;
let proxy;
let socks;
let urls;

async function runOneCycle() {
  // A freshly started worker runs its first cycle at once: stop/start triggers a cycle on demand.
  await sql("SELECT bigbrotr.bigbrotr_stop('monitor')");
  await waitFor('monitor stopped', async () => (await workerPids('monitor')).length === 0, { timeoutMs: 15000 });
  const before = Number((await status('monitor')).cycles_run);
  await sql("SELECT bigbrotr.bigbrotr_start('monitor')");
  const st = await waitFor('a monitor cycle', async () => {
    const s = await status('monitor');
    return Number(s.cycles_run) > before ? s : null;
  }, { timeoutMs: 60000 });
  await sql("SELECT bigbrotr.bigbrotr_stop('monitor')");
  return st;
}

async function addRelays(list, network = 'clearnet') {
  await sql('SELECT bigbrotr.insert_relays($1::text[], $2::text[], $3::bigint[])',
    [list, list.map(() => network), list.map(() => 1)]);
}

async function latest() {
  const rows = await sql('SELECT * FROM bigbrotr.relay_metadata_latest ORDER BY relay_url');
  return Object.fromEntries(rows.map((r) => [r.relay_url, r]));
}

before(async () => {
  await freshExtension();
  real = await startRealRelay({ nip11: { name: 'real relay', supported_nips: [1, 11], software: '@nostr-relay/core', version: '0.0.40' } });
  bad = await startMisbehavingRelays();
  urls = {
    real: real.url,
    good: bad.url('/good'), event: bad.url('/event'), silent: bad.url('/silent'), auth: bad.url('/auth'),
    restricted: bad.url('/restricted'), dropper: bad.url('/dropper'), huge: bad.url('/huge'),
    garbage: bad.url('/garbage'), noupgrade: bad.url('/noupgrade'),
    refused: bad.refusedUrl, blackhole: bad.blackholeUrl, tls: bad.tlsUrl('/good'),
  };
  await addRelays(Object.values(urls));
  await addRelays([ONION], 'tor');
  await setConfig({
    'bigbrotr.monitor_timeout': `${CHECK_TIMEOUT_S}s`,
    'bigbrotr.monitor_min_age_since_check': 0,
    'bigbrotr.monitor_batch_size': 4,
    'bigbrotr.monitor_nip11_max_size': '64kB',
    // Every cycle reads the due relays in several pages.
    'bigbrotr.monitor_page_size': 3,
  });
});

after(async () => {
  await sql("SELECT bigbrotr.bigbrotr_stop('monitor')").catch(() => {});
  await setConfig({
    'bigbrotr.monitor_timeout': null, 'bigbrotr.monitor_min_age_since_check': null, 'bigbrotr.monitor_batch_size': null,
    'bigbrotr.monitor_nip11_max_size': null, 'bigbrotr.monitor_private_key': null, 'bigbrotr.tor_enabled': null,
    'bigbrotr.tor_http_tunnel_port': null, 'bigbrotr.tor_socks_port': null, 'bigbrotr.allow_private_addresses': null,
    'bigbrotr.monitor_page_size': null,
  });
  await real?.close();
  await bad?.close();
  await proxy?.close();
  await socks?.close();
});

test('every relay gets one snapshot: good ones measured, each fault recorded as what it is', async () => {
  const mark = logMark();
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  const st = s.last_cycle_stats;
  const n = Object.keys(urls).length;
  assert.equal(st.relays_due, n + 1);
  assert.equal(st.relays_checked, n);
  assert.equal(st.relays_skipped_tor, 1, 'the .onion relay is skipped while Tor is off');
  assert.equal(st.snapshots_written, n);
  assert.equal(st.snapshots_new, n);
  assert.equal(st.write_test, 0);

  const L = await latest();
  const r = L[urls.real];
  assert.equal(r.nip66_openable, true);
  assert.equal(r.nip66_readable, true);
  assert.equal(r.nip66_writable, false, 'no key: no write test');
  assert.equal(r.nip66_rtt_write, null);
  assert.ok(r.nip66_rtt_open >= 0 && r.nip66_rtt_read >= 0);
  assert.equal(r.nip11_name, 'real relay');
  assert.deepEqual(r.nip11_supported_nips, [1, 11]);
  assert.equal(r.nip11_version, '0.0.40');

  const g = L[urls.good];
  assert.deepEqual([g.nip66_openable, g.nip66_readable, g.nip66_writable], [true, true, false]);
  assert.equal(g.nip11_name, GOOD_NIP11.name);
  assert.equal(g.nip11_pubkey, GOOD_NIP11.pubkey);
  assert.deepEqual(g.nip11_limitation, GOOD_NIP11.limitation);
  assert.equal(g.nip11_icon, null, 'a wrong-typed known field is dropped');
  assert.deepEqual(g.nip11_extra_fields, { relay_countries: ['DE'], posting_policy: 'be nice' });
  assert.equal(L[urls.event].nip11_id.toString('hex'), g.nip11_id.toString('hex'), 'the same document is stored once');
  assert.equal(L[urls.event].nip66_readable, true, 'an EVENT answer makes a relay readable');

  for (const k of ['auth', 'restricted', 'dropper']) {
    assert.equal(L[urls[k]].nip66_openable, true, k);
    assert.equal(L[urls[k]].nip66_readable, false, `${k} is not readable`);
    assert.equal(L[urls[k]].nip66_rtt_read, null, k);
  }
  assert.equal(L[urls.silent].nip66_openable, true);
  assert.equal(L[urls.silent].nip66_readable, false);
  assert.equal(L[urls.garbage].nip66_readable, true, 'garbage before EOSE does not hide the answer');
  for (const k of ['refused', 'blackhole', 'tls', 'noupgrade']) {
    assert.equal(L[urls[k]].generated_at !== null, true, `${k} has a snapshot`);
    assert.deepEqual([L[urls[k]].nip66_openable, L[urls[k]].nip66_readable, L[urls[k]].nip66_rtt_open], [false, false, null], k);
  }
  // No NIP-11 row unless the document is a usable JSON object.
  for (const k of ['silent', 'auth', 'restricted', 'dropper', 'huge', 'refused', 'blackhole', 'tls', 'noupgrade'])
    assert.equal(L[urls[k]].nip11_id, null, `${k}: no nip11`);
  assert.equal(L[urls.garbage].nip11_software, 'garbage');
  assert.equal(L[urls.garbage].nip11_name, null, 'a name holding U+0000 is dropped');
  assert.equal(L[ONION].generated_at, null, 'the skipped .onion relay has no snapshot');

  assert.equal(st.relays_openable, 9);
  assert.equal(st.open_failed, 4);
  assert.equal(st.relays_readable, 5);
  assert.equal(st.read_failed, 4);
  assert.equal(st.nip11_ok, 4);
  assert.equal(st.nip11_failed, 9);
  assert.ok(st.nip11_fields_dropped >= 2 + 2, 'icon on /good and /event, name and big on /garbage');
  assert.ok(st.relay_messages_invalid >= 2);

  const log = logSince(mark);
  const expectLine = (url, re) => assert.ok(log.split('\n').some((l) => l.includes(`relay ${url}:`) && re.test(l)),
    `a log line for ${url} matching ${re}`);
  expectLine(urls.auth, /not readable: .*auth-required/);
  expectLine(urls.auth, /no NIP-11 document: .*bad_json/);
  expectLine(urls.restricted, /not readable: .*restricted/);
  expectLine(urls.restricted, /no NIP-11 document: .*array/);
  expectLine(urls.dropper, /no NIP-11 document: HTTP status 500/);
  expectLine(urls.dropper, /not readable: no answer to the REQ before the connection ended/);
  expectLine(urls.huge, /no NIP-11 document: .*too_large/);
  expectLine(urls.silent, new RegExp(`not readable: no answer to the REQ within ${CHECK_TIMEOUT_S * 1000} ms`));
  expectLine(urls.silent, /no NIP-11 document: .*timeout/);
  expectLine(urls.refused, /not openable/);
  expectLine(urls.blackhole, /not openable/);
  expectLine(urls.tls, /not openable/);
  expectLine(urls.good, /NIP-11 fields dropped: icon \(number\)/);
});

test('a second cycle with the same results adds snapshots but no new documents', async () => {
  const count = async (t) => Number((await sql(`SELECT count(*) AS n FROM bigbrotr.${t}`))[0].n);
  const [n11, n66, snaps] = [await count('nip11'), await count('nip66'), await count('relay_metadata')];
  const closedIds = async () => (await sql('SELECT count(DISTINCT nip66_id) AS n FROM bigbrotr.relay_metadata m JOIN bigbrotr.nip66 n ON n.id = m.nip66_id WHERE NOT n.openable'))[0].n;
  const closedBefore = await closedIds();
  await sleep(1100); // a new second: generated_at is part of a snapshot's key
  const s = await runOneCycle();
  const st = s.last_cycle_stats;
  assert.equal(st.snapshots_new, Object.keys(urls).length, 'one new snapshot per relay per check');
  assert.equal(await count('relay_metadata'), snaps + Object.keys(urls).length);
  assert.equal(await count('nip11'), n11, 'identical NIP-11 documents are not stored again');
  assert.equal(await closedIds(), closedBefore, 'identical results of relays that are down share one nip66 row');
  // Round-trip times may differ between cycles; only openable relays can add nip66 rows.
  assert.ok(await count('nip66') <= n66 + st.relays_openable);
});

test('a snapshot PostgreSQL refuses costs only its own row: counted, logged with the relay URL and SQLSTATE', async () => {
  // A real trigger refuses one relay's snapshot; its three batch neighbours (batch size 4) and every
  // other batch must be stored.
  const count = async () => Number((await sql('SELECT count(*) AS n FROM bigbrotr.relay_metadata'))[0].n);
  const refusedCount = async () => Number((await sql('SELECT count(*) AS n FROM bigbrotr.relay_metadata WHERE relay_url = $1', [urls.good]))[0].n);
  await sql(`CREATE FUNCTION public.bb_test_refuse_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.relay_url = '${urls.good}' THEN
        RAISE EXCEPTION 'test trigger refuses the snapshot of %', NEW.relay_url USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`);
  await sql(`CREATE TRIGGER bb_test_refuse BEFORE INSERT ON bigbrotr.relay_metadata
             FOR EACH ROW EXECUTE FUNCTION public.bb_test_refuse_snapshot()`);
  try {
    const [snaps, refusedBefore] = [await count(), await refusedCount()];
    const failedBefore = Number((await status('monitor')).cycles_failed);
    const mark = logMark();
    await sleep(1100); // a new second: generated_at is part of a snapshot's key
    const s = await runOneCycle();
    const st = s.last_cycle_stats;
    const n = Object.keys(urls).length;
    assert.equal(Number(s.cycles_failed), failedBefore, `the cycle did not fail: ${s.last_error}`);
    assert.equal(st.relays_checked, n);
    assert.equal(st.checks_unstorable, 1, 'the refused snapshot is counted');
    assert.equal(st.snapshots_written, n - 1);
    assert.equal(st.snapshots_new, n - 1);
    assert.equal(await count(), snaps + n - 1, 'every other snapshot is stored');
    assert.equal(await refusedCount(), refusedBefore, 'the refused one is not');
    const log = logSince(mark);
    assert.ok(log.split('\n').some((l) => l.includes(`relay ${urls.good}:`) && l.includes('23514') &&
      l.includes('test trigger refuses the snapshot')), 'a log line with the relay URL, the SQLSTATE and the message');
  } finally {
    await sql('DROP TRIGGER bb_test_refuse ON bigbrotr.relay_metadata');
    await sql('DROP FUNCTION public.bb_test_refuse_snapshot()');
  }
});

test('the write test publishes a signed event with the private key, which stays secret', async () => {
  const key = bytesToHex(generateSecretKey());
  const mark = logMark();
  await setConfig({ 'bigbrotr.monitor_private_key': key });
  await sleep(1100);
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(s.last_cycle_stats.write_test, 1);
  const L = await latest();
  assert.equal(L[urls.real].nip66_writable, true, 'the npm relay verified the signature and said OK true');
  assert.ok(L[urls.real].nip66_rtt_write >= 0);
  assert.equal(L[urls.good].nip66_writable, true);
  assert.equal(L[urls.auth].nip66_writable, false, 'OK false is not writable');
  assert.ok(L[urls.auth].nip66_rtt_write >= 0, 'but its round trip was measured');
  assert.equal(L[urls.silent].nip66_writable, false);
  assert.equal(L[urls.silent].nip66_rtt_write, null);
  assert.equal(s.last_cycle_stats.relays_writable, 3, 'real, good and event');

  // Hidden from other roles, absent from the log.
  const client = new pg.Client({ host: '127.0.0.1', port: env.port, user: 'postgres', database: env.db });
  await client.connect();
  try {
    await client.query('DROP ROLE IF EXISTS bigbrotr_monitor_peeker');
    await client.query('CREATE ROLE bigbrotr_monitor_peeker');
    await client.query('SET ROLE bigbrotr_monitor_peeker');
    const rows = (await client.query("SELECT name, setting FROM pg_settings WHERE name LIKE 'bigbrotr.monitor%'")).rows;
    assert.ok(rows.length > 0, 'other monitor settings are visible');
    assert.ok(!rows.some((r) => r.name === 'bigbrotr.monitor_private_key'), 'the key is not in pg_settings');
    await assert.rejects(client.query("SELECT current_setting('bigbrotr.monitor_private_key')"), /permission|privileges|superuser/);
    await client.query('RESET ROLE');
    await client.query('DROP ROLE bigbrotr_monitor_peeker');
  } finally {
    await client.end();
  }
  const log = logSince(mark);
  assert.ok(log.includes('bigbrotr.monitor_private_key'), 'the reload was logged, by name');
  assert.ok(!serverLog().includes(key), 'the key never appears in the server log');

  await setConfig({ 'bigbrotr.monitor_private_key': null });
});

test('a malformed private key is refused when set (ALTER SYSTEM, SET, the file), and its value is shown nowhere', async () => {
  const good = bytesToHex(generateSecretKey());
  await setConfig({ 'bigbrotr.monitor_private_key': good });
  const bads = {
    'not hex': `zz${good.slice(2)}`,
    'too short': good.slice(0, 62),
    'too long': `${good}ab`,
    'zero': '0'.repeat(64),
    'not below the curve order': 'f'.repeat(64),
    'a phrase': 'not-a-key-but-a-secret-phrase',
  };
  const refused = /bigbrotr refuses this value of "bigbrotr\.monitor_private_key": private key: /;
  const mark = logMark();
  for (const [what, v] of Object.entries(bads)) {
    await assert.rejects(setConfig({ 'bigbrotr.monitor_private_key': v }), (e) => {
      assert.match(e.message, refused, what);
      assert.ok(![e.message, e.detail, e.hint].some((t) => t?.includes(v)), `${what}: the error does not echo the value`);
      return true;
    }, `ALTER SYSTEM refuses ${what}`);
    // SET and set_config: a reload-only setting, refused without the value either.
    const client = await connect();
    try {
      for (const q of [`SET bigbrotr.monitor_private_key = ${pg.escapeLiteral(v)}`, `SELECT set_config('bigbrotr.monitor_private_key', ${pg.escapeLiteral(v)}, false)`])
        await assert.rejects(client.query(q), (e) => !e.message.includes(v) && !(e.detail ?? '').includes(v), `${what}: ${q.split(' ')[0]}`);
    } finally {
      await client.end();
    }
  }
  const [{ k }] = await sql("SELECT current_setting('bigbrotr.monitor_private_key') AS k");
  assert.equal(k, good, 'nothing replaced the key in effect');

  // Written into the configuration file by hand, then a reload: the postmaster refuses it (logged,
  // without the value) and the key in effect stays.
  const auto = path.join(env.pgdata, 'postgresql.auto.conf');
  const saved = fs.readFileSync(auto, 'utf8');
  try {
    const fileMark = logMark();
    fs.appendFileSync(auto, `bigbrotr.monitor_private_key = '${bads['a phrase']}'\n`);
    await sql('SELECT pg_reload_conf()');
    await waitFor('the postmaster\'s refusal in the server log', async () =>
      logSince(fileMark).split('\n').some((l) => / postmaster LOG: /.test(l) && refused.test(l)));
    await sleep(300);
    assert.equal((await sql("SELECT current_setting('bigbrotr.monitor_private_key') AS k"))[0].k, good, 'the file\'s value was refused');
    const s = await runOneCycle();
    assert.equal(s.last_cycle_stats.write_test, 1, 'the monitor still signs with the key in effect');
  } finally {
    fs.writeFileSync(auto, saved);
    await sql('SELECT pg_reload_conf()');
  }

  // Empty is unset: allowed, and no write test.
  await setConfig({ 'bigbrotr.monitor_private_key': '' });
  await sleep(1100);
  assert.equal((await runOneCycle()).last_cycle_stats.write_test, 0);

  const log = logSince(mark);
  for (const [what, v] of Object.entries(bads)) assert.ok(!log.includes(v), `${what}: never in the server log`);
  assert.ok(!serverLog().includes(bads['a phrase']) && !serverLog().includes(bads['not hex']), 'not anywhere in the log');
  const settings = await sql('SELECT setting, reset_val, boot_val FROM pg_settings');
  for (const v of Object.values(bads))
    assert.ok(!settings.some((r) => [r.setting, r.reset_val, r.boot_val].includes(v)), 'nor in pg_settings');
  assert.match(log, /bigbrotr refuses this value of "bigbrotr\.monitor_private_key": private key: not hex/, 'the refusal says what is wrong');
  await setConfig({ 'bigbrotr.monitor_private_key': null });
});

test('.onion relays go through Tor: WebSockets by HTTP CONNECT, NIP-11 by SOCKS', async () => {
  const onionHost = new URL(ONION).host;
  proxy = await startConnectProxy({ map: { [`${onionHost}:80`]: real.port } });
  socks = await startSocksProxy({ map: { [`${onionHost}:80`]: real.port } });
  await setConfig({ 'bigbrotr.tor_enabled': 'on', 'bigbrotr.tor_http_tunnel_port': proxy.port, 'bigbrotr.tor_socks_port': socks.port });
  await sleep(1100);
  const s = await runOneCycle();
  assert.equal(s.last_cycle_stats.relays_skipped_tor || 0, 0);
  const L = await latest();
  assert.equal(L[ONION].nip66_openable, true, 'reached through the CONNECT proxy');
  assert.equal(L[ONION].nip66_readable, true);
  assert.equal(L[ONION].nip11_name, 'real relay', 'NIP-11 fetched through the SOCKS proxy');
  assert.ok(proxy.tunnels() >= 1 && proxy.targets.includes(`${onionHost}:80`), 'the proxy, not local DNS, was asked for the .onion host');
  assert.ok(socks.connects() >= 1);
  await setConfig({ 'bigbrotr.tor_enabled': null, 'bigbrotr.tor_http_tunnel_port': null, 'bigbrotr.tor_socks_port': null });
});

test('relays on loopback are refused unless private addresses are allowed', async () => {
  await setConfig({ 'bigbrotr.allow_private_addresses': 'off' });
  await sleep(1100);
  const mark = logMark();
  const s = await runOneCycle();
  await setConfig({ 'bigbrotr.allow_private_addresses': null });
  const st = s.last_cycle_stats;
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  assert.equal(st.relays_openable || 0, 0, 'no loopback relay was opened');
  assert.equal(st.nip11_ok || 0, 0, 'no loopback NIP-11 was fetched');
  assert.equal(st.open_failed, st.relays_checked);
  const L = await latest();
  assert.equal(L[urls.real].nip66_openable, false);
  assert.ok(logSince(mark).split('\n').some((l) => l.includes(`relay ${urls.real}: not openable`) && /refused_private_address/.test(l)));
});

test('SIGTERM mid-cycle stops within 5 s and keeps what was measured', async () => {
  await sql("DELETE FROM bigbrotr.relays WHERE url LIKE '%.onion%'");
  const silent = Array.from({ length: 6 }, (_, i) => bad.url(`/silent/${i}`));
  const fast = Array.from({ length: 3 }, (_, i) => bad.url(`/good/${i}`));
  await addRelays([...silent, ...fast]);
  // The silent relays' checks would end only after this: a stop that waited for them would show.
  await setConfig({ 'bigbrotr.monitor_timeout': `${scaledSeconds(60)}s`, 'bigbrotr.monitor_batch_size': 1000 });
  await sql('DELETE FROM bigbrotr.relay_metadata');
  await sql("SELECT bigbrotr.bigbrotr_start('monitor')");
  // The fast relays' sockets close once they answered: they are measured, the silent ones hang.
  await waitFor('fast relays measured', async () => fast.every((u) => bad.clientClosed(new URL(u).pathname) > 0), { timeoutMs: 30000 });
  const pids = await workerPids('monitor');
  assert.equal(pids.length, 1);
  const t0 = Date.now();
  await sql("SELECT bigbrotr.bigbrotr_stop('monitor')");
  await waitFor('the monitor worker exited', async () => (await workerPids('monitor')).length === 0, { timeoutMs: 10000, intervalMs: 50 });
  const took = Date.now() - t0;
  assert.ok(took < scaled(5000), `stopped in ${took} ms (bound ${scaled(5000)} ms)`);
  const stored = (await sql('SELECT relay_url FROM bigbrotr.relay_metadata')).map((r) => r.relay_url);
  for (const u of fast) assert.ok(stored.includes(u), `${u} measured before the stop is stored`);
  for (const u of silent) assert.ok(!stored.includes(u), `${u} was still in flight: not stored`);
  await setConfig({ 'bigbrotr.monitor_timeout': `${CHECK_TIMEOUT_S}s`, 'bigbrotr.monitor_batch_size': 4 });
});

test('an observed NIP-42 demand on the read test is the nip66 fact auth_required', async () => {
  const challenge = bad.url('/challenge');
  await addRelays([challenge]);
  await sleep(1100);
  const s = await runOneCycle();
  assert.equal(Number(s.cycles_failed), 0, s.last_error || '');
  const L = await latest();
  assert.equal(L[urls.auth].nip66_auth_required, true, 'CLOSED auth-required: on the read test');
  assert.equal(L[challenge].nip66_auth_required, true, 'an AUTH challenge during the read test');
  assert.equal(L[challenge].nip66_readable, true, 'it answered the REQ without AUTH: still readable');
  assert.equal(L[urls.good].nip66_auth_required, false, 'no challenge, EOSE: observed not to demand AUTH');
  assert.equal(L[urls.restricted].nip66_auth_required, false, 'restricted: is not a NIP-42 demand');
  assert.equal(L[urls.refused].nip66_auth_required, null, 'not openable: unknown');
  assert.equal(L[urls.good].nip11_limitation.auth_required, false, 'the NIP-11 claim stays separate');
});
