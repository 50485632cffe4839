// upgrade.test.mjs: ALTER EXTENSION bigbrotr UPDATE from 0.1.0 to 0.2.0 on a populated archive. The
// extension is created at 0.1.0 and a fixture archived through the 0.1.0 procedures (events signed
// with nostr-tools, realistic and hostile tags incl. values over 512 bytes, each seen on several
// relays; relays, snapshots with NIP-11 and NIP-66 documents, service_state cursors). A service
// started on the 0.1.0 install refuses with the hint to update. Then the update: every row of every
// table is kept (counts and an md5 of every row), every stored tagvalues equals the C function's
// result, the catalog equals a fresh 0.2.0 install's, insert_sightings and insert_events work on the
// upgraded archive, and the service runs. The synchronizer is never started here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateSecretKey } from 'nostr-tools/pure';
import { sql, connect, status, waitFor, setConfig, logMark, logSince, writeWorkFile, env } from './lib/cluster.mjs';
import { signed } from './lib/events.mjs';

const FRESH_DB = `${env.db}_fresh_020`;
const RELAYS = Array.from({ length: 8 }, (_, i) => `wss://relay${i}.upgrade.example`);
const N_EVENTS = 2500;

// One row per catalog object of the extension, as text: relations, columns (with generated
// expressions and defaults), indexes, constraints, triggers, functions (full definition and ACL),
// views, sequences, membership, configuration tables, comments, schema ACL. Two databases with equal
// lists have the same schema.
const CATALOG = `
WITH ext AS (SELECT oid, extnamespace, extconfig, extcondition FROM pg_extension WHERE extname = 'bigbrotr'),
     ns AS (SELECT 'bigbrotr'::regnamespace::oid AS oid UNION SELECT extnamespace FROM ext),
     rels AS (SELECT c.* FROM pg_class c WHERE c.relnamespace = 'bigbrotr'::regnamespace)
SELECT line FROM (
  SELECT 'relation ' || relname || ' kind=' || relkind::text || ' persistence=' || relpersistence::text
         || ' acl=' || coalesce(relacl::text, '-') || ' options=' || coalesce(reloptions::text, '-') AS line FROM rels
  UNION ALL
  SELECT 'column ' || c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' notnull=' || a.attnotnull || ' generated=' || a.attgenerated::text || ' identity=' || a.attidentity::text
         || ' collation=' || a.attcollation::regcollation || ' expr=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
  FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN rels c ON c.oid = x.indrelid
  UNION ALL
  SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'bigbrotr'::regnamespace
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure || ' acl=' || coalesce(p.proacl::text, '-') || E'\n' || pg_get_functiondef(p.oid)
  FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns) AND p.prokind <> 'a'
    AND EXISTS (SELECT 1 FROM pg_depend d, ext WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                AND d.refobjid = ext.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'view ' || c.relname || E'\n' || pg_get_viewdef(c.oid) FROM rels c WHERE c.relkind = 'v'
  UNION ALL
  SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' '
         || s.seqincrement || ' ' || s.seqmax || ' ' || s.seqmin || ' ' || s.seqcache || ' ' || s.seqcycle
  FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
  UNION ALL
  SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text FROM pg_type t
  WHERE t.typnamespace = 'bigbrotr'::regnamespace AND t.typtype NOT IN ('b') AND t.typrelid = 0
  UNION ALL
  SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
  UNION ALL
  SELECT 'config ' || cfg::regclass || ' ' || cond
  FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
  UNION ALL
  SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
  FROM pg_description d, ext
  WHERE EXISTS (SELECT 1 FROM pg_depend m WHERE m.refobjid = ext.oid AND m.deptype = 'e'
                AND ((m.classid = d.classoid AND m.objid = d.objoid)
                     OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))))
  UNION ALL
  SELECT 'schema bigbrotr acl=' || coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'bigbrotr'
  UNION ALL
  SELECT 'extension version ' || extversion FROM pg_extension WHERE extname = 'bigbrotr'
) s ORDER BY line`;

// Count and md5 of the rows of every table of schema bigbrotr, each row as its text, in a fixed order.
async function tableDigests(database = env.db) {
  const tables = await sql(`SELECT relname FROM pg_class WHERE relnamespace = 'bigbrotr'::regnamespace AND relkind = 'r'
                            ORDER BY relname`, [], database);
  const out = {};
  for (const { relname } of tables) {
    const [r] = await sql(`SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5
                           FROM bigbrotr.${relname} t`, [], database);
    out[relname] = r;
  }
  return out;
}

async function dropExtension() {
  const have = await sql("SELECT 1 FROM pg_extension WHERE extname = 'bigbrotr'");
  if (!have.length) return;
  await sql('UPDATE bigbrotr.service_control SET enabled = false');
  await waitFor('all services stopped', async () =>
    (await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr %' AND backend_type <> 'bigbrotr launcher'"))[0].n === 0);
  await sql('DROP EXTENSION bigbrotr CASCADE');
}

const randomHex = (bytes) => Buffer.from(Array.from({ length: bytes }, () => Math.floor(Math.random() * 256))).toString('hex');

// Realistic tags (several high-cardinality e/p/t values) and, one event in five, hostile ones.
function tagsFor(i) {
  const tags = [['e', randomHex(32), RELAYS[i % RELAYS.length], 'reply'], ['p', randomHex(32)], ['p', randomHex(32)],
    ['t', `topic${i % 97}`], ['client', 'upgrade-test']];
  switch (i % 10) {
    case 1: tags.push(['x', 'v'.repeat(600 + i)]); break;                       // over 512 bytes: hashed
    case 3: tags.push(['r', 'é'.repeat(256)], ['r', 'é'.repeat(256) + 'a']);   // 512 and 513 bytes
    break;
    case 5: tags.push(['😀', 'four-byte name'], ['ab', 'long name'], ['e'], [], ['', 'empty name']); break;
    case 7: tags.push(['d', '€'.repeat(171)], ['q', 'z'.repeat(5000)]); break;
    case 9: tags.push(['e', ''], ['t', 'ümlaut ' + i], ['expiration', String(1700000000 + i)]); break;
    default: break;
  }
  return tags;
}

before(async () => {
  await sql(`DROP DATABASE IF EXISTS ${FRESH_DB} WITH (FORCE)`, [], 'postgres');
  const dbs = await sql('SELECT 1 FROM pg_database WHERE datname = $1', [env.db], 'postgres');
  if (dbs.length === 0) await sql(`CREATE DATABASE ${env.db}`, [], 'postgres');
  await dropExtension();
  await sql("CREATE EXTENSION bigbrotr VERSION '0.1.0'");
  await setConfig({ 'bigbrotr.log_level': 'info' });
});

after(async () => {
  await sql('UPDATE bigbrotr.service_control SET enabled = false').catch(() => {});
  await sql(`DROP DATABASE IF EXISTS ${FRESH_DB} WITH (FORCE)`, [], 'postgres').catch(() => {});
  await setConfig({ 'bigbrotr.log_level': null, 'bigbrotr.initializer_seed_file': null }).catch(() => {});
});

let fixture;

test('a 0.1.0 archive is populated through the 0.1.0 procedures', async () => {
  assert.equal((await sql("SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'"))[0].extversion, '0.1.0');
  const keys = Array.from({ length: 60 }, () => generateSecretKey());
  const base = 1700000000;
  const events = Array.from({ length: N_EVENTS }, (_, i) => signed({
    kind: [1, 1, 1, 7, 6, 0, 3, 10002, 30023, 1111][i % 10], tags: tagsFor(i),
    content: `upgrade fixture ${i} ` + 'lorem ipsum dolor sit amet '.repeat(13), created_at: base + Math.floor(i / 3),
    sk: keys[i % keys.length],
  }));
  const client = await connect();
  try {
    // Each event on 3 to 5 of the 8 relays, one insert_events call per relay and batch.
    for (let r = 0; r < RELAYS.length; r++) {
      const seen = events.filter((_, i) => (i + r) % 8 < 3 + (i % 3));
      for (let off = 0; off < seen.length; off += 500) {
        const b = seen.slice(off, off + 500);
        await client.query(
          `SELECT bigbrotr.insert_events($1::text[]::bytea[], $2::text[]::bytea[], $3, $4, $5::jsonb[], $6, $7::text[]::bytea[],
                                         $8, $9, $10, $11)`,
          [b.map((e) => '\\x' + e.id), b.map((e) => '\\x' + e.pubkey), b.map((e) => e.created_at), b.map((e) => e.kind),
           b.map((e) => JSON.stringify(e.tags)), b.map((e) => e.content), b.map((e) => '\\x' + e.sig),
           b.map(() => RELAYS[r]), b.map(() => 'clearnet'), b.map(() => 1000 + r), b.map((e) => e.created_at + r)]);
      }
    }
    // Snapshots with NIP-11 and NIP-66 documents, two checks per relay.
    const snapshots = RELAYS.flatMap((url, r) => [0, 1].map((k) => ({
      relay_url: url, network: 'clearnet', inserted_at: 1000 + r, generated_at: 2000 + 3600 * k,
      nip66: { openable: true, readable: r % 2 === 0, writable: k === 1, rtt_open: 40 + r, rtt_read: 50 + k, rtt_write: null },
      nip11: { name: `relay ${r}`, description: 'an upgrade fixture relay', pubkey: randomHex(32), contact: 'ops@example.org',
               supported_nips: [1, 11, 45], software: 'fixture', version: '1.0', limitation: { max_limit: 500 + r },
               extra_fields: { note: 'é'.repeat(r) } },
    })));
    await client.query('SELECT bigbrotr.insert_relay_metadata_batch($1::jsonb)', [JSON.stringify(snapshots)]);
    // The synchronizer's cursors and the other services' state.
    for (const [r, url] of RELAYS.entries()) {
      await client.query('INSERT INTO bigbrotr.service_state VALUES ($1, $2::jsonb, $3)',
        [`synchronizer:${url}`, JSON.stringify({ cursor: base + 100 * r, shortfalls: [] }), base]);
    }
    await client.query(`INSERT INTO bigbrotr.service_state VALUES ('finder', '{"last_run": 1700000000}', 1700000000)`);
  } finally {
    await client.end();
  }
  const [c] = await sql(`SELECT (SELECT count(*)::int FROM bigbrotr.events) AS events,
                                (SELECT count(*)::int FROM bigbrotr.events_relays) AS sightings,
                                (SELECT count(*)::int FROM bigbrotr.events WHERE EXISTS
                                   (SELECT FROM unnest(tagvalues) v WHERE v LIKE 'sha256:%')) AS hashed`);
  assert.equal(c.events, N_EVENTS);
  assert.ok(c.sightings >= 3 * N_EVENTS && c.sightings <= 5 * N_EVENTS, `sightings ${c.sightings}`);
  assert.ok(c.hashed >= N_EVENTS / 5, `events with a hashed tag value: ${c.hashed}`);
  fixture = { events, counts: c };
});

test('a service started on the 0.1.0 install refuses with the hint to update, and exits cleanly', async () => {
  const mark = logMark();
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  await waitFor('the refusal in the server log', async () => /extension bigbrotr is installed at version 0\.1\.0/.test(logSince(mark)),
    { timeoutMs: 30000 });
  await sql("SELECT bigbrotr.bigbrotr_stop('initializer')");
  await waitFor('the initializer gone', async () => !(await status('initializer')).running);
  const log = logSince(mark);
  assert.match(log, /ERROR: +bigbrotr initializer: extension bigbrotr is installed at version 0\.1\.0 in database "[^"]+", but the library is version 0\.2\.0; exiting/);
  assert.match(log, /HINT: +Run ALTER EXTENSION bigbrotr UPDATE in database/);
  assert.doesNotMatch(log, /"bigbrotr initializer".*exited with exit code [1-9]/, 'the refusing worker exits with code 0');
  const st = await status('initializer');
  assert.equal(Number(st.cycles_run), 0, 'no cycle ran on the 0.1.0 install');
});

let beforeUpdate;

test('ALTER EXTENSION bigbrotr UPDATE keeps every row of every table, byte for byte', async () => {
  beforeUpdate = await tableDigests();
  assert.equal(beforeUpdate.events.n, N_EVENTS);
  const files = () => sql(`SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'bigbrotr'::regnamespace
                           AND relkind = 'r' ORDER BY relname`);
  const filesBefore = await files();
  await sql('ALTER EXTENSION bigbrotr UPDATE');
  // No table was rewritten: a rewrite gives a table a new file.
  assert.deepEqual(await files(), filesBefore);
  assert.equal((await sql("SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'"))[0].extversion, '0.2.0');
  const afterUpdate = await tableDigests();
  assert.deepEqual(afterUpdate, beforeUpdate);
  // The stored tagvalues (computed by 0.1.0's SQL function) equal the C function's, row by row.
  const [d] = await sql(`SELECT count(*)::int AS n,
                                count(*) FILTER (WHERE tagvalues IS DISTINCT FROM bigbrotr.tags_to_tagvalues(tags))::int AS differ
                         FROM bigbrotr.events`);
  assert.equal(d.n, N_EVENTS);
  assert.equal(d.differ, 0);
});

test('the upgraded catalog equals a fresh 0.2.0 install', async () => {
  await sql(`CREATE DATABASE ${FRESH_DB}`, [], 'postgres');
  await sql('CREATE EXTENSION bigbrotr', [], FRESH_DB);
  const fresh = (await sql(CATALOG, [], FRESH_DB)).map((r) => r.line);
  const upgraded = (await sql(CATALOG, [], env.db)).map((r) => r.line);
  const onlyFresh = fresh.filter((l) => !upgraded.includes(l));
  const onlyUpgraded = upgraded.filter((l) => !fresh.includes(l));
  assert.deepEqual({ onlyFresh, onlyUpgraded }, { onlyFresh: [], onlyUpgraded: [] });
  assert.deepEqual(upgraded, fresh);
  assert.ok(fresh.length > 200, `catalog lines: ${fresh.length}`);
  assert.ok(fresh.includes('extension version 0.2.0'));
});

test('insert_sightings and insert_events work on the upgraded archive', async () => {
  const known = fixture.events.slice(0, 300);
  const fresh = Array.from({ length: 40 }, (_, i) => signed({ kind: 1, tags: tagsFor(i), content: `after update ${i}` }));
  const newRelay = 'WSS://After.Upgrade.Example:443/';
  const ids = [...known, ...fresh].map((e) => '\\x' + e.id);
  const [r] = await sql(`SELECT array(SELECT encode(x, 'hex') FROM unnest(bigbrotr.insert_sightings($1::text[]::bytea[], $2, NULL, 5000, 6000)) x) AS missing`,
    [ids, newRelay]);
  assert.deepEqual(r.missing, fresh.map((e) => e.id).sort(), 'the unknown ids come back, sorted');
  const [s] = await sql(`SELECT count(*)::int AS n FROM bigbrotr.events_relays WHERE relay_url = 'wss://after.upgrade.example'`);
  assert.equal(s.n, known.length, 'one sighting per known event on the normalized relay');
  const [n] = await sql(
    `SELECT bigbrotr.insert_events($1::text[]::bytea[], $2::text[]::bytea[], $3, $4, $5::jsonb[], $6, $7::text[]::bytea[],
                                   $8, $9, $10, $11) AS new`,
    [fresh.map((e) => '\\x' + e.id), fresh.map((e) => '\\x' + e.pubkey), fresh.map((e) => e.created_at), fresh.map((e) => e.kind),
     fresh.map((e) => JSON.stringify(e.tags)), fresh.map((e) => e.content), fresh.map((e) => '\\x' + e.sig),
     fresh.map(() => newRelay), fresh.map(() => null), fresh.map(() => 5000), fresh.map(() => 6001)]);
  assert.equal(n.new, fresh.length);
  const [t] = await sql(`SELECT count(*)::int AS events,
                                count(*) FILTER (WHERE tagvalues IS DISTINCT FROM bigbrotr.tags_to_tagvalues(tags))::int AS differ,
                                (SELECT count(*)::int FROM bigbrotr.events_relays) AS sightings FROM bigbrotr.events`);
  assert.equal(t.events, N_EVENTS + fresh.length);
  assert.equal(t.differ, 0);
  assert.equal(t.sightings, beforeUpdate.events_relays.n + known.length + fresh.length);
  // Now every id is known: nothing missing, nothing new recorded twice.
  const [again] = await sql('SELECT cardinality(bigbrotr.insert_sightings($1::text[]::bytea[], $2, NULL, 5000, 7000)) AS missing',
    [ids, newRelay]);
  assert.equal(again.missing, 0);
});

test('after the update the service runs, and finds every object it verifies', async () => {
  await setConfig({ 'bigbrotr.initializer_seed_file': writeWorkFile('upgrade-seeds.txt', 'wss://seeded.upgrade.example\n') });
  const mark = logMark();
  const before = Number((await status('initializer')).cycles_run);
  await sql("SELECT bigbrotr.bigbrotr_start('initializer')");
  const st = await waitFor('the initializer run', async () => {
    const s = await status('initializer');
    return Number(s.cycles_run) > before && !s.running ? s : null;
  }, { timeoutMs: 30000 });
  assert.equal(Number(st.cycles_failed), 0, st.last_error || '');
  assert.equal(st.last_cycle_stats.objects_missing, 0);
  assert.equal(st.last_cycle_stats.relays_new, 1);
  assert.doesNotMatch(logSince(mark), /is installed at version/);
});
