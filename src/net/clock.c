/* clock.c: CLOCK_MONOTONIC in microseconds and milliseconds (see clock.h). */
#include "net/clock.h"

#include <time.h>

int64_t
net_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
net_clock_ms(void)
{
	return net_clock_us() / 1000;
}
