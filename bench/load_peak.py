#!/usr/bin/env python3
"""Peak resident memory of a model load, two jitgen builds interleaved (issue 16, load peak).

Runs `/usr/bin/time -v BUILD/bench/generate_bench --model DIR --prompts P --new 4 --repeats 0` for every
(folder, JITGEN_WEIGHTS) case and build, alternating the builds, each run under the bench lock when --lock is given.
Max RSS is /usr/bin/time's (the kernel's high-water mark). While the process runs, /proc/PID/status is sampled every
--interval seconds for RssAnon (heap, panels, fp32 copies) and RssFile (the checkpoint's mapped pages, which count in
RSS but are page cache the kernel can drop): their sampled peaks, apart, since a sample can miss a short spike.
generate_bench's own JSON gives VmRSS / RssAnon right after load, the panels' size, and the greedy tokens.

  python3 bench/load_peak.py --build before=build-before --build after=build --prompts P \\
      --case tl-f32:f32=bench/.work/tl-f32 ... --lock /work/wt/notes/BENCH.lock --out results.json
  python3 bench/load_peak.py --table results.json   # the markdown table
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time


def status_kib(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def child_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except FileNotFoundError:
        return None


def run_one(build, model, weights, prompts, lock, interval):
    cmd = ["/usr/bin/time", "-v", f"{build}/bench/generate_bench", "--model", model, "--prompts", prompts,
           "--new", "4", "--repeats", "0"]
    if lock:
        cmd = ["flock", lock] + cmd
    env = dict(os.environ, JITGEN_WEIGHTS=weights)
    load_before = open("/proc/loadavg").read().split()[:3]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    target = None
    while proc.poll() is None:
        if target is None:  # flock -> time -> generate_bench
            p = proc.pid
            for _ in range(2 if lock else 1):
                p = child_of(p) if p else None
            if p:
                with open(f"/proc/{p}/comm") as f:
                    target = p if f.read().strip() == "generate_bench" else None
        if target:
            for k, v in status_kib(target).items():
                if k in peaks:
                    peaks[k] = max(peaks[k], v)
        time.sleep(interval)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    bench = json.loads(out.strip().splitlines()[-1])
    max_rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    return {
        "command": f"JITGEN_WEIGHTS={weights} " + " ".join(cmd),
        "load_at_start": " ".join(load_before),
        "load_at_end": " ".join(open("/proc/loadavg").read().split()[:3]),
        "max_rss_mib": round(max_rss / 1024, 1),
        "sampled_peak_rss_mib": round(peaks["VmRSS"] / 1024, 1),
        "sampled_peak_anon_mib": round(peaks["RssAnon"] / 1024, 1),
        "sampled_peak_file_mib": round(peaks["RssFile"] / 1024, 1),
        "load_rss_mib": bench.get("load_rss_mib"),
        "load_anon_mib": bench.get("load_anon_mib"),
        "steady_anon_mib": bench.get("anon_mib"),
        "panels_mib": round(bench.get("panels_mib", 0), 1),
        "load_s": round(bench.get("load_s", 0), 2),
        "system": bench.get("system"),
        "simd": bench.get("simd"),
        "threads": bench.get("threads"),
        "tokens": bench.get("tokens"),
    }


def table(runs):
    """Markdown rows: per case, each build's max RSS, sampled anon / file peaks, VmRSS after load, tokens."""
    rows = ["| case, JITGEN_WEIGHTS | panels MiB | build | max RSS MiB | peak anon / file MiB (sampled) | "
            "VmRSS after load MiB | steady anon MiB | tokens |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        rows.append(f"| {r['case']}, {r['weights']} | {r['panels_mib']:.0f} | {r['build']} | {r['max_rss_mib']:.0f} | "
                    f"{r['sampled_peak_anon_mib']:.0f} / {r['sampled_peak_file_mib']:.0f} | {r['load_rss_mib']:.0f} | "
                    f"{r['steady_anon_mib']:.0f} | {' '.join(map(str, r['tokens'][0]))} |")
    return "\n".join(rows)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":  # load_peak.py --table RESULTS.json
        print(table(json.load(open(sys.argv[2]))["runs"]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", required=True, help="NAME=BUILD_DIR, in the order runs alternate")
    ap.add_argument("--case", action="append", required=True, help="NAME:WEIGHTS=MODEL_DIR")
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--lock")
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    runs = []
    for case in a.case:
        head, model = case.split("=", 1)
        name, weights = head.split(":")
        for bname, bdir in builds:
            r = run_one(bdir, model, weights, a.prompts, a.lock, a.interval)
            r.update({"case": name, "weights": weights, "model": model, "build": bname})
            print(json.dumps(r), flush=True)
            runs.append(r)
    with open(a.out, "w") as f:
        json.dump({"runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
