// gen_neg_fixtures.mjs: writes test/fixtures/nostr/negentropy_exchanges.txt, NIP-77 negentropy
// exchanges computed by nostr-tools' nip77 (the JavaScript reference) that test/unit/test_negentropy.c
// replays with our C implementation, byte for byte, in both roles.
//
//   node test/js/gen_neg_fixtures.mjs          (from the repository root or test/)
//
// Item sets are not stored: each case names a seed and the C test draws the same items with the
// same PRNG (mulberry32; see draw_items() in test_negentropy.c). For every case the file holds the
// messages in order ("I" = initiator, "R" = responder, hex) and the initiator's final have/need
// sets, each as its size and the SHA-256 of its ids sorted and concatenated.
//
// The initiator is nostr-tools' Negentropy as it is. The responder is nostr-tools' Negentropy with
// the one rule it lacks (NegentropyResponder in neg_responder.mjs): nostr-tools answers an IdList
// range with Skip, NIP-77 and strfry with the responder's own ids of the range.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Negentropy, NegentropyStorageVector, NegentropyResponder } from './neg_responder.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outFile = join(here, '..', 'fixtures', 'nostr', 'negentropy_exchanges.txt');

const hex = (b) => Buffer.from(b).toString('hex');

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// The universe of n items, each in both sets (both per mille), the initiator's only (conly) or the
// responder's only (the rest). Timestamps are TS_BASE + r % spread (spread 1: all equal).
const TS_BASE = 1700000000;
function drawItems({ n, seed, spread, both, conly }) {
  const r = mulberry32(seed);
  const client = [], server = [];
  for (let i = 0; i < n; i++) {
    const timestamp = TS_BASE + (r() % spread);
    const id = new Uint8Array(32);
    for (let w = 0; w < 8; w++) {
      const v = r();
      for (let b = 0; b < 4; b++) id[w * 4 + b] = (v >>> (8 * b)) & 0xff;
    }
    const side = r() % 1000;
    const item = { timestamp, id: hex(id) };
    if (side < both) { client.push(item); server.push(item); }
    else if (side < both + conly) client.push(item);
    else server.push(item);
  }
  return { client, server };
}

function storage(items) {
  const s = new NegentropyStorageVector();
  for (const it of items) s.insert(it.timestamp, it.id);
  s.seal();
  return s;
}

function exchange(c) {
  const { client, server } = drawItems(c);
  const limit = c.limit || Infinity;
  const ini = new Negentropy(storage(client), limit);
  const resp = new NegentropyResponder(storage(server), limit);
  const lines = [];
  const have = [], need = [];
  let msg = ini.initiate();
  for (let round = 0; ; round++) {
    if (round > 1000) throw Error(`${c.name}: no end`);
    lines.push(`I ${msg}`);
    const answer = resp.reconcile(msg);
    lines.push(`R ${answer}`);
    msg = ini.reconcile(answer, (id) => have.push(id), (id) => need.push(id));
    if (msg === null) break;
  }
  // The exchange must have found the true differences.
  const cs = new Set(client.map((i) => i.id)), ss = new Set(server.map((i) => i.id));
  const trueHave = [...cs].filter((id) => !ss.has(id)).sort();
  const trueNeed = [...ss].filter((id) => !cs.has(id)).sort();
  have.sort(); need.sort();
  if (have.join() !== trueHave.join() || need.join() !== trueNeed.join())
    throw Error(`${c.name}: have/need are not the set differences`);
  // Each set as its size and the SHA-256 of its sorted ids concatenated (binary).
  const digest = (ids) => createHash('sha256').update(Buffer.from(ids.join(''), 'hex')).digest('hex');
  lines.push(`have ${have.length} ${digest(have)}`);
  lines.push(`need ${need.length} ${digest(need)}`);
  return { lines, client: client.length, server: server.length, have: have.length, need: need.length };
}

// name, universe size, seed, timestamp spread, per mille in both, per mille initiator-only, frame size limit (0 = none)
const cases = [
  ['empty', 0, 1, 1000, 1000, 0, 0],
  ['one-both', 1, 2, 1000, 1000, 0, 0],
  ['one-initiator', 1, 3, 1000, 0, 1000, 0],
  ['one-responder', 1, 4, 1000, 0, 0, 0],
  ['same-31', 31, 5, 1000, 1000, 0, 0],
  ['same-32', 32, 6, 1000, 1000, 0, 0],
  ['same-33', 33, 7, 1000, 1000, 0, 0],
  ['diff-small-a', 34, 8, 1000, 900, 50, 0],
  ['diff-small-b', 36, 9, 1000, 900, 50, 0],
  ['diff-small-c', 36, 10, 1000, 900, 50, 0],
  ['initiator-only-31', 31, 21, 1000, 0, 1000, 0],
  ['responder-only-32', 32, 22, 1000, 0, 0, 0],
  ['initiator-only-33', 33, 11, 1000, 0, 1000, 0],
  ['responder-only-33', 33, 12, 1000, 0, 0, 0],
  ['same-1000', 1000, 13, 100000, 1000, 0, 0],
  ['diff-1000', 1000, 14, 100000, 900, 50, 0],
  ['diff-1000-4096', 1000, 14, 100000, 900, 50, 4096],
  ['equal-ts-1000', 1000, 15, 1, 900, 50, 0],
  ['equal-ts-1000-4096', 1000, 15, 1, 900, 50, 4096],
  ['few-ts-1000', 1000, 16, 3, 800, 100, 0],
  ['responder-only-600-4096', 600, 17, 100000, 0, 0, 4096],
  ['responder-only-600', 600, 17, 100000, 0, 0, 0],
  ['initiator-only-600-4096', 600, 18, 100000, 0, 1000, 4096],
  ['diff-10000', 10000, 19, 1000000, 996, 2, 0],
  ['diff-10000-4096', 10000, 19, 1000000, 996, 2, 4096],
  ['diff-10000-60000', 10000, 23, 1000000, 990, 5, 60000],
  ['same-10000-4096', 10000, 20, 1000000, 1000, 0, 4096],
  ['responder-only-2500-60000', 2500, 24, 1000000, 0, 0, 60000],
];

const out = ['# negentropy_exchanges.txt: generated by test/js/gen_neg_fixtures.mjs (nostr-tools nip77); do not edit.',
  '# case NAME n SEED SPREAD BOTH INITIATOR_ONLY (per mille) FRAME_LIMIT, then I/R messages (hex), have/need COUNT SHA256, end'];
for (const [name, n, seed, spread, both, conly, limit] of cases) {
  const c = { name, n, seed, spread, both, conly, limit };
  const r = exchange(c);
  out.push(`case ${name} ${n} ${seed} ${spread} ${both} ${conly} ${limit}`, ...r.lines, 'end');
  console.log(`${name}: initiator ${r.client}, responder ${r.server}, have ${r.have}, need ${r.need}, ` +
    `${r.lines.length - 2} messages`);
}
writeFileSync(outFile, out.join('\n') + '\n');
console.log(`wrote ${outFile}`);
