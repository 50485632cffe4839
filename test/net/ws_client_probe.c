/*
 * ws_client_probe.c: drives src/net/ws_client.c against real servers for the integration tests
 * (test/integration/ws_client.test.mjs). It opens connections as told on the command line and
 * prints one JSON line per callback, then a summary with its own bookkeeping of the contract:
 * every connection closed exactly once, no callback after on_close, how long the longest
 * ws_loop_run slice took. It asserts nothing itself: the test reads the lines.
 *
 *   ws_client_probe [--allow-private] [--proxy HOST:PORT] [--via-tor] [--ca FILE]
 *                   [--user-agent TEXT | --user-agent-size N]
 *                   [--max-message N] [--timeout MS] [--count N] [--send TEXT]...
 *                   [--close-on PREFIX] [--close-after MS] [--run MS] [--slice MS] [--quiet] URL...
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/clock.h"
#include "net/ws_client.h"

#define MAX_SENDS 8

typedef struct Probe
{
	int			index;
	WsConn	   *conn;
	int			opens;
	int			closes;
	int			after_close;	/* callbacks received after on_close */
	int			messages;
} Probe;

static const char *sends[MAX_SENDS];
static int	nsends;
static const char *close_on;
static long long t0;
static int	total_messages;
static unsigned long long total_bytes;
static bool quiet;				/* count messages without printing them (throughput runs) */
static char *long_user_agent;	/* --user-agent-size */

static void
print_json_string(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
on_open(WsConn *conn, void *user)
{
	Probe	   *p = user;

	if (p->closes)
		p->after_close++;
	p->opens++;
	printf("{\"ev\":\"open\",\"conn\":%d,\"ms\":%lld}\n", p->index, (long long) net_clock_ms() - t0);
}

static void
on_message(WsConn *conn, void *user, const char *data, size_t len)
{
	Probe	   *p = user;

	if (p->closes)
		p->after_close++;
	p->messages++;
	total_messages++;
	total_bytes += len;
	if (close_on && strncmp(data, close_on, strlen(close_on)) == 0)
		ws_close(conn);
	if (quiet)
		return;
	printf("{\"ev\":\"message\",\"conn\":%d,\"len\":%zu,\"data\":", p->index, len);
	print_json_string(data, len);
	printf("}\n");
}

static void
on_close(WsConn *conn, void *user, WsCloseReason reason, const char *detail)
{
	Probe	   *p = user;

	p->closes++;
	printf("{\"ev\":\"close\",\"conn\":%d,\"reason\":\"%s\",\"ms\":%lld,\"detail\":", p->index,
		   ws_close_reason_name(reason), (long long) net_clock_ms() - t0);
	print_json_string(detail, strlen(detail));
	printf("}\n");
	p->conn = NULL;
}

static int
usage(void)
{
	fprintf(stderr, "usage: ws_client_probe [options] URL...\n");
	return 2;
}

int
main(int argc, char **argv)
{
	WsLoopOptions options = {0};
	WsCallbacks callbacks = {on_open, on_message, on_close};
	char		error[256];
	char		proxy_host[256] = "";
	bool		via_tor = false;
	int			timeout_ms = 5000,
				count = 1,
				run_ms = 20000,
				slice_ms = 100,
				close_after = -1;
	int			nurls = 0,
				nprobes = 0,
				connect_errors = 0;
	const char *urls[64];
	Probe	   *probes;
	WsLoop	   *loop;
	long long	max_slice = 0;
	bool		closed_after = false;
	int			opened = 0,
				double_closes = 0,
				missing_closes = 0,
				after_close = 0,
				alive_left;

	signal(SIGPIPE, SIG_IGN);
	options.max_message_size = 1 << 20;
	options.user_agent = "bigbrotr-ws-probe";
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--allow-private") == 0)
			options.allow_private_addresses = true;
		else if (strcmp(a, "--via-tor") == 0)
			via_tor = true;
		else if (strcmp(a, "--quiet") == 0)
			quiet = true;
		else if (a[0] == '-' && a[1] == '-' && v == NULL)
			return usage();
		else if (strcmp(a, "--proxy") == 0)
		{
			const char *colon = strrchr(v, ':');

			if (colon == NULL)
				return usage();
			snprintf(proxy_host, sizeof(proxy_host), "%.*s", (int) (colon - v), v);
			options.tunnel_proxy_host = proxy_host;
			options.tunnel_proxy_port = atoi(colon + 1);
			i++;
		}
		else if (strcmp(a, "--ca") == 0)
			options.ca_file = argv[++i];
		else if (strcmp(a, "--user-agent") == 0)
			options.user_agent = argv[++i];
		else if (strcmp(a, "--user-agent-size") == 0)
		{
			/* one that cannot fit in lws' handshake buffer, to see that failure reported */
			size_t		n = strtoull(argv[++i], NULL, 10);

			long_user_agent = malloc(n + 1);
			if (long_user_agent == NULL)
				return 1;
			memset(long_user_agent, 'u', n);
			long_user_agent[n] = '\0';
			options.user_agent = long_user_agent;
		}
		else if (strcmp(a, "--max-message") == 0)
			options.max_message_size = strtoull(argv[++i], NULL, 10);
		else if (strcmp(a, "--timeout") == 0)
			timeout_ms = atoi(argv[++i]);
		else if (strcmp(a, "--count") == 0)
			count = atoi(argv[++i]);
		else if (strcmp(a, "--send") == 0 && nsends < MAX_SENDS)
			sends[nsends++] = argv[++i];
		else if (strcmp(a, "--close-on") == 0)
			close_on = argv[++i];
		else if (strcmp(a, "--close-after") == 0)
			close_after = atoi(argv[++i]);
		else if (strcmp(a, "--run") == 0)
			run_ms = atoi(argv[++i]);
		else if (strcmp(a, "--slice") == 0)
			slice_ms = atoi(argv[++i]);
		else if (a[0] == '-')
			return usage();
		else if (nurls < 64)
			urls[nurls++] = a;
	}
	if (nurls == 0 || count < 1)
		return usage();

	loop = ws_loop_create(&options, NULL, error, sizeof(error));
	if (loop == NULL)
	{
		printf("{\"ev\":\"loop_error\",\"error\":");
		print_json_string(error, strlen(error));
		printf("}\n");
		return 1;
	}
	probes = calloc((size_t) nurls * count, sizeof(Probe));
	t0 = (long long) net_clock_ms();
	for (int u = 0; u < nurls; u++)
		for (int c = 0; c < count; c++)
		{
			Probe	   *p = &probes[nprobes];

			p->index = nprobes++;
			p->conn = ws_connect(loop, urls[u], via_tor, timeout_ms, &callbacks, p, error, sizeof(error));
			if (p->conn == NULL)
			{
				connect_errors++;
				p->closes = -1;	/* never started: must never be closed either */
				printf("{\"ev\":\"connect_error\",\"conn\":%d,\"error\":", p->index);
				print_json_string(error, strlen(error));
				printf("}\n");
				continue;
			}
			/* Queued before the handshake: the send queue must hold them until the connection opens. */
			for (int s = 0; s < nsends; s++)
				ws_send_text(p->conn, sends[s], strlen(sends[s]));
		}
	fflush(stdout);

	for (;;)
	{
		long long	before = (long long) net_clock_ms();
		int			alive = ws_loop_run(loop, slice_ms);
		long long	took = (long long) net_clock_ms() - before;

		if (took > max_slice)
			max_slice = took;
		fflush(stdout);
		if (close_after >= 0 && !closed_after && (long long) net_clock_ms() - t0 >= close_after)
		{
			closed_after = true;
			for (int i = 0; i < nprobes; i++)
				if (probes[i].conn)
					ws_close(probes[i].conn);
		}
		if (alive == 0 || (long long) net_clock_ms() - t0 >= run_ms)
		{
			alive_left = alive;
			break;
		}
	}
	ws_loop_destroy(loop);

	for (int i = 0; i < nprobes; i++)
	{
		Probe	   *p = &probes[i];

		if (p->closes == -1)
			continue;
		if (p->opens)
			opened++;
		if (p->closes > 1)
			double_closes++;
		if (p->closes == 0)
			missing_closes++;
		after_close += p->after_close;
	}
	printf("{\"ev\":\"summary\",\"conns\":%d,\"connect_errors\":%d,\"opened\":%d,\"messages\":%d,"
		   "\"double_closes\":%d,\"missing_closes\":%d,\"after_close\":%d,\"alive_at_end\":%d,"
		   "\"max_slice_ms\":%lld,\"slice_ms\":%d,\"bytes\":%llu,\"elapsed_ms\":%lld}\n",
		   nprobes, connect_errors, opened, total_messages, double_closes, missing_closes, after_close,
		   alive_left, max_slice, slice_ms, total_bytes, (long long) net_clock_ms() - t0);
	free(probes);
	return 0;
}
