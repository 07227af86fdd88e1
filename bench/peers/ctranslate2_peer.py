"""CTranslate2 Generator on a float32 conversion of the same folder (its TransformersConverter)."""
import json
import os
import time

import ctranslate2

from common import emit, parse_args, read_prompts, run_grid_point

args = parse_args([(("--compute-type",), {"default": "float32"})])
prompts = read_prompts(args.prompts)
out_dir = os.path.join(args.work, "ct2-" + args.compute_type)
if not os.path.exists(os.path.join(out_dir, "model.bin")):
    ctranslate2.converters.TransformersConverter(args.model).convert(out_dir, quantization=args.compute_type, force=True)
with open(os.path.join(args.model, "vocab.json")) as f:
    vocab = json.load(f)
inv = {i: t for t, i in vocab.items()}
t0 = time.perf_counter()
gen = ctranslate2.Generator(out_dir, device="cpu", compute_type=args.compute_type, inter_threads=1,
                            intra_threads=args.threads)
load_s = time.perf_counter() - t0
start = [[inv[i] for i in p] for p in prompts]


def call():
    t = time.perf_counter()
    gen.generate_batch(start, max_length=1, min_length=1, sampling_topk=1, include_prompt_in_result=False)
    pre = time.perf_counter() - t
    res = gen.generate_batch(start, max_length=args.new, min_length=args.new, sampling_topk=1, beam_size=1,
                             include_prompt_in_result=False)
    return [r.sequences_ids[0] for r in res], pre


r = run_grid_point("ctranslate2-" + args.compute_type, args, prompts, call)
r["calls_s"] = [c - r.get("prefill_s", 0) for c in r["calls_s"]]
r["steady_call_s"] -= r.get("prefill_s", 0)
r["load_s"] = load_s
emit(r)
