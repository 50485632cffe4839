# Benchmark of event verification (see verify.c).  make -C test/bench -f verify.mk verify   (or test/bench/verify.sh)
ROOT := $(abspath ../..)
SRC := $(wildcard $(ROOT)/src/nostr/*.c)
CC ?= cc
SECS ?= 3

bin/verify: verify.c $(SRC) $(wildcard $(ROOT)/src/nostr/*.h)
	@mkdir -p bin
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -I$(ROOT)/src -o $@ verify.c $(SRC) -lsecp256k1 -lcrypto -lidn2

verify: bin/verify
	./bin/verify $(ROOT)/test/fixtures/nostr/events_bench.jsonl $(SECS)

.PHONY: verify
