#!/bin/sh
# make_seeds.sh: split the nostr fixtures into one-input-per-file seed corpora for the fuzzers.
set -eu
cd "$(dirname "$0")"
F=../fixtures/nostr
rm -rf bin/seeds && mkdir -p bin/seeds/event bin/seeds/relay_url bin/seeds/message bin/seeds/nip11
i=0
# valid events (the "event" member of each line) and the first 200 benchmark events
node -e '
const fs = require("fs");
const out = (d, n, s) => fs.writeFileSync(`bin/seeds/${d}/${n}`, s);
let i = 0;
for (const l of fs.readFileSync(process.argv[1] + "/events_valid.jsonl", "utf8").split("\n").filter(Boolean)) {
  const e = JSON.stringify(JSON.parse(l).event);
  out("event", "v" + i, e); out("message", "v" + i, `["EVENT","s${i}",${e}]`); i++;
}
for (const l of fs.readFileSync(process.argv[1] + "/events_invalid.jsonl", "utf8").split("\n").filter(Boolean))
  out("event", "x" + i++, l.slice(l.indexOf("\t") + 1));
fs.readFileSync(process.argv[1] + "/events_bench.jsonl", "utf8").split("\n").slice(0, 200).forEach((l, j) => out("event", "b" + j, l));
fs.readFileSync(process.argv[1] + "/relay_urls.tsv", "utf8").split("\n").filter(l => l && l[0] != "#").forEach((l, j) => out("relay_url", "u" + j, l.split("\t")[0]));
["[\"EOSE\",\"s\"]", "[\"CLOSED\",\"s\",\"auth-required: x\"]", "[\"NOTICE\",\"n\"]", "[\"AUTH\",\"c\"]",
 "[\"OK\",\"" + "ab".repeat(32) + "\",true,\"duplicate: x\"]", "[\"COUNT\",\"c\",{\"count\":5,\"approximate\":false}]"]
  .forEach((m, j) => out("message", "m" + j, m));
[{ name: "n", description: "d", supported_nips: [1, 11], limitation: { max_limit: 5 }, x: [1, { y: null }] },
 { name: 1, supported_nips: ["1"], icon: null, limitation: [] }, [1], "s"]
  .forEach((d, j) => out("nip11", "d" + j, JSON.stringify(d)));
' "$F"
echo "seeds: $(ls bin/seeds/event | wc -l) event, $(ls bin/seeds/relay_url | wc -l) relay_url, $(ls bin/seeds/message | wc -l) message, $(ls bin/seeds/nip11 | wc -l) nip11"
