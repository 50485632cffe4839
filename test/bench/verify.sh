#!/bin/sh
# verify.sh: build and run the event-verification benchmark (-O2), rates per CPU-second.
#   usage: test/bench/verify.sh [CPU seconds per measurement=3] [events.jsonl=test/fixtures/nostr/events_bench.jsonl]
set -eu
FILE=$(realpath "${2:-$(dirname "$0")/../fixtures/nostr/events_bench.jsonl}")
cd "$(dirname "$0")"
make -s -f verify.mk bin/verify
exec ./bin/verify "$FILE" "${1:-3}"
