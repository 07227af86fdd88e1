import json, statistics, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
cells = {}
for r in rows:
    cells.setdefault((r["threads"], r["point"], r["weights"]), {}).setdefault(r["build"], []).append(r["prefill_tok_s"])
for (t, p, w), v in cells.items():
    o, m = v.get("old", []), v.get("main", [])
    if not o or not m: continue
    mo, mm = statistics.median(o), statistics.median(m)
    print(f"threads {t} {p:>6} {w:<4} old {' '.join(f'{x:.0f}' for x in o):<16} main {' '.join(f'{x:.0f}' for x in m):<16} "
          f"median {mo:.0f} -> {mm:.0f}  main/old {mm/mo:.2f}x  loads {min(r['load1'] for r in rows if r['threads']==t):.1f}-{max(r['load1'] for r in rows if r['threads']==t):.1f}")
