#!/usr/bin/env python3
"""Best time of each (shape, storage, M) per build over <raw>/{old,new}.*.txt (kernels_bench gemm), and new / old.
   ./summarize.py [raw folder, default raw]"""
import collections
import pathlib
import re
import sys

times = collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted((pathlib.Path(__file__).parent / (sys.argv[1] if len(sys.argv) > 1 else "raw")).glob("*.txt")):
    build = f.name.split(".")[0]
    for line in f.read_text().splitlines():
        m = re.match(r"\s+gemm (.+?)\s+(f32|bf16)\s+M=(\d+)\s+([\d.]+) ms", line)
        if m:
            times[(m.group(1), m.group(2), int(m.group(3)))][build].append(float(m.group(4)))
for key in sorted(times):
    old, new = min(times[key]["old"]), min(times[key]["new"])
    print(f"{key[0]:28s} {key[1]:4s} M={key[2]:<3d} old {old:7.3f} ms  new {new:7.3f} ms  new/old {new / old:5.2f}")
