#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Parse a Prometheus text exposition (format 0.0.4) with prometheus_client's parser (Debian's
# python3-prometheus-client), check the rules it does not enforce, and print the samples as
# JSON for jq: [{"name": ..., "labels": {...}, "value": ...}, ...].
# Rules checked besides the parser's: every sample's family has exactly one HELP and one TYPE
# line before its first sample; a counter's samples end in _total; no series appears twice;
# the text is UTF-8. Exit 1 with one sentence on stderr when a rule is broken.
#
# usage: prom_parse.py FILE
import json
import re
import sys

from prometheus_client.parser import text_string_to_metric_families


def die(msg):
    print("prom_parse: " + msg, file=sys.stderr)
    sys.exit(1)


raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8", errors="strict")
except UnicodeDecodeError as e:
    die("the exposition is not UTF-8: %s" % e)

helps, types = {}, {}
seen_sample_of = set()
for n, line in enumerate(text.split("\n"), 1):
    m = re.match(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
    if m:
        kind, fam, rest = m.groups()
        table = helps if kind == "HELP" else types
        if fam in table:
            die("line %d: a second %s line for %s" % (n, kind, fam))
        if fam in seen_sample_of:
            die("line %d: %s for %s after its samples" % (n, kind, fam))
        table[fam] = rest
        continue
    if not line or line.startswith("#"):
        continue
    name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
    if not name:
        die("line %d: not a sample: %r" % (n, line))
    name = name.group(0)
    fam = name
    if fam not in types and name.endswith("_total"):
        fam = name[: -len("_total")]
    if fam not in types and name in types:
        fam = name
    if fam not in types and name not in types:
        die("line %d: sample %s has no TYPE line before it" % (n, name))
    if fam not in helps:
        die("line %d: sample %s has no HELP line before it" % (n, name))
    if types[fam] == "counter" and not name.endswith("_total"):
        die("line %d: counter %s does not end in _total" % (n, name))
    seen_sample_of.add(fam)

out, keys = [], set()
try:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in keys:
                die("series %s%s appears twice" % (s.name, dict(key[1])))
            keys.add(key)
            out.append({"name": s.name, "labels": s.labels, "value": s.value,
                        "type": family.type})
except ValueError as e:
    die("the Prometheus parser refused the text: %s" % e)
if not out:
    die("no samples")
json.dump(out, sys.stdout)
