// events.mjs: events signed for real with nostr-tools, and their insertion into the archive through
// the extension's own insert procedure.
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { sql } from './cluster.mjs';

export function signed({ kind = 1, tags = [], content = '', created_at, sk = generateSecretKey() } = {}) {
  return finalizeEvent({ kind, tags, content, created_at: created_at ?? Math.floor(Date.now() / 1000) }, sk);
}

export async function archive(event, relayUrl, seenAt) {
  await sql(
    `SELECT bigbrotr.insert_event(decode($1, 'hex'), decode($2, 'hex'), $3, $4, $5::jsonb, $6,
                                  decode($7, 'hex'), $8, 'clearnet', $9, $9)`,
    [event.id, event.pubkey, event.created_at, event.kind, JSON.stringify(event.tags), event.content,
     event.sig, relayUrl, seenAt]);
}
