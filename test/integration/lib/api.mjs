// api.mjs: what the api service's integration tests share. Starts and stops the api service on the test
// port (ALTER SYSTEM + bigbrotr_start('api')), two real HTTP clients (node fetch and curl), a validator
// that checks an answer against the OpenAPI document (src/services/api/openapi.json) for its path, method,
// status and media type, and a fixture archive of signed events, relays and monitor snapshots so every
// endpoint has data to answer with.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { sql, setConfig, waitFor, sleep } from './cluster.mjs';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const OPENAPI_FILE = path.resolve(here, '../../../src/services/api/openapi.json');

// The test port (shared under run.sh's lock); BB_API_PORT for a helper's own cluster.
export const API_PORT = Number(process.env.BB_API_PORT || 57780);
export const BASE = `http://127.0.0.1:${API_PORT}`;
export const WS_URL = `ws://127.0.0.1:${API_PORT}`;

// ---- the service ----

// The GUCs every api test starts from; `extra` overrides or adds (values as ALTER SYSTEM takes them).
export async function startApi(extra = {}) {
  await setConfig({
    'bigbrotr.api_listen_address': '127.0.0.1',
    'bigbrotr.api_port': API_PORT,
    'bigbrotr.api_workers': 2,
    'bigbrotr.api_interval': 1,
    ...extra,
  });
  await sql("SELECT bigbrotr_start('api')");
  await waitApiUp();
}

export async function waitApiUp() {
  await waitFor('the api answering /health', async () => {
    const r = await fetch(`${BASE}/health`).catch(() => null);
    return r && r.status === 200;
  });
}

// Pids of every api process: the coordinator ("bigbrotr api") and its workers ("bigbrotr api worker N").
export async function apiPids() {
  const rows = await sql("SELECT pid, backend_type FROM pg_stat_activity WHERE backend_type LIKE 'bigbrotr api%' ORDER BY pid");
  return rows;
}

export async function stopApi() {
  await sql("SELECT bigbrotr_stop('api')").catch(() => {});
  await waitFor('every api process gone', async () => (await apiPids()).length === 0);
  await waitFor('the api port closed', async () => (await fetch(`${BASE}/health`).then(() => false, () => true)));
}

// Resets the api GUCs the tests set (so the next file starts from the defaults).
export async function resetApiConfig(names) {
  const reset = {};
  for (const n of names) reset[n] = null;
  await setConfig(reset);
}

// ---- HTTP clients ----

// node fetch: { status, headers (Headers), text, json (parsed when the type is JSON, else undefined) }.
export async function api(pathAndQuery, { method = 'GET', headers = {}, body } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(BASE + pathAndQuery, init);
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: parseIfJson(r.headers.get('content-type'), text) };
}

function parseIfJson(type, text) {
  if (!type || !/json/.test(type) || /ndjson/.test(type) || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// curl (a second, independent HTTP client): the same shape as api(); headers is a Headers object.
export async function curl(pathAndQuery, { method = 'GET', headers = {}, body } = {}) {
  const args = ['-sS', '-i', '--max-time', '60', '-X', method, '-H', 'Expect:'];
  if (method === 'HEAD') args.splice(args.indexOf('-X'), 2, '-I');
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (body !== undefined) {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    if (!headers['Content-Type']) args.push('-H', 'Content-Type: application/json');
    args.push('--data-binary', data);
  }
  args.push('--globoff', BASE + pathAndQuery);
  const { stdout } = await execFileP('curl', args, { encoding: 'latin1', maxBuffer: 64 << 20 });
  const raw = Buffer.from(stdout, 'latin1');
  let rest = raw.toString('latin1');
  let head;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    head = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? '' : rest.slice(end + 4);
    if (!/^HTTP\/\S+ 1\d\d/.test(head)) break; // skip interim answers (100 Continue)
  }
  const lines = head.split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const h = new Headers();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const text = Buffer.from(rest, 'latin1').toString('utf8');
  return { status, headers: h, text, json: parseIfJson(h.get('content-type'), text) };
}

// ---- the OpenAPI document and the validator ----

let docPromise;
export function openapiDocument() {
  // dereference() resolves every $ref in place; the copy keeps the file's JSON untouched for other uses.
  docPromise ??= SwaggerParser.dereference(OPENAPI_FILE);
  return docPromise;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
const compiled = new Map();
function compile(key, schema) {
  if (!compiled.has(key)) compiled.set(key, ajv.compile(schema));
  return compiled.get(key);
}

// The document's path template for a concrete path ("/v1/relays/wss%3A..%2F/history" ->
// "/v1/relays/{url}/history"); null when none matches.
export function pathTemplate(doc, concretePath) {
  const p = concretePath.split('?')[0];
  for (const t of Object.keys(doc.paths)) {
    const re = new RegExp('^' + t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(p)) return t;
  }
  return null;
}

function mediaBase(type) {
  return (type || '').split(';')[0].trim().toLowerCase();
}

// Asserts that an answer is one the document allows: the status is documented for the operation, the
// media type is one of that response's, the body matches its schema (NDJSON: every line matches), and
// every documented header that is present (or required) matches its schema. `what` names the request.
export async function assertValid(method, concretePath, res, what = `${method} ${concretePath}`) {
  const doc = await openapiDocument();
  const template = pathTemplate(doc, concretePath);
  let response;
  if (!template) {
    // A path the api does not have: only the shared 404 is allowed.
    assert.equal(res.status, 404, `${what}: no path of the OpenAPI document matches ${concretePath}, and the answer is ${res.status}, not 404`);
    response = doc.components.responses.NotFound;
  } else {
    const op = doc.paths[template][method.toLowerCase() === 'head' ? 'get' : method.toLowerCase()];
    if (!op) {
      // A method the path does not take: only the shared 405 (with Allow) is allowed.
      assert.equal(res.status, 405, `${what}: the document has no ${method} ${template}, and the answer is ${res.status}, not 405`);
      response = doc.components.responses.MethodNotAllowed;
    } else {
      response = op.responses[String(res.status)] ?? op.responses.default;
      assert.ok(response, `${what}: status ${res.status} is not documented for ${method} ${template} (body ${res.text.slice(0, 300)})`);
    }
  }
  for (const [name, h] of Object.entries(response.headers ?? {})) {
    const value = res.headers.get(name);
    if (value === null) {
      assert.ok(!h.required, `${what}: header ${name} is required for ${res.status}`);
      continue;
    }
    const v = h.schema?.type === 'integer' ? Number(value) : value;
    const check = compile(`h:${template}:${method}:${res.status}:${name}`, h.schema ?? {});
    assert.ok(check(v), `${what}: header ${name}: ${JSON.stringify(value)} does not match the document: ${ajv.errorsText(check.errors)}`);
  }
  if (method === 'HEAD' || res.status === 204) return;
  const content = response.content ?? {};
  const type = mediaBase(res.headers.get('content-type'));
  const key = Object.keys(content).find((k) => mediaBase(k) === type);
  assert.ok(key, `${what}: content type ${JSON.stringify(res.headers.get('content-type'))} is not one of ${JSON.stringify(Object.keys(content))} for ${res.status}`);
  const check = compile(`b:${template}:${method}:${res.status}:${key}`, content[key].schema ?? {});
  const bodies = [];
  if (type === 'application/x-ndjson') {
    for (const line of res.text.split('\n')) if (line !== '') bodies.push(JSON.parse(line));
  } else if (/json/.test(type)) {
    bodies.push(JSON.parse(res.text));
  } else {
    bodies.push(res.text);
  }
  for (const b of bodies) {
    assert.ok(check(b), `${what}: the ${res.status} body does not match the document: ${ajv.errorsText(check.errors)}\n  body: ${JSON.stringify(b).slice(0, 600)}`);
  }
}

// Both clients, the same request: asserts they got the same status and (for JSON) the same body, and
// that both answers are valid. Returns the fetch answer.
export async function both(pathAndQuery, opts = {}) {
  const method = opts.method ?? 'GET';
  const a = await api(pathAndQuery, opts);
  const c = await curl(pathAndQuery, opts);
  assert.equal(c.status, a.status, `${method} ${pathAndQuery}: curl got ${c.status}, fetch ${a.status}`);
  assert.equal(mediaBase(c.headers.get('content-type')), mediaBase(a.headers.get('content-type')), `${method} ${pathAndQuery}: content types differ`);
  await assertValid(method, pathAndQuery, a, `fetch ${method} ${pathAndQuery}`);
  await assertValid(method, pathAndQuery, c, `curl ${method} ${pathAndQuery}`);
  return { fetch: a, curl: c };
}

// ---- the fixture archive ----

export const hex = (b) => Buffer.from(b).toString('hex');

// Relays of the fixture (normalized forms, as the archive stores them).
export const FIXTURE_RELAYS = [
  { url: 'wss://alpha.example.com', network: 'clearnet' },
  { url: 'wss://beta.example.com', network: 'clearnet' },
  { url: 'wss://gamma.example.org', network: 'clearnet' },
  { url: 'ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', network: 'tor' },
  { url: 'wss://delta.example.net', network: 'clearnet' }, // no snapshot at all
];

// Signed events, relays, sightings and monitor snapshots; returns what a test compares against.
// `nEvents` events by `nAuthors` authors, created_at spread over the last days with repeats (so the
// id tie-break of the order is exercised), kinds 0/1/3/7/30023, tags t/e/p/d.
export async function loadFixture({ nEvents = 240, nAuthors = 6, now = Math.floor(Date.now() / 1000) } = {}) {
  const sks = Array.from({ length: nAuthors }, () => generateSecretKey());
  const authors = sks.map((sk) => getPublicKey(sk));
  const kinds = [1, 1, 1, 7, 0, 3, 30023];
  const topics = ['nostr', 'bitcoin', "o'reilly", 'ünïcode'];
  const events = [];
  for (let i = 0; i < nEvents; i++) {
    const kind = kinds[i % kinds.length];
    const tags = [['t', topics[i % topics.length]]];
    if (events.length && i % 3 === 0) tags.push(['e', events[(i * 7) % events.length].id]);
    if (i % 4 === 0) tags.push(['p', authors[(i + 1) % nAuthors]]);
    if (kind === 30023) tags.push(['d', `article-${i}`]);
    // Pairs of events share a created_at; spread over ~5 days.
    const created_at = now - 3600 * 24 * 5 + Math.floor(i / 2) * 1800;
    events.push(finalizeEvent({ kind, tags, content: `fixture event ${i} "quoted" \\ back`, created_at }, sks[i % nAuthors]));
  }
  // Sightings: every event on alpha; every 2nd on beta; every 3rd on gamma; every 5th on the onion relay.
  const sightings = [];
  events.forEach((e, i) => {
    sightings.push([e, FIXTURE_RELAYS[0].url, e.created_at + 5]);
    if (i % 2 === 0) sightings.push([e, FIXTURE_RELAYS[1].url, e.created_at + 60]);
    if (i % 3 === 0) sightings.push([e, FIXTURE_RELAYS[2].url, e.created_at + 30]);
    if (i % 5 === 0) sightings.push([e, FIXTURE_RELAYS[3].url, e.created_at + 90]);
  });
  const relayNet = Object.fromEntries(FIXTURE_RELAYS.map((r) => [r.url, r.network]));
  const col = (f) => sightings.map(f);
  const buf = (h) => Buffer.from(h, 'hex');
  await sql(
    `SELECT bigbrotr.insert_events($1::bytea[], $2::bytea[], $3::int8[], $4::int4[], $5::jsonb[], $6::text[], $7::bytea[],
                                   $8::text[], $9::text[], $10::int8[], $11::int8[])`,
    [col(([e]) => buf(e.id)), col(([e]) => buf(e.pubkey)), col(([e]) => e.created_at), col(([e]) => e.kind),
     col(([e]) => JSON.stringify(e.tags)), col(([e]) => e.content), col(([e]) => buf(e.sig)),
     col(([, u]) => u), col(([, u]) => relayNet[u]), col(() => now - 86400 * 30), col(([, , s]) => s)]);
  await sql('SELECT bigbrotr.insert_relay($1, $2, $3)', [FIXTURE_RELAYS[4].url, 'clearnet', now - 86400 * 10]);

  // Monitor snapshots: alpha 3 checks (two NIP-11 documents over time), beta 2 (the latest without
  // NIP-66), gamma 1 (NIP-66 only, not readable), onion 1.
  const nip11a = { name: 'Alpha', description: 'the first', software: 'git+https://github.com/hoytech/strfry', version: '1.0.0',
    supported_nips: [1, 11, 45, 50], limitation: { max_limit: 500 }, extra_fields: { posting_policy: 'x' } };
  const nip11a2 = { ...nip11a, version: '1.0.1' };
  const nip11b = { name: 'Beta', software: 'nostr-rs-relay', version: '0.8', supported_nips: [1, 11] };
  const nip66 = (readable, writable, rtt) => ({ openable: true, readable, writable, rtt_open: rtt, rtt_read: rtt + 10, rtt_write: writable ? rtt + 20 : null, auth_required: false });
  const t = now - 86400 * 3;
  const snaps = [
    { relay_url: FIXTURE_RELAYS[0].url, network: 'clearnet', inserted_at: now - 86400 * 30, generated_at: t, nip11: nip11a, nip66: nip66(true, true, 100) },
    { relay_url: FIXTURE_RELAYS[0].url, network: 'clearnet', inserted_at: now - 86400 * 30, generated_at: t + 3600, nip11: nip11a, nip66: nip66(true, false, 120) },
    { relay_url: FIXTURE_RELAYS[0].url, network: 'clearnet', inserted_at: now - 86400 * 30, generated_at: t + 7200, nip11: nip11a2, nip66: nip66(true, true, 90) },
    { relay_url: FIXTURE_RELAYS[1].url, network: 'clearnet', inserted_at: now - 86400 * 30, generated_at: t, nip11: nip11b, nip66: nip66(true, true, 200) },
    { relay_url: FIXTURE_RELAYS[1].url, network: 'clearnet', inserted_at: now - 86400 * 30, generated_at: t + 3600, nip11: nip11b, nip66: null },
    { relay_url: FIXTURE_RELAYS[2].url, network: 'clearnet', inserted_at: now - 86400 * 30, generated_at: t + 600, nip11: null, nip66: { openable: true, readable: false, writable: false, rtt_open: 300, rtt_read: null, rtt_write: null, auth_required: true } },
    { relay_url: FIXTURE_RELAYS[3].url, network: 'tor', inserted_at: now - 86400 * 30, generated_at: t + 900, nip11: { name: 'Onion', software: 'nostr-rs-relay', supported_nips: [1] }, nip66: nip66(true, true, 900) },
  ];
  await sql('SELECT bigbrotr.insert_relay_metadata_batch($1::jsonb)', [JSON.stringify(snaps)]);
  const relays = await sql('SELECT url, network, inserted_at::int8 AS inserted_at FROM bigbrotr.relays ORDER BY url');
  return { events, authors, sks, sightings, snaps, relays, topics, now };
}

// The archive's events as NIP-01 objects, newest first, for a SQL WHERE clause of the test's own
// (comparison data independent of the api's query code). `where` uses $n parameters.
export async function sqlEvents(where = 'true', params = [], limit = null) {
  const rows = await sql(
    `SELECT encode(id, 'hex') AS id, encode(pubkey, 'hex') AS pubkey, created_at::int8 AS created_at, kind, tags, content,
            encode(sig, 'hex') AS sig
       FROM bigbrotr.events e WHERE ${where} ORDER BY created_at DESC, id DESC ${limit ? `LIMIT ${Number(limit)}` : ''}`, params);
  return rows.map((r) => ({ id: r.id, pubkey: r.pubkey, created_at: Number(r.created_at), kind: r.kind, tags: r.tags, content: r.content, sig: r.sig }));
}

// Row counts and a content hash of every archive table: "nothing was written" is these being equal.
export async function archiveFingerprint() {
  const tables = ['events', 'events_relays', 'relays', 'nip11', 'nip66', 'relay_metadata', 'service_state'];
  const out = {};
  for (const t of tables) {
    const [r] = await sql(`SELECT count(*)::int8 AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM bigbrotr.${t} x`);
    out[t] = `${r.n}:${r.h}`;
  }
  return out;
}

// Walks every page of a paginated GET (the `next` of `member`'s answer passed back as `cursor`).
export async function walkPages(pathAndQuery, member, { maxPages = 1000 } = {}) {
  const rows = [];
  let url = pathAndQuery;
  for (let page = 0; page < maxPages; page++) {
    const r = await api(url);
    assert.equal(r.status, 200, `${url}: ${r.text}`);
    await assertValid('GET', url, r);
    rows.push(...r.json[member]);
    if (r.json.next === null) return { rows, pages: page + 1 };
    if (member === 'events') assert.equal(r.headers.get('x-next-cursor'), r.json.next, `${url}: X-Next-Cursor equals next`);
    const sep = pathAndQuery.includes('?') ? '&' : '?';
    url = `${pathAndQuery}${sep}cursor=${encodeURIComponent(r.json.next)}`;
  }
  throw new Error(`${pathAndQuery}: more than ${maxPages} pages`);
}

export { sleep };
