#!/bin/sh
# make_seeds.sh: split the nostr fixtures into one-input-per-file seed corpora for the fuzzers.
set -eu
cd "$(dirname "$0")"
F=../fixtures/nostr
rm -rf bin/seeds && mkdir -p bin/seeds/event bin/seeds/relay_url bin/seeds/message bin/seeds/nip11 bin/seeds/negentropy bin/seeds/filter
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
 "[\"OK\",\"" + "ab".repeat(32) + "\",true,\"duplicate: x\"]", "[\"COUNT\",\"c\",{\"count\":5,\"approximate\":false}]", "[\"NEG-MSG\",\"s\",\"6100000200\"]", "[\"NEG-ERR\",\"s\",\"blocked: x\"]"]
  .forEach((m, j) => out("message", "m" + j, m));
[{ name: "n", description: "d", supported_nips: [1, 11], limitation: { max_limit: 5 }, x: [1, { y: null }] },
 { name: 1, supported_nips: ["1"], icon: null, limitation: [] }, [1], "s"]
  .forEach((d, j) => out("nip11", "d" + j, JSON.stringify(d)));
// negentropy: first byte 0 (responder) / 1 (initiator) / 0x10 bit = frame limit 4096, then a
// message from the exchanges fixture (those under 4 KB); 2 = a relay message; 3 = two item sets.
const neg = (n, first, body) => out("negentropy", n, Buffer.concat([Buffer.from([first]), Buffer.from(body)]));
let k = 0;
for (const l of fs.readFileSync(process.argv[1] + "/negentropy_exchanges.txt", "utf8").split("\n")) {
  if (!/^[IR] /.test(l) || l.length > 8192) continue;
  const b = Buffer.from(l.slice(2), "hex");
  neg("x" + k++, l[0] === "I" ? 0x00 : 0x01, b);
  neg("x" + k++, l[0] === "I" ? 0x10 : 0x11, b);
}
["[\"NEG-MSG\",\"s\",\"6100000200\"]", "[\"NEG-ERR\",\"s\",\"blocked: too big\"]", "[\"NEG-ERR\",\"s\"]"]
  .forEach((m, j) => neg("m" + j, 0x02, Buffer.from(m)));
const sets = Buffer.alloc(300);
for (let j = 0; j < sets.length; j++) sets[j] = (j * 97 + 13) & 0xff;
neg("p0", 0x03, sets); neg("p1", 0x13, sets);
// filter: first byte 0/1 a filter object (1: with the api members relay, cursor), 2 a client message, 3 a query string
const h = "ab".repeat(32);
[[0, `{"ids":["${h}"],"authors":["${h}"],"kinds":[1,30023],"#e":["x"],"#P":["a\\u00e9"],"since":1,"until":2,"limit":3}`],
 [0, `{"kinds":[70000]}`], [0, `{"#t":["a","b"],"search":"q"}`], [1, `{"relay":"wss://r","cursor":"1.${h}"}`],
 [2, `["REQ","s",{"kinds":[1]},{"#t":["x"]}]`], [2, `["COUNT","c",{}]`], [2, `["CLOSE","s"]`], [2, `["EVENT",{"id":"${h}"}]`],
 [3, `kinds=1,2&kinds=3&%23t=x&authors=${h}&since=5&limit=9&format=json`], [3, `#t=a,b&#e=c&until=7`]]
  .forEach(([m, t], j) => out("filter", "f" + j, Buffer.concat([Buffer.from([m]), Buffer.from(t)])));
' "$F"
echo "seeds: $(ls bin/seeds/event | wc -l) event, $(ls bin/seeds/relay_url | wc -l) relay_url, $(ls bin/seeds/message | wc -l) message, $(ls bin/seeds/nip11 | wc -l) nip11, $(ls bin/seeds/negentropy | wc -l) negentropy, $(ls bin/seeds/filter | wc -l) filter"
