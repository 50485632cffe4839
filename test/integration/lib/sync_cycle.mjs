// sync_cycle.mjs: driving the synchronizer from a test: stop and wait for every worker, run exactly
// one cycle, and read what it left (a relay's sightings, its service_state position, its queue row).
import { sql, status, waitFor } from './cluster.mjs';

export async function stopAndWait() {
  await sql("SELECT bigbrotr.bigbrotr_stop('synchronizer')");
  await waitFor('synchronizer stopped', async () => (await sql(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr synchronizer%'"))[0].n === 0,
  { timeoutMs: 15000 });
}

// A freshly started service runs its first cycle at once: stop, wait, start.
export async function startFresh() {
  await stopAndWait();
  await sql("SELECT bigbrotr.bigbrotr_start('synchronizer')");
}

export async function runOneCycle({ timeoutMs = 120000 } = {}) {
  // Counted only once no worker runs: a stopping worker records the cycle it cut short, and that
  // cycle must not pass for the new one.
  await stopAndWait();
  const before = Number((await status('synchronizer')).cycles_run);
  await sql("SELECT bigbrotr.bigbrotr_start('synchronizer')");
  return waitFor('a synchronizer cycle', async () => {
    const st = await status('synchronizer');
    return Number(st.cycles_run) > before ? st : null;
  }, { timeoutMs, intervalMs: 500 });
}

export async function archivedFrom(url) {
  return (await sql('SELECT count(*)::int AS n FROM bigbrotr.events_relays WHERE relay_url = $1', [url]))[0].n;
}

export async function relayState(url) {
  const rows = await sql("SELECT state FROM bigbrotr.service_state WHERE service_name = 'synchronizer:' || $1", [url]);
  return rows[0]?.state ?? null;
}

export async function queueStats(url) {
  const rows = await sql('SELECT done, stats, claimed_by FROM bigbrotr.synchronizer_queue WHERE relay_url = $1', [url]);
  return rows[0] ?? null;
}
