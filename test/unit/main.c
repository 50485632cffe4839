/* main.c: runs every nostr-layer unit test and prints the closing tally. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

int			tap_passed;
int			tap_failed;

bool
tap_check(bool ok, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	if (ok)
		tap_passed++;
	else
		tap_failed++;
	printf("%s %d - ", ok ? "ok" : "not ok", tap_passed + tap_failed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok)
		printf("  (%s:%d)", file, line);
	printf("\n");
	return ok;
}

char *
read_fixture(const char *name, size_t *len)
{
	char		path[1024];
	FILE	   *f;
	char	   *buf;
	long		n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	f = fopen(path, "rb");
	if (!f)
	{
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (!buf || fread(buf, 1, (size_t) n, f) != (size_t) n)
		exit(2);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t) n;
	return buf;
}

int
main(void)
{
	test_json();
	test_event();
	test_bip340();
	test_keys();
	test_relay_url();
	test_message();
	test_filter();
	test_negentropy();
	test_neg_phase();
	test_nip11();
	test_sync_window();
	test_verify_pool();
	test_relay_etiquette();
	printf("%d passed, %d failed\n", tap_passed, tap_failed);
	return tap_failed ? 1 : 0;
}
