#!/usr/bin/env python3
# Decode profile by difference: samples per symbol of a `--new 32` perf.data minus those of a `--new 1` one (same
# binary, prompts and format; cpu-clock at 1000 Hz, so samples ~ ms of CPU):  python3 perf_decode.py NEW1.data NEW32.data
import re, subprocess, sys
def samples(path):
    out = subprocess.run(["perf", "report", "-q", "-n", "-i", path, "--no-children", "-g", "none", "--sort", "sym"],
                         capture_output=True, text=True).stdout
    d = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\d+)\s+\[.\]\s+(.*)", line)
        if m: d[m.group(3)[:90]] = int(m.group(2))
    return d
a, b = samples(sys.argv[1]), samples(sys.argv[2])
diff = {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}
tot = sum(v for v in diff.values() if v > 0)
print(f"--new 1 (prefill + load) samples {sum(a.values())}; decode samples (difference) {tot}")
for k, v in sorted(diff.items(), key=lambda x: -x[1])[:8]:
    print(f"  {100 * v / tot:5.1f}% {v:6d} {k}")
print("--new 1 profile (prefill + model load), top symbols:")
for k, v in sorted(a.items(), key=lambda x: -x[1])[:8]:
    print(f"  {100 * v / sum(a.values()):5.1f}% {v:6d} {k}")
