// upgrade.test.mjs: ALTER EXTENSION bigbrotr UPDATE on populated archives, 0.1.0 -> 0.2.0 -> 0.3.0 and
// 0.2.0 -> 0.3.0. The extension is created at 0.1.0 and a fixture archived through the 0.1.0
// procedures (events signed with nostr-tools, realistic and hostile tags incl. values over 512 bytes,
// each seen on several relays; relays, snapshots with NIP-11 and NIP-66 documents, service_state
// cursors). A service started on the 0.1.0 install refuses with the hint to update. Update to 0.2.0:
// every row of every table kept (counts and an md5 of every row), no table rewritten, every stored
// tagvalues equal to the C function's result, the catalog a fresh 0.2.0 install's, insert_sightings and
// insert_events working. Update to 0.3.0: every row kept with its old columns byte for byte, exactly
// events_relays.event_created_at and nip66.auth_required added, every sighting's event_created_at
// equal to its event's created_at, every nip66 id unchanged (the 0.3.0 hash of its fields), the catalog
// a fresh 0.3.0 install's; the 0.3.0 writers and relay_items work and the service runs. Then a 0.2.0
// install written by the 0.2.0 procedures, with orphan sightings, is updated directly to 0.3.0 with the
// same checks. Update to 0.4.0 (from the 0.1.0 -> 0.3.0 archive, from that direct 0.3.0, and from a fresh
// 0.3.0 install written by the 0.3.0 procedures): every row of every table kept byte for byte, no
// table rewritten, exactly event_stats and event_stats_delta added, event_stats equal to a count of
// events per (day, kind), the role bigbrotr_api there, the catalog a fresh 0.4.0 install's; after it
// the stats triggers keep the counts exact. The synchronizer is never started here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateSecretKey } from 'nostr-tools/pure';
import { sql, connect, status, waitFor, setConfig, logMark, logSince, writeWorkFile, env } from './lib/cluster.mjs';
import { signed } from './lib/events.mjs';

const FRESH_DB = `${env.db}_fresh`;
const DIRECT_DB = `${env.db}_direct_020`;
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

// The columns of every table of schema bigbrotr, in order: the "old columns" an update must keep.
async function tableColumns(database = env.db) {
  const rows = await sql(`SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum) AS cols
                          FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                          WHERE c.relnamespace = 'bigbrotr'::regnamespace AND c.relkind = 'r' GROUP BY 1 ORDER BY 1`, [], database);
  return Object.fromEntries(rows.map((r) => [r.relname, r.cols]));
}

// Count and md5 of the rows of every table of schema bigbrotr, each row as the text of the given
// columns (default: all of them), in a fixed order; where[table] keeps only the rows matching it.
async function tableDigests(database = env.db, columns = null, where = {}) {
  const cols = columns || await tableColumns(database);
  const out = {};
  for (const [relname, list] of Object.entries(cols)) {
    const row = `ROW(${list.map((c) => `t.${c}`).join(', ')})::text`;
    const [r] = await sql(`SELECT count(*)::int AS n, md5(coalesce(string_agg(${row}, E'\\n' ORDER BY ${row}), '')) AS md5
                           FROM bigbrotr.${relname} t WHERE ${where[relname] || 'true'}`, [], database);
    out[relname] = r;
  }
  return out;
}

// What 0.3.0 adds, checked on an archive just updated: every sighting carries its event's created_at,
// every nip66 row is untested (auth_required NULL) and keeps the id the 0.3.0 hash gives its fields.
async function check030Columns(database = env.db) {
  const [er] = await sql(`SELECT count(*)::int AS n,
                                 count(*) FILTER (WHERE e.id IS NULL OR er.event_created_at IS DISTINCT FROM e.created_at)::int AS differ
                          FROM bigbrotr.events_relays er LEFT JOIN bigbrotr.events e ON e.id = er.event_id`, [], database);
  const [n66] = await sql(`SELECT count(*)::int AS n, count(*) FILTER (WHERE auth_required IS NOT NULL)::int AS auth_known,
                                  count(*) FILTER (WHERE id IS DISTINCT FROM bigbrotr.compute_nip66_hash(openable, readable,
                                    writable, rtt_open, rtt_read, rtt_write, auth_required))::int AS id_differs
                           FROM bigbrotr.nip66`, [], database);
  return { sightings: er, nip66: n66 };
}

// The catalog of a fresh install of the given version, in a database of its own.
async function freshCatalog(version) {
  const db = `${FRESH_DB}_${version.replace(/\./g, '')}`;
  await sql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, [], 'postgres');
  await sql(`CREATE DATABASE ${db}`, [], 'postgres');
  try {
    await sql(`CREATE EXTENSION bigbrotr VERSION '${version}'`, [], db);
    return (await sql(CATALOG, [], db)).map((r) => r.line);
  } finally {
    await sql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, [], 'postgres');
  }
}

async function assertCatalogIsFresh(version, database = env.db) {
  const fresh = await freshCatalog(version);
  const upgraded = (await sql(CATALOG, [], database)).map((r) => r.line);
  const onlyFresh = fresh.filter((l) => !upgraded.includes(l));
  const onlyUpgraded = upgraded.filter((l) => !fresh.includes(l));
  assert.deepEqual({ onlyFresh, onlyUpgraded }, { onlyFresh: [], onlyUpgraded: [] });
  assert.deepEqual(upgraded, fresh);
  assert.ok(fresh.length > 200, `catalog lines: ${fresh.length}`);
  assert.ok(fresh.includes(`extension version ${version}`));
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
  await sql(`DROP DATABASE IF EXISTS ${DIRECT_DB} WITH (FORCE)`, [], 'postgres');
  const dbs = await sql('SELECT 1 FROM pg_database WHERE datname = $1', [env.db], 'postgres');
  if (dbs.length === 0) await sql(`CREATE DATABASE ${env.db}`, [], 'postgres');
  await dropExtension();
  await sql("CREATE EXTENSION bigbrotr VERSION '0.1.0'");
  await setConfig({ 'bigbrotr.log_level': 'info' });
});

after(async () => {
  await sql('UPDATE bigbrotr.service_control SET enabled = false').catch(() => {});
  await sql(`DROP DATABASE IF EXISTS ${DIRECT_DB} WITH (FORCE)`, [], 'postgres').catch(() => {});
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
  assert.match(log, /ERROR: +bigbrotr initializer: extension bigbrotr is installed at version 0\.1\.0 in database "[^"]+", but the library is version 0\.4\.0; exiting/);
  assert.match(log, /HINT: +Run ALTER EXTENSION bigbrotr UPDATE in database/);
  assert.doesNotMatch(log, /"bigbrotr initializer".*exited with exit code [1-9]/, 'the refusing worker exits with code 0');
  const st = await status('initializer');
  assert.equal(Number(st.cycles_run), 0, 'no cycle ran on the 0.1.0 install');
});

let beforeUpdate;

test('ALTER EXTENSION bigbrotr UPDATE TO 0.2.0 keeps every row of every table, byte for byte, rewriting none', async () => {
  beforeUpdate = await tableDigests();
  assert.equal(beforeUpdate.events.n, N_EVENTS);
  const files = () => sql(`SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'bigbrotr'::regnamespace
                           AND relkind = 'r' ORDER BY relname`);
  const filesBefore = await files();
  await sql("ALTER EXTENSION bigbrotr UPDATE TO '0.2.0'");
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

test('the catalog updated to 0.2.0 equals a fresh 0.2.0 install', async () => {
  await assertCatalogIsFresh('0.2.0');
});

test('insert_sightings and insert_events work on the archive updated to 0.2.0', async () => {
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
  fixture.fresh = fresh;
});

// The 0.3.0 step: old columns kept row for row, the new ones filled, the catalog a fresh install's.
async function updateTo030(database, where = {}) {
  const oldColumns = await tableColumns(database);
  const before = await tableDigests(database, oldColumns, where);
  const notices = [];
  const client = await connect(database);
  client.on('notice', (m) => notices.push(m.message));
  try {
    await client.query("ALTER EXTENSION bigbrotr UPDATE TO '0.3.0'");
  } finally {
    await client.end();
  }
  assert.equal((await sql("SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'", [], database))[0].extversion, '0.3.0');
  assert.deepEqual(await tableDigests(database, oldColumns), before, 'every row of every table, its old columns byte for byte');
  const added = Object.fromEntries(Object.entries(await tableColumns(database))
    .map(([t, cols]) => [t, cols.filter((c) => !oldColumns[t].includes(c))]).filter(([, cols]) => cols.length));
  assert.deepEqual(added, { events_relays: ['event_created_at'], nip66: ['auth_required'] });
  const c = await check030Columns(database);
  assert.equal(c.sightings.n, before.events_relays.n);
  assert.equal(c.sightings.differ, 0, 'every sighting carries its event\'s created_at');
  assert.deepEqual(c.nip66, { n: before.nip66.n, auth_known: 0, id_differs: 0 },
    'nip66 rows are untested, and their ids are what the 0.3.0 hash gives their fields');
  return { before, notices };
}

test('ALTER EXTENSION bigbrotr UPDATE from 0.2.0 to 0.3.0 keeps every row and fills event_created_at', async () => {
  const { before, notices } = await updateTo030(env.db);
  assert.ok(before.events_relays.n > 3 * N_EVENTS);
  assert.deepEqual(notices.filter((m) => /bigbrotr/.test(m)), [], 'no orphan sighting to delete');
});

test('the catalog updated 0.1.0 -> 0.2.0 -> 0.3.0 equals a fresh 0.3.0 install', async () => {
  await assertCatalogIsFresh('0.3.0');
});

test('the 0.3.0 writers and relay_items work on the upgraded archive', async () => {
  const more = Array.from({ length: 30 }, (_, i) => signed({ kind: 1, tags: tagsFor(i), content: `after 0.3.0 ${i}`,
    created_at: 1600000000 + i }));
  const url = 'wss://relay0.upgrade.example';
  const ids = [...fixture.events.slice(300, 400), ...fixture.fresh].map((e) => '\\x' + e.id);
  await sql('SELECT bigbrotr.insert_sightings($1::text[]::bytea[], $2, NULL, 5000, 8000)', [ids, 'wss://third.upgrade.example']);
  await sql(
    `SELECT bigbrotr.insert_events($1::text[]::bytea[], $2::text[]::bytea[], $3, $4, $5::jsonb[], $6, $7::text[]::bytea[],
                                   $8, $9, $10, $11)`,
    [more.map((e) => '\\x' + e.id), more.map((e) => '\\x' + e.pubkey), more.map((e) => e.created_at), more.map((e) => e.kind),
     more.map((e) => JSON.stringify(e.tags)), more.map((e) => e.content), more.map((e) => '\\x' + e.sig),
     more.map(() => url), more.map(() => null), more.map(() => 5000), more.map(() => 8001)]);
  const c = await check030Columns();
  assert.equal(c.sightings.differ, 0);
  // The relay's items: every event linked to it, in (created_at, id) order, as the archive holds them.
  const items = await sql(`SELECT created_at::text, encode(id, 'hex') AS id FROM bigbrotr.relay_items($1, NULL, NULL, NULL)`, [url]);
  const expected = await sql(`SELECT e.created_at::text, encode(e.id, 'hex') AS id FROM bigbrotr.events e
                              WHERE EXISTS (SELECT 1 FROM bigbrotr.events_relays er WHERE er.event_id = e.id AND er.relay_url = $1)
                              ORDER BY e.created_at, e.id`, [url]);
  assert.ok(items.length > N_EVENTS / 4, `items: ${items.length}`);
  assert.deepEqual(items, expected);
  // The 30 new ones are older than every fixture event, one per second: they come first, in order.
  assert.deepEqual(items.slice(0, 30).map((r) => r.id), more.map((e) => e.id));
});

// What the stats hold against a count of events, per (day, kind): event_stats plus the unfolded deltas.
async function statsVersusEvents(database = env.db) {
  const [r] = await sql(`WITH s AS (SELECT day, kind, sum(events) AS n FROM (SELECT * FROM bigbrotr.event_stats
                                      UNION ALL SELECT * FROM bigbrotr.event_stats_delta) u GROUP BY 1, 2 HAVING sum(events) <> 0),
                              t AS (SELECT bigbrotr.event_day(created_at) AS day, kind, count(*) AS n FROM bigbrotr.events GROUP BY 1, 2)
                         SELECT (SELECT count(*)::int FROM t) AS cells, (SELECT coalesce(sum(n), 0)::int FROM t) AS events,
                                (SELECT count(*)::int FROM s FULL JOIN t USING (day, kind) WHERE s.n IS DISTINCT FROM t.n) AS differ`,
  [], database);
  return r;
}

// The 0.4.0 step: every row of every table kept, none rewritten, exactly the two stats tables added,
// event_stats filled from events in the update (no delta left), the role there, the catalog fresh.
async function updateTo040(database) {
  const before = await tableDigests(database);
  const files = () => sql(`SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'bigbrotr'::regnamespace
                           AND relkind = 'r' ORDER BY relname`, [], database);
  const filesBefore = await files();
  await sql('ALTER EXTENSION bigbrotr UPDATE', [], database);
  assert.equal((await sql("SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'", [], database))[0].extversion, '0.4.0');
  const after = await tableDigests(database);
  const { event_stats: stats, event_stats_delta: delta, ...kept } = after;
  assert.deepEqual(kept, before, 'every row of every 0.3.0 table, byte for byte');
  assert.deepEqual(Object.keys(after).filter((t) => !(t in before)).sort(), ['event_stats', 'event_stats_delta']);
  assert.deepEqual((await files()).filter((f) => f.relname in before), filesBefore, 'no table rewritten');
  assert.equal(delta.n, 0, 'the fill writes event_stats, no delta');
  assert.ok(stats.n > 0 || before.events.n === 0);
  const c = await statsVersusEvents(database);
  assert.deepEqual(c, { cells: stats.n, events: before.events.n, differ: 0 }, 'event_stats is the count of events per (day, kind)');
  const [role] = await sql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bigbrotr_api'", [], database);
  assert.equal(role.rolcanlogin, false);
  await assertCatalogIsFresh('0.4.0', database);
  return before;
}

// After the update the triggers count: new events (with duplicates), deletes, and the fold.
async function statsStayExact(database, events) {
  const client = await connect(database);
  try {
    const insert = (b, url) => client.query(
      `SELECT bigbrotr.insert_events($1::text[]::bytea[], $2::text[]::bytea[], $3, $4, $5::jsonb[], $6, $7::text[]::bytea[],
                                     $8, $9, $10, $11) AS new`,
      [b.map((e) => '\\x' + e.id), b.map((e) => '\\x' + e.pubkey), b.map((e) => e.created_at), b.map((e) => e.kind),
       b.map((e) => JSON.stringify(e.tags)), b.map((e) => e.content), b.map((e) => '\\x' + e.sig),
       b.map(() => url), b.map(() => null), b.map(() => 9000), b.map(() => 9001)]);
    const total = async () => Number((await client.query('SELECT (bigbrotr.api_stats(30)->>\'events\')::bigint AS n')).rows[0].n);
    const n0 = await total();
    const fresh = Array.from({ length: 60 }, (_, i) => signed({ kind: [1, 7, 30023][i % 3], tags: tagsFor(i), content: `0.4.0 ${i}`,
      created_at: 1650000000 + i * 3600 }));
    const r1 = await insert([...events.slice(0, 100), ...fresh.slice(0, 30)], 'wss://stats.upgrade.example');
    assert.equal(r1.rows[0].new, 30, 'only the new events are new');
    assert.equal(await total(), n0 + 30, 'the known events of the batch count nothing');
    await client.query('SELECT bigbrotr.api_stats_fold()');
    await insert(fresh, 'wss://stats2.upgrade.example');
    await client.query('SELECT * FROM bigbrotr.delete_events($1::text[]::bytea[])', [fresh.slice(0, 10).map((e) => '\\x' + e.id)]);
    assert.equal(await total(), n0 + 50);
    assert.equal((await statsVersusEvents(database)).differ, 0);
    await client.query('SELECT bigbrotr.api_stats_fold()');
    const c = await statsVersusEvents(database);
    assert.equal(c.differ, 0);
    assert.equal(c.events, n0 + 50);
  } finally {
    await client.end();
  }
}

test('ALTER EXTENSION bigbrotr UPDATE from 0.3.0 to 0.4.0 keeps every row, fills event_stats; catalog fresh', async () => {
  const before = await updateTo040(env.db);
  assert.ok(before.events.n > N_EVENTS);
});

test('on the archive updated to 0.4.0 the stats stay exact through inserts, duplicates, deletes and folds', async () => {
  await statsStayExact(env.db, fixture.events);
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

// 0.2.0 -> 0.3.0 directly, on an archive written by the 0.2.0 procedures, with the orphan sightings a
// DELETE by hand leaves: one whose event is gone (no created_at to give it: the update deletes it and
// warns how many) and one whose relay is gone (it has its event's created_at: kept).
test('ALTER EXTENSION bigbrotr UPDATE from a 0.2.0 install: rows kept, orphans of deleted events removed, catalog fresh', async () => {
  await sql(`DROP DATABASE IF EXISTS ${DIRECT_DB} WITH (FORCE)`, [], 'postgres');
  await sql(`CREATE DATABASE ${DIRECT_DB}`, [], 'postgres');
  await sql("CREATE EXTENSION bigbrotr VERSION '0.2.0'", [], DIRECT_DB);
  const events = fixture.events.slice(0, 1200);
  const client = await connect(DIRECT_DB);
  try {
    for (let r = 0; r < 4; r++) {
      const b = events.filter((_, i) => (i + r) % 4 < 2);
      await client.query(
        `SELECT bigbrotr.insert_events($1::text[]::bytea[], $2::text[]::bytea[], $3, $4, $5::jsonb[], $6, $7::text[]::bytea[],
                                       $8, $9, $10, $11)`,
        [b.map((e) => '\\x' + e.id), b.map((e) => '\\x' + e.pubkey), b.map((e) => e.created_at), b.map((e) => e.kind),
         b.map((e) => JSON.stringify(e.tags)), b.map((e) => e.content), b.map((e) => '\\x' + e.sig),
         b.map(() => RELAYS[r]), b.map(() => 'clearnet'), b.map(() => 1000 + r), b.map((e) => e.created_at + r)]);
    }
    await client.query('SELECT bigbrotr.insert_sightings($1::text[]::bytea[], $2, NULL, 5000, 6000)',
      [events.slice(0, 500).map((e) => '\\x' + e.id), RELAYS[5]]);
    await client.query('SELECT bigbrotr.insert_relay_metadata_batch($1::jsonb)', [JSON.stringify(RELAYS.map((url, r) => ({
      relay_url: url, network: 'clearnet', inserted_at: 1000 + r, generated_at: 9000,
      nip66: { openable: true, readable: true, writable: r % 2 === 1, rtt_open: r, rtt_read: 2 * r, rtt_write: null },
      nip11: { name: `direct ${r}`, supported_nips: [1, 77] } })))]);
    await client.query(`INSERT INTO bigbrotr.service_state VALUES ('synchronizer:${RELAYS[0]}', '{"cursor": 1700000100}', 1)`);
    // An orphan whose relay is gone: kept.
    await client.query(`INSERT INTO bigbrotr.events_relays VALUES ($1::text::bytea, 'wss://gone.upgrade.example', 7)`,
      ['\\x' + events[0].id]);
  } finally {
    await client.end();
  }
  // Orphans whose event is gone: the sightings of an event deleted by hand.
  const gone = events[1];
  const [o] = await sql(`WITH d AS (DELETE FROM bigbrotr.events WHERE id = $1::text::bytea RETURNING id)
                         SELECT count(*)::int AS n FROM bigbrotr.events_relays er, d WHERE er.event_id = d.id`, ['\\x' + gone.id], DIRECT_DB);
  assert.ok(o.n >= 2, `sightings of the deleted event: ${o.n}`);
  const { notices } = await updateTo030(DIRECT_DB,
    { events_relays: 'EXISTS (SELECT 1 FROM bigbrotr.events e WHERE e.id = t.event_id)' });
  assert.deepEqual(notices.filter((m) => /bigbrotr/.test(m)),
    [`bigbrotr 0.3.0 update: deleted ${o.n} sightings whose event no longer exists`]);
  const [g] = await sql(`SELECT event_created_at::text AS c FROM bigbrotr.events_relays WHERE relay_url = 'wss://gone.upgrade.example'`,
    [], DIRECT_DB);
  assert.equal(g.c, String(events[0].created_at), 'the orphan of a deleted relay keeps its event\'s created_at');
  await assertCatalogIsFresh('0.3.0', DIRECT_DB);
  await updateTo040(DIRECT_DB);
});

// A fresh 0.3.0 install written by the 0.3.0 procedures (sightings with event_created_at, NIP-66 with
// auth_required, relay_items in use), updated to 0.4.0.
test('ALTER EXTENSION bigbrotr UPDATE from a fresh 0.3.0 install keeps every row and counts every event', async () => {
  await sql(`DROP DATABASE IF EXISTS ${DIRECT_DB} WITH (FORCE)`, [], 'postgres');
  await sql(`CREATE DATABASE ${DIRECT_DB}`, [], 'postgres');
  await sql("CREATE EXTENSION bigbrotr VERSION '0.3.0'", [], DIRECT_DB);
  const events = fixture.events.slice(500, 1700);
  const client = await connect(DIRECT_DB);
  try {
    for (let r = 0; r < 3; r++) {
      const b = events.filter((_, i) => (i + r) % 3 < 2);
      await client.query(
        `SELECT bigbrotr.insert_events($1::text[]::bytea[], $2::text[]::bytea[], $3, $4, $5::jsonb[], $6, $7::text[]::bytea[],
                                       $8, $9, $10, $11)`,
        [b.map((e) => '\\x' + e.id), b.map((e) => '\\x' + e.pubkey), b.map((e) => e.created_at), b.map((e) => e.kind),
         b.map((e) => JSON.stringify(e.tags)), b.map((e) => e.content), b.map((e) => '\\x' + e.sig),
         b.map(() => RELAYS[r]), b.map(() => null), b.map(() => 1000 + r), b.map((e) => e.created_at + r)]);
    }
    await client.query('SELECT bigbrotr.insert_sightings($1::text[]::bytea[], $2, NULL, 5000, 6000)',
      [events.slice(0, 400).map((e) => '\\x' + e.id), RELAYS[4]]);
    await client.query('SELECT bigbrotr.insert_relay_metadata_batch($1::jsonb)', [JSON.stringify(RELAYS.map((url, r) => ({
      relay_url: url, network: 'clearnet', inserted_at: 1000 + r, generated_at: 9000,
      nip66: { openable: true, readable: true, writable: false, rtt_open: r, auth_required: r % 2 === 0 },
      nip11: { name: `fresh 0.3.0 ${r}`, supported_nips: [1, 77] } })))]);
    await client.query(`INSERT INTO bigbrotr.service_state VALUES ('synchronizer:${RELAYS[1]}', '{"cursor": 1700000200}', 1)`);
    await client.query('SELECT * FROM bigbrotr.delete_events($1::text[]::bytea[])', [events.slice(0, 5).map((e) => '\\x' + e.id)]);
  } finally {
    await client.end();
  }
  const before = await updateTo040(DIRECT_DB);
  assert.equal(before.events.n, events.length - 5);
  await statsStayExact(DIRECT_DB, events.slice(5));
});
