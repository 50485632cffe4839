#!/bin/sh
# verify.sh: build and run the event-verification benchmark (-O2). Optional arg: seconds per measurement.
set -eu
cd "$(dirname "$0")"
make -s -f verify.mk bin/verify
exec ./bin/verify ../fixtures/nostr/events_bench.jsonl "${1:-3}"
