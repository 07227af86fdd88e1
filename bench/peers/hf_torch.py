"""HF transformers PyTorch generate(): eager (dynamic cache), or static cache + torch.compile (--compile)."""
import time

import torch
from transformers import AutoModelForCausalLM

from common import emit, parse_args, read_prompts, run_grid_point

args = parse_args([(("--compile",), {"action": "store_true"})])
torch.set_num_threads(args.threads)
prompts = read_prompts(args.prompts)
t0 = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()  # any family
load_s = time.perf_counter() - t0
ids = torch.tensor(prompts, dtype=torch.long)
mask = torch.ones_like(ids)
kw = dict(max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False, pad_token_id=model.config.eos_token_id)
system = "hf-torch-eager"
if args.compile:
    system = "hf-torch-compile-static"
    kw["cache_implementation"] = "static"
    model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)


def call():
    with torch.inference_mode():
        t = time.perf_counter()
        model.generate(ids, attention_mask=mask, max_new_tokens=1, min_new_tokens=1, do_sample=False,
                       pad_token_id=model.config.eos_token_id,
                       **({"cache_implementation": "static"} if args.compile else {}))
        pre = time.perf_counter() - t
        out = model.generate(ids, attention_mask=mask, **kw)
    return out[:, ids.shape[1]:].tolist(), pre


# The prefill probe (a 1-token generate) runs inside each call; subtract it from the call time.
r = run_grid_point(system, args, prompts, call)
r["calls_s"] = [c - r.get("prefill_s", 0) for c in r["calls_s"]]
r["steady_call_s"] -= r.get("prefill_s", 0)
r["load_s"] = load_s
emit(r)
