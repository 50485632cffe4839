// dump.test.mjs: pg_dump keeps the archive. The archive tables (relays, events, events_relays,
// nip11, nip66, relay_metadata) and the services' cursors (service_state) are members of the
// extension, which pg_dump skips unless they are marked as configuration tables: without that, a
// dump restored elsewhere had the extension and none of the data. A dump restored into a fresh
// database must give back every row, with events' generated tagvalues recomputed the same way.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { env, sql, freshExtension } from './lib/cluster.mjs';

const TABLES = {
  relays: 'url, network, inserted_at',
  events: "encode(id, 'hex'), encode(pubkey, 'hex'), created_at, kind, tags::text, tagvalues, content, encode(sig, 'hex')",
  events_relays: "encode(event_id, 'hex'), relay_url, seen_at",
  nip11: "encode(id, 'hex'), name, supported_nips::text, extra_fields::text",
  nip66: "encode(id, 'hex'), openable, readable, writable, rtt_open, rtt_read, rtt_write",
  relay_metadata: "relay_url, generated_at, encode(nip11_id, 'hex'), encode(nip66_id, 'hex')",
  service_state: 'service_name, state::text, updated_at',
};

async function rows(table, database) {
  return sql(`SELECT ${TABLES[table]} FROM bigbrotr.${table} ORDER BY 1, 2`, [], database);
}

before(async () => {
  await freshExtension();
  const hex = (b, n) => Buffer.alloc(n, b).toString('hex');
  await sql(`SELECT bigbrotr.insert_events(
      ARRAY[decode($1, 'hex'), decode($2, 'hex')], ARRAY[decode($3, 'hex'), decode($3, 'hex')],
      ARRAY[10, 20]::bigint[], ARRAY[1, 7], ARRAY['[["t","dump"]]'::jsonb, jsonb_build_array(jsonb_build_array('x', repeat('z', 3000)))],
      ARRAY['one', 'two'], ARRAY[decode($4, 'hex'), decode($4, 'hex')],
      ARRAY['wss://dump.example', 'wss://dump2.example'], ARRAY['clearnet', NULL], ARRAY[1, 2]::bigint[], ARRAY[3, 4]::bigint[])`,
  [hex(0xd1, 32), hex(0xd2, 32), hex(0xa1, 32), hex(0xb1, 64)]);
  await sql(`SELECT bigbrotr.insert_relay_metadata_batch('[
      {"relay_url": "wss://dump.example", "network": "clearnet", "inserted_at": 1, "generated_at": 100,
       "nip66": {"openable": true, "readable": true, "writable": false, "rtt_open": 5, "rtt_read": 6},
       "nip11": {"name": "dump relay", "supported_nips": [1, 11], "extra_fields": {"k": "v"}}}]')`);
  await sql(`INSERT INTO bigbrotr.service_state (service_name, state, updated_at)
             VALUES ('synchronizer:wss://dump.example', '{"cursor": 20, "shortfalls": []}', 5)`);
});

test('pg_dump and a restore into a fresh database keep every archive row and cursor', async () => {
  const conn = ['-h', '127.0.0.1', '-p', String(env.port), '-U', 'postgres'];
  const dump = execFileSync(`${env.pgBin}/pg_dump`, [...conn, '-d', env.db], { encoding: 'utf8', maxBuffer: 1 << 28 });
  await sql('DROP DATABASE IF EXISTS bigbrotr_dump_restore', [], 'postgres');
  await sql('CREATE DATABASE bigbrotr_dump_restore', [], 'postgres');
  try {
    execFileSync(`${env.pgBin}/psql`, [...conn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'bigbrotr_dump_restore'],
      { input: dump, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    for (const table of Object.keys(TABLES)) {
      const original = await rows(table, env.db);
      assert.ok(original.length > 0, `${table} has rows to dump`);
      assert.deepEqual(await rows(table, 'bigbrotr_dump_restore'), original, `${table} restored as it was`);
    }
  } finally {
    await sql('DROP DATABASE bigbrotr_dump_restore WITH (FORCE)', [], 'postgres');
  }
});
