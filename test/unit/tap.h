/* tap.h: a minimal TAP-style checker shared by the unit tests: prints "ok"/"not ok" lines and a
 * closing "N passed, N failed" line. */
#ifndef BIGBROTR_TEST_TAP_H
#define BIGBROTR_TEST_TAP_H

#include <stdbool.h>
#include <stddef.h>

extern int	tap_passed;
extern int	tap_failed;

bool		tap_check(bool ok, const char *file, int line, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

#define CHECK(cond, ...) tap_check((cond), __FILE__, __LINE__, __VA_ARGS__)

/* Reads a whole fixture file (FIXTURES_DIR/name) into a malloc'd NUL-terminated buffer. */
char	   *read_fixture(const char *name, size_t *len);

void		test_json(void);
void		test_event(void);
void		test_bip340(void);
void		test_keys(void);
void		test_relay_url(void);
void		test_message(void);
void		test_negentropy(void);
void		test_neg_phase(void);
void		test_nip11(void);
void		test_sync_window(void);
void		test_verify_pool(void);
void		test_relay_etiquette(void);
void		test_filter(void);

#endif
