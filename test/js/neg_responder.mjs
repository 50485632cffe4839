// neg_responder.mjs: a NIP-77 negentropy responder (server side) on top of nostr-tools' nip77.
//
// nostr-tools' Negentropy has no responder role: it answers an IdList range with Skip, and with no
// reply at all (null) when a message held only IdLists, so a client whose first message is an IdList
// (fewer than 32 items) never learns the relay's ids. NIP-77 and hoytech's reference implementations
// (strfry) answer an IdList with the responder's own ids of the range, cut short at the frame size
// limit. NegentropyResponder adds that rule; everything else (fingerprints, splitting, bounds, the
// frame-limit fallback) is nostr-tools' code. reconcile(hex) always returns a reply (hex; "61" alone
// when nothing differs). Used by gen_neg_fixtures.mjs; usable by a fixture relay.
//
//   import { NegentropyResponder } from './neg_responder.mjs';
//   const r = new NegentropyResponder(storage /* NegentropyStorageVector, sealed */, 60000);
//   const replyHex = r.reconcile(queryHex);
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const { Negentropy, NegentropyStorageVector } = await import(
  join(here, '..', 'node_modules', 'nostr-tools', 'lib', 'esm', 'nip77.js'));

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));

const PROTOCOL_VERSION = 0x61;
const varint = (n) => {
  const o = [];
  do { o.push(n & 0x7f); n = Math.floor(n / 128); } while (n !== 0);
  o.reverse();
  for (let i = 0; i < o.length - 1; i++) o[i] |= 0x80;
  return new Uint8Array(o);
};

const readVarint = (w) => {
  let n = 0;
  for (;;) {
    if (w.length === 0) throw Error('parse ends prematurely');
    const b = w.shift();
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) return n;
  }
};
const take = (w, n) => {
  if (w.length < n) throw Error('parse ends prematurely');
  return w.shiftN(n);
};

export class NegentropyResponder extends Negentropy {
  reconcile(queryMsg) {
    // nostr-tools does not export its WrappedBuffer; its class is that of an encoded bound.
    const W = this.encodeBound(this._bound(0)).constructor;
    const q = new W(unhex(queryMsg));
    this.lastTimestampIn = this.lastTimestampOut = 0;
    const full = new W();
    full.extend(Uint8Array.of(PROTOCOL_VERSION));
    if (take(q, 1)[0] !== PROTOCOL_VERSION) throw Error('unsupported version');
    const size = this.storage.size();
    let prevBound = this._bound(0), prevIndex = 0, skip = false;
    while (q.length !== 0) {
      const o = new W();
      const doSkip = () => {
        if (skip) { skip = false; o.extend(this.encodeBound(prevBound)); o.extend(varint(0)); }
      };
      const currBound = this.decodeBound(q);
      const mode = readVarint(q);
      const lower = prevIndex;
      let upper = this.storage.findLowerBound(prevIndex, size, currBound);
      if (mode === 0) skip = true;
      else if (mode === 1) {
        const theirs = take(q, 16);
        if (hex(theirs) !== hex(this.storage.fingerprint(lower, upper))) {
          doSkip();
          this.splitRange(lower, upper, currBound, o);
        } else skip = true;
      } else if (mode === 2) {
        take(q, readVarint(q) * 32);
        doSkip();
        // The rule nostr-tools lacks: answer with our own ids of the range, cut at the limit.
        const ids = new W();
        let num = 0;
        let endBound = currBound;
        for (let i = lower; i < upper; i++) {
          const it = this.storage.getItem(i);
          if (this.exceededFrameSizeLimit(full.length + ids.length)) {
            endBound = { timestamp: it.timestamp, id: it.id };
            upper = i;
            break;
          }
          ids.extend(it.id);
          num++;
        }
        o.extend(this.encodeBound(endBound));
        o.extend(varint(2));
        o.extend(varint(num));
        o.extend(ids);
        full.extend(o);
        o.length = 0;
      } else throw Error('unexpected mode');
      if (this.exceededFrameSizeLimit(full.length + o.length)) {
        full.extend(this.encodeBound(this._bound(Number.MAX_VALUE)));
        full.extend(varint(1));
        full.extend(this.storage.fingerprint(upper, size));
        break;
      }
      full.extend(o);
      prevIndex = upper;
      prevBound = currBound;
    }
    return hex(full.unwrap());
  }
}

