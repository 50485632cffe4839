/*
 * clock.h: the one monotonic clock of the network glue and everything above it (timeouts,
 * deadlines, round-trip times). CLOCK_MONOTONIC never jumps with the wall clock.
 */
#ifndef BIGBROTR_NET_CLOCK_H
#define BIGBROTR_NET_CLOCK_H

#include <stdint.h>

/* Microseconds since an arbitrary fixed point. */
int64_t		net_clock_us(void);

/* Milliseconds of the same clock. */
int64_t		net_clock_ms(void);

#endif							/* BIGBROTR_NET_CLOCK_H */
