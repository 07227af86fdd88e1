"""Medians of ab.sh's JSON lines: decode tokens/s (all rows) (wall and CPU time) and GB/s of weights per side, threads, weights,
and the new / old ratio.   python3 summarize.py ab-*.jsonl"""
import json, statistics, sys
from collections import defaultdict

rows = defaultdict(list)
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        rows[(r["threads"], r["weights"], r["side"])].append(r["run"])
print("| threads | weights | old tok/s (wall; CPU) | new tok/s (wall; CPU) | new/old wall | new/old CPU | new GB/s (wall) | runs | same tokens |")
print("|---|---|---|---|---|---|---|---|---|")
for threads in (1, 2):
    for w in ("f32", "bf16"):
        o, n = rows.get((threads, w, "old")), rows.get((threads, w, "new"))
        if not o or not n:
            continue
        steps = (o[0]["new_tokens"] - 1) * o[0]["batch"]  # tokens generated after the first
        def rate(runs, key):
            return statistics.median(steps / r[key] for r in runs)
        ow, oc, nw, nc = rate(o, "decode_s"), rate(o, "decode_cpu_s"), rate(n, "decode_s"), rate(n, "decode_cpu_s")
        gbs = nw / n[0]["batch"] * n[0]["bytes_per_step_mid"] / 1e9
        same = all(r["tokens"] == o[0]["tokens"] for r in o + n)
        print(f"| {threads} | {w} | {ow:.1f}; {oc:.1f} | {nw:.1f}; {nc:.1f} | {nw / ow:.2f}x | {nc / oc:.2f}x | {gbs:.1f} | {len(o)}+{len(n)} | {same} |")
