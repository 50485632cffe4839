// cluster.mjs: access to the throwaway cluster that test/run.sh created (env BB_PORT, BB_DB, BB_PGDATA,
// BB_OS_USER, PG_BIN, BB_WORK): SQL, configuration, pg_ctl (as the cluster's OS user), waits, and a
// fresh extension state for each test file.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { scaled, scaledSeconds } from './slowness.mjs';

export const env = {
  port: Number(process.env.BB_PORT || 54329),
  db: process.env.BB_DB || 'bigbrotr',
  pgdata: process.env.BB_PGDATA,
  osUser: process.env.BB_OS_USER,
  pgBin: process.env.PG_BIN || '/usr/lib/postgresql/15/bin',
  work: process.env.BB_WORK || '/tmp',
};

if (!env.pgdata) throw new Error('run the integration tests through test/run.sh (BB_PGDATA is not set)');

const asRoot = process.getuid && process.getuid() === 0;

function runAsOwner(cmd, args) {
  const [file, argv] = asRoot ? ['runuser', ['-u', env.osUser, '--', cmd, ...args]] : [cmd, args];
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function pgctl(...args) {
  return runAsOwner(path.join(env.pgBin, 'pg_ctl'), ['-D', env.pgdata, ...args]);
}

export async function connect(database = env.db) {
  const client = new pg.Client({ host: '127.0.0.1', port: env.port, user: 'postgres', database });
  await client.connect();
  client.on('error', () => {}); // a restart kills the connection; tests reconnect
  return client;
}

// One query on a short-lived connection: robust across server restarts.
export async function sql(text, params = [], database = env.db) {
  const client = await connect(database);
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws with `what` after timeoutMs, scaled by BB_SLOWNESS
// (a deadline against hanging forever, not a claim about speed).
export async function waitFor(what, fn, { timeoutMs = 30000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + scaled(timeoutMs);
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${scaled(timeoutMs)} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

export async function status(name) {
  const rows = await sql('SELECT * FROM bigbrotr.bigbrotr_status() WHERE name = $1', [name]);
  return rows[0];
}

// Sets GUCs with ALTER SYSTEM and reloads, e.g. setConfig({'bigbrotr.finder_interval': 60}).
export async function setConfig(settings, { reload = true } = {}) {
  const client = await connect('postgres');
  try {
    for (const [k, v] of Object.entries(settings)) {
      if (v === null) await client.query(`ALTER SYSTEM RESET ${k}`);
      else await client.query(`ALTER SYSTEM SET ${k} = ${pg.escapeLiteral(String(v))}`);
    }
    if (reload) await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
}

export async function restartServer() {
  pgctl('-m', 'fast', '-w', '-t', String(scaledSeconds(60)), 'restart', '-l', path.join(env.pgdata, 'server.log'));
  await waitFor('server accepting connections', async () => (await sql('SELECT 1 AS ok', [], 'postgres'))[0].ok === 1);
}

// The extension freshly installed in the services' database, no service wanted, no data.
export async function freshExtension() {
  const dbs = await sql('SELECT 1 FROM pg_database WHERE datname = $1', [env.db], 'postgres');
  if (dbs.length === 0) await sql(`CREATE DATABASE ${env.db}`, [], 'postgres');
  const have = await sql("SELECT 1 FROM pg_extension WHERE extname = 'bigbrotr'");
  if (have.length) {
    await sql("UPDATE bigbrotr.service_control SET enabled = false");
    await waitFor('all services stopped', async () =>
      (await sql("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr %' AND backend_type <> 'bigbrotr launcher'"))[0].n === 0);
    await sql('DROP EXTENSION bigbrotr CASCADE');
  }
  await sql('CREATE EXTENSION bigbrotr');
}

// Pids of the worker processes of a service (backend_type 'bigbrotr <name>').
export async function workerPids(name) {
  const rows = await sql('SELECT pid FROM pg_stat_activity WHERE backend_type = $1 ORDER BY pid', [`bigbrotr ${name}`]);
  return rows.map((r) => r.pid);
}

// A file the cluster's OS user can read, in the test run's work directory.
export function writeWorkFile(name, content) {
  const file = path.join(env.work, name);
  fs.writeFileSync(file, content);
  fs.chmodSync(file, 0o644);
  return file;
}

export function serverLog() {
  return fs.readFileSync(path.join(env.pgdata, 'server.log'), 'utf8');
}

// Lines of the server log written after `mark` (a length returned by logMark()).
export function logMark() {
  return serverLog().length;
}
export function logSince(mark) {
  return serverLog().slice(mark);
}
