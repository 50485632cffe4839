/*
 * test_neg_phase.c: the session's negentropy phase (src/sync/neg_phase.c) against a simulated relay
 * built on our own negentropy responder (src/nostr/negentropy.c, checked against nostr-tools in
 * test_negentropy.c): needed ids are exactly the relay's set minus the archive's, linked ones are
 * never fetched, fetched ones are asked once; chunks never split a second and move the cursor only
 * when finished; an id the relay does not serve is a shortfall holding the cursor; a crowded second,
 * a NOTICE, NEG-ERR and silence end the phase; "too many records" shrinks the chunk; the queue of
 * needed ids stays bounded while NEG rounds pause.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nostr/hex.h"
#include "nostr/json.h"
#include "sync/neg_phase.h"
#include "tap.h"

#define MAX_OUT 64

typedef struct Sim
{
	/* the relay */
	neg_item   *relay;
	size_t		n_relay;
	const uint8_t *hidden;		/* an id the relay lists but never serves (NULL: none) */
	const char *open_answer;	/* NULL: answer; "notice", "error", "silent", "toomany" */
	int64_t		toomany_above;	/* "toomany": NEG-ERR while the filter spans more seconds */
	negentropy *resp;
	/* the archive: items linked to the relay, and ids held from other relays */
	neg_item   *linked;
	size_t		n_linked;
	neg_item   *held;
	size_t		n_held;
	/* what the phase sent, not yet handled */
	char	   *out[MAX_OUT];
	size_t		out_len[MAX_OUT];
	size_t		n_out;
	/* observations */
	int			fetch_asks[8192];	/* per relay item index: times asked by REQ ids */
	int64_t		max_outstanding_at_send;
	size_t		max_queued;
	int			neg_opens;
} Sim;

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
rand_id(uint8_t id[32])
{
	for (int i = 0; i < 32; i += 8)
	{
		uint64_t	r = rnd();

		memcpy(id + i, &r, 8);
	}
}

static bool
sim_send(void *arg, const char *text, size_t len)
{
	Sim		   *sim = arg;

	if (sim->n_out >= MAX_OUT)
		return false;
	sim->out[sim->n_out] = malloc(len + 1);
	memcpy(sim->out[sim->n_out], text, len);
	sim->out[sim->n_out][len] = '\0';
	sim->out_len[sim->n_out++] = len;
	return true;
}

static int
find_item(const neg_item *v, size_t n, const uint8_t id[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(v[i].id, id, 32) == 0)
			return (int) i;
	return -1;
}

static int64_t
outstanding(const NegPhase *np)
{
	const NegPhaseStats *st = neg_phase_stats(np);

	return st->ids_needed - st->linked - st->fetched - st->not_served;
}

/* The relay's answer to one message the phase sent. */
static void
handle(Sim *sim, NegPhase *np, const char *text, size_t len)
{
	nostr_json_doc doc;
	nostr_error err;
	const nostr_json_node *label,
			   *sub;
	size_t		i;

	memset(&doc, 0, sizeof(doc));
	if (nostr_json_parse(text, len, 8, &doc, &err) != NOSTR_OK)
	{
		CHECK(false, "the phase sent unparseable JSON: %s", text);
		return;
	}
	i = nostr_json_first(&doc, 0);
	label = &doc.nodes[i];
	sub = &doc.nodes[label->next];
	if (strcmp(label->str, "NEG-OPEN") == 0 || strcmp(label->str, "NEG-MSG") == 0)
	{
		bool		open = strcmp(label->str, "NEG-OPEN") == 0;
		const nostr_json_node *hex;
		uint8_t    *bytes;
		size_t		nb;
		nostr_buf	reply;
		bool		done = false;
		char	   *rhex;

		if (open)
		{
			size_t		f = sub->next;
			size_t		m;
			int64_t		since = 0,
						until = INT64_MAX;
			neg_item   *in = malloc(sizeof(neg_item) * (sim->n_relay + 1));
			size_t		n_in = 0;

			sim->neg_opens++;
			if ((m = nostr_json_member(&doc, f, "since")) != (size_t) -1)
				nostr_json_get_int64(&doc.nodes[m], &since);
			if ((m = nostr_json_member(&doc, f, "until")) != (size_t) -1)
				nostr_json_get_int64(&doc.nodes[m], &until);
			hex = &doc.nodes[doc.nodes[f].next];
			if (sim->open_answer && strcmp(sim->open_answer, "notice") == 0)
			{
				neg_phase_notice(np, "invalid: unknown message type");
				free(in);
				goto out;
			}
			if (sim->open_answer && strcmp(sim->open_answer, "error") == 0)
			{
				neg_phase_neg_err(np, sub->str, "error: negentropy disabled", 40, 0);
				free(in);
				goto out;
			}
			if (sim->open_answer && strcmp(sim->open_answer, "auth") == 0 && sim->neg_opens == 1)
			{
				neg_phase_neg_err(np, sub->str, "auth-required: we only serve members", 40, 0);
				free(in);
				goto out;
			}
			if (sim->open_answer && strcmp(sim->open_answer, "ratelimit") == 0 && sim->neg_opens <= 2)
			{
				neg_phase_neg_err(np, sub->str, "rate-limited: slow down", 40, 0);
				free(in);
				goto out;
			}
			if (sim->open_answer && strcmp(sim->open_answer, "silent") == 0)
			{
				free(in);
				goto out;
			}
			if (sim->open_answer && strcmp(sim->open_answer, "toomany") == 0 &&
				until - since > sim->toomany_above)
			{
				neg_phase_neg_err(np, sub->str, "blocked: too many records", 40, 0);
				free(in);
				goto out;
			}
			for (size_t k = 0; k < sim->n_relay; k++)
				if ((int64_t) sim->relay[k].timestamp >= since && (int64_t) sim->relay[k].timestamp <= until)
					in[n_in++] = sim->relay[k];
			n_in = neg_items_sort(in, n_in);
			neg_free(sim->resp);
			sim->resp = neg_new(in, n_in, 0, &err);
			free(in);
		}
		else
			hex = &doc.nodes[sub->next];
		nb = hex->len / 2;
		bytes = malloc(nb + 1);
		nostr_hex_decode(hex->str, hex->len, bytes, nb, false);
		nostr_buf_init(&reply);
		CHECK(neg_reconcile(sim->resp, bytes, nb, &reply, &done, NULL, NULL, NULL, &err) == NOSTR_OK,
			  "the responder reads the phase's %s", label->str);
		free(bytes);
		if (outstanding(np) > sim->max_outstanding_at_send && !open)
			sim->max_outstanding_at_send = outstanding(np);
		rhex = malloc(reply.len * 2 + 1);
		nostr_hex_encode((const uint8_t *) reply.data, reply.len, rhex);
		if (reply.len > 0)
			neg_phase_neg_msg(np, sub->str, (const uint8_t *) reply.data, reply.len, reply.len * 2 + 20, 0);
		free(rhex);
		nostr_buf_free(&reply);
	}
	else if (strcmp(label->str, "REQ") == 0)
	{
		size_t		f = sub->next;
		size_t		ids = nostr_json_member(&doc, f, "ids");
		size_t		k = nostr_json_first(&doc, ids);

		for (uint32_t c = 0; c < doc.nodes[ids].count; c++, k = doc.nodes[k].next)
		{
			uint8_t		id[32];
			int			at;

			nostr_hex_decode(doc.nodes[k].str, 64, id, 32, false);
			at = find_item(sim->relay, sim->n_relay, id);
			if (at < 0)
				continue;
			sim->fetch_asks[at]++;
			if (sim->hidden == NULL || memcmp(sim->hidden, id, 32) != 0)
				neg_phase_fetched(np, sub->str, id);
		}
		neg_phase_eose(np, sub->str, 0);
	}
out:
	nostr_json_free(&doc);
}

/* Drives the phase against the simulated relay and archive until it ends (or nothing moves). */
static void
run(Sim *sim, NegPhase *np)
{
	neg_phase_open(np, 0);
	for (int step = 0; step < 200000 && neg_phase_status(np) == NEG_PHASE_RUNNING; step++)
	{
		int64_t		since,
					until;
		size_t		max;
		const uint8_t (*ids)[32];
		size_t		n;
		bool		moved = false;

		if (neg_phase_items_wanted(np, &since, &until, &max))
		{
			neg_item   *v = malloc(sizeof(neg_item) * (sim->n_linked + 1));
			size_t		k = 0;

			for (size_t j = 0; j < sim->n_linked && k < max; j++)
				if ((int64_t) sim->linked[j].timestamp >= since && (int64_t) sim->linked[j].timestamp <= until)
					v[k++] = sim->linked[j];
			neg_phase_give_items(np, v, k, 0);
			free(v);
			moved = true;
		}
		if ((n = neg_phase_need(np, &ids, 37)) > 0)
		{
			uint8_t		(*missing)[32] = malloc(32 * n);
			size_t		nm = 0;

			for (size_t j = 0; j < n; j++)
				if (find_item(sim->held, sim->n_held, ids[j]) < 0)
					memcpy(missing[nm++], ids[j], 32);
			neg_phase_linked(np, n, (const uint8_t (*)[32]) missing, nm, 0);
			free(missing);
			moved = true;
		}
		while (sim->n_out > 0)
		{
			char	   *t = sim->out[0];
			size_t		l = sim->out_len[0];

			memmove(sim->out, sim->out + 1, (sim->n_out - 1) * sizeof(char *));
			memmove(sim->out_len, sim->out_len + 1, (sim->n_out - 1) * sizeof(size_t));
			sim->n_out--;
			handle(sim, np, t, l);
			free(t);
			moved = true;
		}
		if (!moved)
			break;
	}
}

static void
sim_free(Sim *sim)
{
	for (size_t i = 0; i < sim->n_out; i++)
		free(sim->out[i]);
	neg_free(sim->resp);
	free(sim->relay);
	free(sim->linked);
	free(sim->held);
}

/* A relay of n items over [t0, t0 + span); the archive links the first `linked` of them (plus
 * `extra` items the relay lacks) and holds the next `held` ones from other relays. */
static void
sim_make(Sim *sim, size_t n, int64_t t0, int64_t span, size_t linked, size_t extra, size_t held)
{
	memset(sim, 0, sizeof(*sim));
	sim->relay = malloc(sizeof(neg_item) * n);
	sim->n_relay = n;
	for (size_t i = 0; i < n; i++)
	{
		sim->relay[i].timestamp = (uint64_t) (t0 + (int64_t) (rnd() % (uint64_t) span));
		rand_id(sim->relay[i].id);
	}
	sim->linked = malloc(sizeof(neg_item) * (linked + extra + 1));
	for (size_t i = 0; i < linked; i++)
		sim->linked[sim->n_linked++] = sim->relay[i];
	for (size_t i = 0; i < extra; i++)
	{
		neg_item	x;

		x.timestamp = (uint64_t) (t0 + (int64_t) (rnd() % (uint64_t) span));
		rand_id(x.id);
		sim->linked[sim->n_linked++] = x;
	}
	sim->n_linked = neg_items_sort(sim->linked, sim->n_linked);
	sim->held = malloc(sizeof(neg_item) * (held + 1));
	for (size_t i = 0; i < held; i++)
		sim->held[sim->n_held++] = sim->relay[linked + i];
}

static NegPhase *
phase(Sim *sim, int64_t start, int64_t end, size_t max_items, int64_t batch)
{
	NegPhaseConfig c = {0};

	c.start = start;
	c.end = end;
	c.fetch_batch = batch;
	c.max_items = max_items;
	c.frame_limit = 4096;
	c.request_timeout_ms = 1000;
	sim->max_queued = (size_t) (4 * batch);
	return neg_phase_new(&c, sim_send, sim);
}

static void
test_basic(void)
{
	Sim			sim;
	NegPhase   *np;
	const NegPhaseStats *st;
	bool		once = true,
				linked_never = true;

	sim_make(&sim, 3000, 1000, 4000, 1000, 50, 800);
	np = phase(&sim, 0, 10000, 0, 100);
	run(&sim, np);
	st = neg_phase_stats(np);
	CHECK(neg_phase_status(np) == NEG_PHASE_COMPLETE, "basic: reconciliation complete (status %d, %s)",
		  neg_phase_status(np), neg_phase_fallback_reason(np));
	CHECK(st->ids_needed == 2000, "basic: needed = relay minus archive (%lld)", (long long) st->ids_needed);
	CHECK(st->linked == 800, "basic: linked without download (%lld)", (long long) st->linked);
	CHECK(st->fetched == 1200, "basic: fetched the rest (%lld)", (long long) st->fetched);
	CHECK(st->ids_have == 50, "basic: the archive's extra ids are 'have' (%lld)", (long long) st->ids_have);
	for (size_t i = 0; i < sim.n_relay; i++)
	{
		if (i < 1800 && sim.fetch_asks[i] != 0)
			linked_never = false;
		if (i >= 1800 && sim.fetch_asks[i] != 1)
			once = false;
	}
	CHECK(linked_never, "basic: no linked or archived id is fetched");
	CHECK(once, "basic: every missing id is asked exactly once");
	CHECK(neg_phase_cursor(np) == 10000 && neg_phase_frontier(np) == 10000, "basic: cursor = frontier = end");
	CHECK(st->fetch_requests >= 12 && st->fetch_requests <= 15, "basic: fetched in batches of the limit (%lld requests)", (long long) st->fetch_requests);
	CHECK(sim.max_outstanding_at_send <= (int64_t) sim.max_queued + 4096 / 32,
		  "basic: NEG rounds wait while the need queue is over its bound (max outstanding %lld)",
		  (long long) sim.max_outstanding_at_send);
	neg_phase_free(np);
	sim_free(&sim);
}

static void
test_chunks(void)
{
	Sim			sim;
	NegPhase   *np;
	const NegPhaseStats *st;

	/* archive items crowd a few seconds: chunks of at most 100 items, never splitting a second */
	sim_make(&sim, 2000, 1000, 300, 1500, 0, 0);
	np = phase(&sim, 500, 2000, 100, 50);
	run(&sim, np);
	st = neg_phase_stats(np);
	CHECK(neg_phase_status(np) == NEG_PHASE_COMPLETE, "chunks: complete (%s)", neg_phase_fallback_reason(np));
	CHECK(st->chunks >= 15, "chunks: many chunks (%lld)", (long long) st->chunks);
	CHECK(st->fetched == 500 && st->ids_needed == 500, "chunks: exactly the 500 missing fetched (%lld of %lld)",
		  (long long) st->fetched, (long long) st->ids_needed);
	CHECK(neg_phase_cursor(np) == 2000, "chunks: cursor at the end");
	neg_phase_free(np);
	sim_free(&sim);
}

static void
test_not_served(void)
{
	Sim			sim;
	NegPhase   *np;
	const NegShortfall *sf;

	sim_make(&sim, 500, 1000, 1000, 100, 0, 0);
	sim.hidden = sim.relay[300].id;
	np = phase(&sim, 0, 3000, 60, 100);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_COMPLETE, "not served: the range is reconciled");
	CHECK(neg_phase_stats(np)->not_served == 1, "not served: counted (%lld)", (long long) neg_phase_stats(np)->not_served);
	sf = neg_phase_shortfall_at(np, 0);
	CHECK(neg_phase_shortfalls_total(np) == 1 && sf && strcmp(sf->reason, "not_served") == 0 && sf->has_id &&
		  memcmp(sf->id, sim.relay[300].id, 32) == 0, "not served: a shortfall with its id");
	CHECK(sf && neg_phase_cursor(np) < sf->since && (int64_t) sim.relay[300].timestamp >= sf->since &&
		  (int64_t) sim.relay[300].timestamp <= sf->until,
		  "not served: the cursor (%lld) stays below its chunk [%lld, %lld]", (long long) neg_phase_cursor(np),
		  (long long) (sf ? sf->since : 0), (long long) (sf ? sf->until : 0));
	CHECK(neg_phase_frontier(np) == 3000, "not served: the frontier passes it (a rescan retries)");
	neg_phase_free(np);
	sim_free(&sim);
}

static void
test_crowded_second(void)
{
	Sim			sim;
	NegPhase   *np;

	/* 50 archive items in one second, chunks of 20: the phase stops before that second */
	sim_make(&sim, 50, 1500, 1, 50, 0, 0);
	np = phase(&sim, 1000, 2000, 20, 100);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_FALLBACK && strcmp(neg_phase_fallback_reason(np), "crowded_second") == 0,
		  "crowded second: fallback (%s)", neg_phase_fallback_reason(np));
	CHECK(neg_phase_frontier(np) == 1499 && neg_phase_cursor(np) == 1499,
		  "crowded second: reconciled up to the second before it (cursor %lld)", (long long) neg_phase_cursor(np));
	neg_phase_free(np);
	sim_free(&sim);
}

static void
test_refusals(void)
{
	const char *answers[] = {"notice", "error", "silent"};
	const char *reasons[] = {"notice", "neg_err", "timeout"};

	for (int i = 0; i < 3; i++)
	{
		Sim			sim;
		NegPhase   *np;

		sim_make(&sim, 100, 1000, 100, 0, 0, 0);
		sim.open_answer = answers[i];
		np = phase(&sim, 0, 5000, 0, 100);
		run(&sim, np);
		if (i == 2)
		{
			CHECK(neg_phase_status(np) == NEG_PHASE_RUNNING, "silent: waiting before the timeout");
			neg_phase_tick(np, 500, false);
			CHECK(neg_phase_status(np) == NEG_PHASE_RUNNING, "silent: still waiting at half the timeout");
			neg_phase_tick(np, 5000, true);
			CHECK(neg_phase_status(np) == NEG_PHASE_RUNNING, "silent: our own pause does not count");
			neg_phase_tick(np, 7000, false);
		}
		CHECK(neg_phase_status(np) == NEG_PHASE_FALLBACK && strcmp(neg_phase_fallback_reason(np), reasons[i]) == 0,
			  "%s: fallback with reason %s (%s)", answers[i], reasons[i], neg_phase_fallback_reason(np));
		CHECK(neg_phase_cursor(np) == -1 && neg_phase_frontier(np) == -1, "%s: nothing claimed", answers[i]);
		neg_phase_free(np);
		sim_free(&sim);
	}
}

static void
test_too_many(void)
{
	Sim			sim;
	NegPhase   *np;

	sim_make(&sim, 400, 1000, 1000, 100, 0, 0);
	sim.open_answer = "toomany";
	sim.toomany_above = 300;
	np = phase(&sim, 0, 4000, 0, 100);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_COMPLETE, "too many records: complete in smaller chunks (%s)",
		  neg_phase_fallback_reason(np));
	CHECK(neg_phase_stats(np)->shrinks >= 1 && neg_phase_stats(np)->fetched == 300,
		  "too many records: shrunk %lld times, fetched %lld", (long long) neg_phase_stats(np)->shrinks,
		  (long long) neg_phase_stats(np)->fetched);
	neg_phase_free(np);
	sim_free(&sim);

	/* a single second still too large: fallback */
	sim_make(&sim, 10, 1000, 1, 0, 0, 0);
	sim.open_answer = "toomany";
	sim.toomany_above = -1;
	np = phase(&sim, 1000, 1000, 0, 100);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_FALLBACK && strcmp(neg_phase_fallback_reason(np), "too_many_records") == 0,
		  "too many records in one second: fallback (%s)", neg_phase_fallback_reason(np));
	neg_phase_free(np);
	sim_free(&sim);
}

static void
test_hold(void)
{
	Sim			sim;
	NegPhase   *np;
	uint8_t		id[32] = {1};

	sim_make(&sim, 100, 1000, 100, 100, 0, 0);
	np = phase(&sim, 0, 5000, 0, 100);
	run(&sim, np);
	neg_phase_hold(np, 1050, id, true);
	CHECK(neg_phase_cursor(np) == 1049 && neg_phase_frontier(np) == 1049, "hold with retry: cursor and frontier below");
	neg_phase_hold(np, 1020, id, false);
	CHECK(neg_phase_cursor(np) == 1019 && neg_phase_frontier(np) == 1049, "hold without retry: the cursor only");
	neg_phase_free(np);
	sim_free(&sim);
}

static void
test_auth_and_rate_limit(void)
{
	Sim			sim;
	NegPhase   *np;

	/* auth-required: the phase waits for the session's AUTH, then opens again */
	sim_make(&sim, 200, 1000, 100, 50, 0, 0);
	sim.open_answer = "auth";
	np = phase(&sim, 0, 5000, 0, 100);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_RUNNING && neg_phase_auth_wanted(np), "auth-required: waits for AUTH");
	neg_phase_auth_done(np, true, 0);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_COMPLETE && neg_phase_stats(np)->fetched == 150 && sim.neg_opens == 2,
		  "auth-required: NEG-OPEN re-sent once after AUTH, then complete (%s)", neg_phase_fallback_reason(np));
	neg_phase_free(np);
	sim_free(&sim);

	sim_make(&sim, 200, 1000, 100, 50, 0, 0);
	sim.open_answer = "auth";
	np = phase(&sim, 0, 5000, 0, 100);
	run(&sim, np);
	neg_phase_auth_done(np, false, 0);
	CHECK(neg_phase_status(np) == NEG_PHASE_FALLBACK && strcmp(neg_phase_fallback_reason(np), "auth_required") == 0,
		  "auth-required, AUTH failed: fallback");
	neg_phase_free(np);
	sim_free(&sim);

	/* rate-limited twice: asked again after 1 s and 2 s */
	sim_make(&sim, 200, 1000, 100, 50, 0, 0);
	sim.open_answer = "ratelimit";
	np = phase(&sim, 0, 5000, 0, 100);
	run(&sim, np);
	neg_phase_tick(np, 500, false);
	run(&sim, np);
	CHECK(sim.neg_opens == 1, "rate-limited: not asked again before the backoff");
	neg_phase_tick(np, 1001, false);
	run(&sim, np);
	neg_phase_tick(np, 3002, false);
	run(&sim, np);
	CHECK(neg_phase_status(np) == NEG_PHASE_COMPLETE && sim.neg_opens == 3 && neg_phase_stats(np)->rate_limited == 2,
		  "rate-limited: backed off, asked again, complete (opens %d, %s)", sim.neg_opens, neg_phase_fallback_reason(np));
	neg_phase_free(np);
	sim_free(&sim);
}

void
test_neg_phase(void)
{
	test_auth_and_rate_limit();
	test_basic();
	test_chunks();
	test_not_served();
	test_crowded_second();
	test_refusals();
	test_too_many();
	test_hold();
}
