import { cachedEvents } from '/work/wt-sync/test/integration/lib/sync_events.mjs';
const DAY = 86400;
const END = Math.floor(Date.now() / 1000 / DAY) * DAY - 3600;
const t = Date.now();
await cachedEvents(`year-20k-${END}`, { count: 20000, end: END, seed: 11, keys: 4 });
await cachedEvents(`onesecond-${END}`, { count: 2000, end: END, seed: 24, keys: 4, at: END - 100 * DAY });
await cachedEvents(`forged-${END}`, { count: 150, end: END, seed: 27, keys: 2 });
console.log('signed in', Date.now() - t, 'ms');
