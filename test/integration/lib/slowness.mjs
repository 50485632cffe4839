// slowness.mjs: the one factor every time bound of the integration tests scales with. No test fails
// because this machine is slower than the one the bounds were written on: BB_SLOWNESS (default 1, a
// number >= 1) multiplies every deadline (waitFor, probe runs), every bound on how long something may
// take ("stops within 5 s") and the timeouts the services are given where a test expects an answer
// within them. Run slow setups (valgrind, sanitizers, a loaded CI host) with e.g. BB_SLOWNESS=10.
// Sleeps that only let wall-clock seconds pass (a new created_at second) are not scaled: a slower
// machine makes them more true, not less.
const raw = process.env.BB_SLOWNESS ?? '1';
const value = Number(raw);
if (!Number.isFinite(value) || value < 1) {
  throw new Error(`BB_SLOWNESS must be a number >= 1 (got ${JSON.stringify(raw)})`);
}

export const SLOWNESS = value;

// A duration in milliseconds, scaled.
export function scaled(ms) {
  return Math.ceil(ms * SLOWNESS);
}

// A duration in whole seconds, scaled and rounded up (for GUCs in seconds).
export function scaledSeconds(s) {
  return Math.ceil(s * SLOWNESS);
}
