// gen_event_fixtures.mjs: writes the Nostr event fixtures used by the C unit tests and benchmark,
// signed by nostr-tools so our canonical serialization and verification are checked against the
// reference JavaScript implementation rather than against themselves.
//
//   node test/js/gen_event_fixtures.mjs        (from the repository root or test/)
//
// Outputs in test/fixtures/nostr/:
//   events_valid.jsonl    {"note", "serialized" (nostr-tools serializeEvent), "event"} per line
//   events_invalid.jsonl  "<expected reason code>\t<event JSON>" per line (tampered/malformed)
//   events_bench.jsonl    5000 signed events from 200 keys for test/bench/verify
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finalizeEvent, getPublicKey, getEventHash, serializeEvent, verifyEvent } from 'nostr-tools/pure';
import { sha256 } from '@noble/hashes/sha256';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'fixtures', 'nostr');
mkdirSync(outDir, { recursive: true });

// Deterministic keys (sha256 of a label) so fixtures are stable apart from BIP-340 aux randomness.
const key = (label) => sha256(new TextEncoder().encode(`bigbrotr fixture key ${label}`));
const sign = (tmpl, sk) => {
  const ev = finalizeEvent({ ...tmpl }, sk);
  if (!verifyEvent(ev)) throw new Error('nostr-tools produced an unverifiable event');
  return ev;
};

// ---- tricky valid events ----
let allControls = '';
for (let c = 0; c < 0x20; c++) allControls += String.fromCharCode(c);
const cases = [
  ['empty content and tags', { kind: 1, created_at: 1700000000, tags: [], content: '' }],
  ['every control char 0x00-0x1f', { kind: 1, created_at: 1700000001, tags: [], content: allControls }],
  ['named escapes', { kind: 1, created_at: 1700000002, tags: [], content: 'q"b\\s/n\nr\rt\tb\bf\f' }],
  ['DEL and C1', { kind: 1, created_at: 1700000003, tags: [], content: '\x7f\u0080\u009f' }],
  ['U+2028 U+2029 BOM', { kind: 1, created_at: 1700000004, tags: [], content: 'a\u2028b\u2029c\ufeffd' }],
  ['astral plane emoji', { kind: 1, created_at: 1700000005, tags: [['t', '😀🚀'], ['emoji', '𝄞', 'x']], content: '😀 family 👨‍👩‍👧 flag 🇮🇹 𝄞' }],
  ['non-ASCII BMP', { kind: 1, created_at: 1700000006, tags: [['t', 'café']], content: 'Zürich — 東京 — Москва — العربية' }],
  ['controls in tags', { kind: 1, created_at: 1700000007, tags: [['x', allControls, '"\\'], [], ['']], content: 'tags with escapes' }],
  ['long tags', { kind: 3, created_at: 1700000008, tags: Array.from({ length: 500 }, (_, i) => ['p', Buffer.from(key('p' + i)).toString('hex'), 'wss://relay' + i + '.example.com', 'petname ' + i]), content: '' }],
  ['long content', { kind: 30023, created_at: 1700000009, tags: [['d', 'article']], content: 'lorem ipsum \u00e9\n'.repeat(4000) }],
  ['kind 0', { kind: 0, created_at: 0, tags: [], content: '{"name":"x","about":"y\\n"}' }],
  ['kind 65535', { kind: 65535, created_at: 1700000010, tags: [], content: 'max kind' }],
  ['large created_at', { kind: 1, created_at: 4102444800, tags: [], content: 'year 2100' }],
  ['slash and html', { kind: 1, created_at: 1700000011, tags: [['r', 'https://a.b/c?d=e&f=<g>']], content: '</script><b>&amp;</b>' }],
  ['empty tag value list', { kind: 1, created_at: 1700000012, tags: [[]], content: 'empty tag' }],
];
const valid = [];
cases.forEach(([note, tmpl], i) => {
  const ev = sign(tmpl, key('valid' + (i % 3)));
  valid.push(JSON.stringify({ note, serialized: serializeEvent(ev), event: ev }));
});
// A key order other than nostr-tools' and extra unknown members must not matter.
{
  const ev = sign({ kind: 1, created_at: 1700000100, tags: [['e', 'x']], content: 'reordered' }, key('valid0'));
  const reordered = `{"sig":"${ev.sig}","content":${JSON.stringify(ev.content)},"tags":${JSON.stringify(ev.tags)},"extra":{"nested":[1,2.5,-3e2,null,true]},"kind":${ev.kind},"created_at":${ev.created_at},"pubkey":"${ev.pubkey}","id":"${ev.id}"}`;
  valid.push(`{"note":"reordered with unknown members","serialized":${JSON.stringify(serializeEvent(ev))},"event":${reordered}}`);
  // Escapes written differently on the wire (\u escapes, \/) decode to the same content.
  const ev2 = sign({ kind: 1, created_at: 1700000101, tags: [], content: 'A/é😀\u0001' }, key('valid1'));
  const wire = JSON.stringify(ev2).replace('"content":"A/é😀\\u0001"', '"content":"\\u0041\\/\\u00e9\\ud83d\\ude00\\u0001"');
  if (wire === JSON.stringify(ev2)) throw new Error('replacement failed');
  valid.push(`{"note":"alternative escapes on the wire","serialized":${JSON.stringify(serializeEvent(ev2))},"event":${wire}}`);
  // Whitespace between tokens.
  valid.push(`{"note":"pretty printed","serialized":${JSON.stringify(serializeEvent(ev))},"event":${JSON.stringify(ev, null, 2).replace(/\n/g, " \t\r ")}}`);
}
writeFileSync(join(outDir, 'events_valid.jsonl'), valid.join('\n') + '\n');

// ---- invalid events: "<reason>\t<json>" ----
const base = sign({ kind: 1, created_at: 1700000200, tags: [['p', 'abc']], content: 'hello' }, key('bad'));
const other = sign({ kind: 1, created_at: 1700000201, tags: [], content: 'other' }, key('bad2'));
const js = (o) => JSON.stringify(o);
const flipHex = (h, i) => h.slice(0, i) + (h[i] === '0' ? '1' : '0') + h.slice(i + 1);
const withId = (o) => ({ ...o, id: getEventHash(o) });
const invalid = [];
const add = (reason, text, note) => invalid.push(`${reason}\t${text}`);
add('id_mismatch', js({ ...base, id: flipHex(base.id, 0) }));
add('id_mismatch', js({ ...base, content: 'hellO' }));
add('id_mismatch', js({ ...base, created_at: base.created_at + 1 }));
add('id_mismatch', js({ ...base, kind: 2 }));
add('id_mismatch', js({ ...base, tags: [['p', 'abd']] }));
add('id_mismatch', js({ ...base, pubkey: other.pubkey }));
add('bad_signature', js({ ...base, sig: flipHex(base.sig, 127) }));
add('bad_signature', js({ ...base, sig: flipHex(base.sig, 0) }));
add('bad_signature', js({ ...base, sig: other.sig }));
add('bad_signature', js(withId({ ...base, content: 'tampered, id recomputed' })));
add('bad_signature', js(withId({ ...base, pubkey: other.pubkey })));
// x = 5 is not on secp256k1 (5^3+7 = 132 is a non-residue mod p): id recomputed, pubkey fails to parse.
add('bad_pubkey', js(withId({ ...base, pubkey: '0000000000000000000000000000000000000000000000000000000000000005' })));
add('bad_pubkey', js(withId({ ...base, pubkey: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc30' })));
const raw = js(base);
const rep = (from, to) => { const t = raw.replace(from, to); if (t === raw) throw new Error('no change: ' + from); return t; };
add('bad_field', rep(`"id":"${base.id}"`, `"id":"${base.id.toUpperCase()}"`));
add('bad_field', rep(`"id":"${base.id}"`, `"id":"${base.id.slice(2)}"`));
add('bad_field', rep(`"pubkey":"${base.pubkey}"`, `"pubkey":"${base.pubkey}00"`));
add('bad_field', rep(`"sig":"${base.sig}"`, `"sig":"${base.sig.slice(0, 127)}g"`));
add('bad_field', rep(`"sig":"${base.sig}"`, `"sig":123`));
add('bad_field', rep(`"created_at":${base.created_at}`, `"created_at":-1`));
add('bad_field', rep(`"created_at":${base.created_at}`, `"created_at":${base.created_at}.0`));
add('bad_field', rep(`"created_at":${base.created_at}`, `"created_at":1.7e9`));
add('bad_field', rep(`"created_at":${base.created_at}`, `"created_at":"${base.created_at}"`));
add('bad_field', rep(`"created_at":${base.created_at}`, `"created_at":9223372036854775808`));
add('bad_field', rep(`"kind":1`, `"kind":65536`));
add('bad_field', rep(`"kind":1`, `"kind":-1`));
add('bad_field', rep(`"kind":1`, `"kind":1.5`));
add('bad_field', rep(`"kind":1`, `"kind":null`));
add('bad_field', rep(`"tags":[["p","abc"]]`, `"tags":{}`));
add('bad_field', rep(`"tags":[["p","abc"]]`, `"tags":["p","abc"]`));
add('bad_field', rep(`"tags":[["p","abc"]]`, `"tags":[["p",1]]`));
add('bad_field', rep(`"tags":[["p","abc"]]`, `"tags":[["p",null]]`));
add('bad_field', rep(`"tags":[["p","abc"]]`, `"tags":[["p",["abc"]]]`));
add('bad_field', rep(`"content":"hello"`, `"content":null`));
add('bad_field', rep(`"content":"hello"`, `"content":["hello"]`));
add('missing_field', rep(`"content":"hello",`, ``));
add('missing_field', rep(`"kind":1,`, ``));
add('missing_field', rep(`,"sig":"${base.sig}"`, ``));
add('duplicate_field', rep(`"kind":1,`, `"kind":1,"kind":1,`));
add('duplicate_field', rep(`"content":"hello"`, `"content":"hello","content":"hello"`));
add('bad_json', rep(`"content":"hello"`, `"content":"hel\x01lo"`));
add('bad_json', rep(`"content":"hello"`, `"content":"hel\tlo"`));
add('bad_json', rep(`"content":"hello"`, `"content":"hel\\xlo"`));
add('bad_json', rep(`"content":"hello"`, `"content":'hello'`));
add('bad_json', raw.slice(0, -1));
add('bad_json', raw + ',');
add('bad_json', raw + '{}');
add('bad_json', rep(`"kind":1,`, `"kind":01,`));
add('bad_json', rep(`"kind":1,`, `"kind":+1,`));
add('bad_json', rep(`"kind":1,`, `"kind":1,,`));
add('bad_json', rep(`"tags":[["p","abc"]]`, `"tags":[["p","abc"],]`));
add('bad_json', '[' + raw + ']');
add('bad_json', '"just a string"');
add('bad_json', '');
add('bad_json', '\ufeff' + raw);
add('bad_utf8', rep(`"content":"hello"`, `"content":"\\ud800"`));
add('bad_utf8', rep(`"content":"hello"`, `"content":"\\udc00x"`));
add('bad_utf8', rep(`"content":"hello"`, `"content":"\\ud800\\u0041"`));
writeFileSync(join(outDir, 'events_invalid.jsonl'), invalid.join('\n') + '\n');

// ---- benchmark set: 5000 events, 200 authors, realistic sizes ----
const words = 'the quick brown fox jumps over lazy dog nostr relay zap note bitcoin 🚀 café "quoted" line\nbreak'.split(' ');
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const authors = Array.from({ length: 200 }, (_, i) => key('bench' + i));
const bench = [];
for (let i = 0; i < 5000; i++) {
  const nwords = 5 + rnd(60);
  const content = Array.from({ length: nwords }, () => words[rnd(words.length)]).join(' ');
  const tags = [];
  const ntags = rnd(6);
  for (let t = 0; t < ntags; t++) tags.push([['e', 'p', 't'][rnd(3)], Buffer.from(key('t' + rnd(1000))).toString('hex')]);
  bench.push(JSON.stringify(sign({ kind: [1, 1, 1, 7, 6, 0, 3][rnd(7)], created_at: 1700000000 + i, tags, content }, authors[rnd(authors.length)])));
}
writeFileSync(join(outDir, 'events_bench.jsonl'), bench.join('\n') + '\n');
console.log(`valid ${valid.length}, invalid ${invalid.length}, bench ${bench.length}`);
