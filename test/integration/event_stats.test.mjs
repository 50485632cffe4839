// event_stats.test.mjs: the 0.4.0 event counts stay exact under concurrency. Four writers store
// overlapping batches through bigbrotr.insert_events (as synchronizer workers do: the same events
// reach several of them, so most rows of a batch are ON CONFLICT duplicates), one deletes through
// bigbrotr.delete_events, two fold with bigbrotr.api_stats_fold() in a loop and one reads
// bigbrotr.api_stats(): no statement may fail (no deadlock, no serialization error), every reader's
// total must be a count the archive really had, and at the end event_stats plus the unfolded deltas
// equal a count of events per (UTC day, kind), before and after a final fold. Real cluster, real
// sessions; the duration is a bound on work, never an assertion on time.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { sql, connect, freshExtension } from './lib/cluster.mjs';
import { scaled } from './lib/slowness.mjs';

const RUN_MS = scaled(6000);
const hex = (n, width) => n.toString(16).padStart(width, '0');
// Event i: a fixed id, one of 6 days, one of 5 kinds (signatures are not checked by the procedures).
const event = (i) => ({ id: hex(i, 64), created_at: 1700000000 + (i % 6) * 86400 + i, kind: [1, 7, 0, 30023, 1111][i % 5] });

async function stats(client) {
  const { rows: [r] } = await client.query(`
    WITH s AS (SELECT day, kind, sum(events) AS n FROM (SELECT * FROM bigbrotr.event_stats
               UNION ALL SELECT * FROM bigbrotr.event_stats_delta) u GROUP BY 1, 2 HAVING sum(events) <> 0),
         t AS (SELECT bigbrotr.event_day(created_at) AS day, kind, count(*) AS n FROM bigbrotr.events GROUP BY 1, 2)
    SELECT (SELECT count(*)::int FROM bigbrotr.events) AS events,
           (SELECT count(*)::int FROM s FULL JOIN t USING (day, kind) WHERE s.n IS DISTINCT FROM t.n) AS differ,
           (SELECT count(*)::int FROM bigbrotr.event_stats_delta) AS unfolded`);
  return r;
}

before(async () => {
  await freshExtension();
});

test('inserts with duplicates, deletes, folds and reads run concurrently; the counts stay exact', async () => {
  const deadline = Date.now() + RUN_MS;
  const errors = [];
  const counters = { batches: 0, folds: 0, folded: 0, deletes: 0, reads: 0 };
  const session = async (fn) => {
    const client = await connect();
    try {
      while (Date.now() < deadline) {
        try { await fn(client); } catch (e) { errors.push(e.message); return; }
      }
    } finally {
      await client.end();
    }
  };
  let next = 0;
  const writer = (w) => session(async (client) => {
    // 200 events: 150 of the last 400 stored (duplicates for this writer or another) and 50 new ones.
    const start = Math.max(0, next - 400);
    const ids = Array.from({ length: 150 }, (_, k) => start + ((k * 7 + w) % Math.max(1, next - start)));
    for (let k = 0; k < 50; k++) ids.push(next++);
    const b = [...new Set(ids)].map(event);
    await client.query(
      `SELECT bigbrotr.insert_events($1::text[]::bytea[], array_fill($2::bytea, ARRAY[$3::int]), $4, $5,
                                     array_fill('[]'::jsonb, ARRAY[$3::int]), array_fill('x'::text, ARRAY[$3::int]),
                                     array_fill($6::bytea, ARRAY[$3::int]), array_fill($7::text, ARRAY[$3::int]),
                                     array_fill(NULL::text, ARRAY[$3::int]), array_fill(1::bigint, ARRAY[$3::int]),
                                     array_fill(2::bigint, ARRAY[$3::int]))`,
      [b.map((e) => '\\x' + e.id), '\\x' + hex(0xa1, 64), b.length, b.map((e) => e.created_at), b.map((e) => e.kind),
       '\\x' + 'ab'.repeat(64), `wss://writer${w}.stats.example`]);
    counters.batches++;
  });
  const folder = () => session(async (client) => {
    const { rows: [r] } = await client.query('SELECT bigbrotr.api_stats_fold() AS n');
    counters.folds++;
    counters.folded += Number(r.n);
  });
  const deleter = () => session(async (client) => {
    const ids = Array.from({ length: 20 }, () => event(Math.floor(Math.random() * Math.max(1, next))).id);
    await client.query('SELECT * FROM bigbrotr.delete_events($1::text[]::bytea[])', [ids.map((id) => '\\x' + id)]);
    counters.deletes++;
  });
  const reader = () => session(async (client) => {
    // One snapshot: the api's total and the archive's count agree in every transaction.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: [r] } = await client.query(`SELECT (bigbrotr.api_stats(30)->>'events')::int AS api,
                                                     (SELECT count(*)::int FROM bigbrotr.events) AS archive`);
    await client.query('COMMIT');
    if (r.api !== r.archive) errors.push(`api_stats said ${r.api} events while the archive held ${r.archive}`);
    counters.reads++;
  });
  await Promise.all([writer(0), writer(1), writer(2), writer(3), deleter(), folder(), folder(), reader()]);
  assert.deepEqual(errors, [], 'no statement failed and every read was exact');
  assert.ok(counters.batches >= 8 && counters.folds >= 4 && counters.deletes >= 2 && counters.reads >= 2,
    `work done: ${JSON.stringify(counters)}`);
  assert.ok(counters.folded > 0, 'the folds moved delta rows');

  const client = await connect();
  try {
    const s1 = await stats(client);
    assert.ok(s1.events > 0);
    assert.equal(s1.differ, 0, 'event_stats plus the deltas equal the count of events per (day, kind)');
    await client.query('SELECT bigbrotr.api_stats_fold()');
    const s2 = await stats(client);
    assert.deepEqual(s2, { events: s1.events, differ: 0, unfolded: 0 }, 'and after a final fold, with no delta left');
    const [g] = await sql("SELECT value FROM bigbrotr.api_gauges() WHERE name = 'bigbrotr_archive_events'");
    assert.equal(Number(g.value), s1.events, 'the events gauge is the count');
  } finally {
    await client.end();
  }
});
