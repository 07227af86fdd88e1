#!/usr/bin/env python3
"""Alternating end-to-end decode A/B of generate_bench binaries, 1 thread, CPU-time tok/s (decode CPU s = call CPU s
minus prefill CPU s, medians of 3 calls), rounds in alternating order:
    python3 bench/results/kv-cache-pages/ab_decode.py ROUNDS FORMAT PRESET NEW [BATCH] -- BINARY...
FORMAT: f32 | bf16 | int8 | int4 (quantized ones with the lm_head at the same bits); PRESET: a folder made by
`jitgen make-model --config PRESET` under bench/.work/llama_cpp_speed (tinyllama-1.1b: llama_cpp_speed_tiny), prompts
as bench/llama_cpp_quant_speed.py / run_peers.py wrote them (16 tokens). Prints tok/s, an md5 of the tokens, the load."""
import hashlib, json, os, subprocess, sys
args = sys.argv[1:]; sep = args.index('--'); R, fmt, pr, new = int(args[0]), args[1], args[2], args[3]
B = args[4] if sep > 4 else '1'; bins = args[sep + 1:]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
W = ROOT + '/bench/.work/' + ('llama_cpp_speed_tiny' if pr.startswith('tiny') else 'llama_cpp_speed')
prompts = f'{W}/prompts_{pr}_{B}_16.txt'
if not os.path.exists(prompts): prompts = f'{ROOT}/bench/.work/prompts_{B}_16_{ {"smollm2-135m":49152,"gpt2":50257,"tinyllama-1.1b":32000}[pr]}.txt'
env = dict(os.environ, JITGEN_WEIGHTS=fmt, JITGEN_QUANTIZE_LM_HEAD='1', JITGEN_NUM_THREADS='1')
if fmt in ('f32', 'bf16'): env.pop('JITGEN_QUANTIZE_LM_HEAD')
res = {b: [] for b in bins}
for r in range(R):
    order = bins if r % 2 == 0 else bins[::-1]
    for b in order:
        out = subprocess.run([b, '--mode', 'compiled', '--model', f'{W}/{pr}', '--prompts', prompts, '--new', new,
                              '--repeats', '3'], env=env, capture_output=True, text=True).stdout
        d = json.loads([l for l in out.splitlines() if l.startswith('{')][0])
        tps = (d['new_tokens'] - 1) * d['batch'] / d['decode_cpu_s']
        res[b].append(tps)
        print(r, os.path.basename(b), f'{tps:.1f}', hashlib.md5(str(d['tokens']).encode()).hexdigest()[:6],
              open('/proc/loadavg').read().split()[0], flush=True)
for b in bins:
    v = sorted(res[b]); print(os.path.basename(b), 'median', f'{v[len(v)//2]:.1f}', 'all', ' '.join(f'{x:.1f}' for x in res[b]))
