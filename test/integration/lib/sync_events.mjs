// sync_events.mjs: signed event sets for the synchronizer's tests and benchmark. Signing with
// nostr-tools costs a few milliseconds an event here, so sets are signed on every core at once
// (worker threads), cached as JSON in BB_WORK (or BB_SYNC_CACHE, to keep them across runs) and
// reused. Few keys sign many events; created_at values are spread over `span` seconds before `end`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { finalizeEvent } from 'nostr-tools/pure';

// Regular kinds only: relays keep just the newest replaceable (0, 3, 1xxxx) or addressable (3xxxx) event.
const KINDS = [1, 7, 4, 6, 1111];

function key(i) {
  const sk = new Uint8Array(32);
  sk[31] = i + 1;
  sk[0] = 0x5b;
  return sk;
}

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

// Events [from, to) of a set: each index draws from its own generator, so slices can be signed apart.
function signRange({ from, to, end, span = 365 * 86400, seed = 1, keys = 4, kinds = KINDS, at = null, tag = '' }) {
  const out = [];
  for (let i = from; i < to; i++) {
    const rand = rng(seed * 7919 + i * 104729 + 1);
    rand();
    const created_at = at ?? (end - Math.floor(rand() * span));
    const kind = kinds[Math.floor(rand() * kinds.length)];
    out.push(finalizeEvent({ kind, created_at, tags: [['t', `bb${seed}`]], content: `${tag}${seed}:${i}` },
      key(Math.floor(rand() * keys))));
  }
  return out;
}

export function makeEvents(options) {
  return signRange({ from: 0, to: options.count, ...options });
}

// makeEvents on every core; resolves to the events in index order.
export async function makeEventsParallel(options) {
  const threads = Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8));
  const per = Math.ceil(options.count / threads);
  const parts = [];
  for (let t = 0; t < threads; t++) {
    const from = t * per, to = Math.min(options.count, from + per);
    if (from >= to) break;
    parts.push(new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { ...options, from, to } });
      w.once('message', resolve);
      w.once('error', reject);
    }));
  }
  return (await Promise.all(parts)).flat();
}

// makeEventsParallel, cached as JSON under `name`.
export async function cachedEvents(name, options) {
  const dir = process.env.BB_SYNC_CACHE || process.env.BB_WORK || '/tmp';
  const file = path.join(dir, `sync-v2-${name}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const events = await makeEventsParallel(options);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(events));
  fs.renameSync(`${file}.tmp`, file);
  return events;
}

// A copy with a broken signature (still well-formed): must never be stored.
export function badSignature(event) {
  const c = event.sig[0] === '0' ? '1' : '0';
  return { ...event, sig: c + event.sig.slice(1) };
}

if (!isMainThread && workerData) parentPort.postMessage(signRange(workerData));
