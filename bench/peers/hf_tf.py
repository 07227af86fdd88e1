"""HF transformers TensorFlow generate() on the same folder: eager, or jit_compile=True (XLA, --xla).
Runs in bench/.venv-tf (tensorflow-cpu + tf-keras + the last transformers with TF support)."""
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import tensorflow as tf
from safetensors.numpy import load_file
from transformers import GPT2Config, TFGPT2LMHeadModel
from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

from common import emit, parse_args, read_prompts, run_grid_point

args = parse_args([(("--xla",), {"action": "store_true"})])
tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
prompts = read_prompts(args.prompts)
t0 = time.perf_counter()
# from_pt=True would import torch, and torch + TF in one process abort (LLVM options registered twice):
# map the safetensors (numpy) into the TF model with transformers' own PT->TF name mapping instead.
model = TFGPT2LMHeadModel(GPT2Config.from_pretrained(args.model))
state = load_file(os.path.join(args.model, "model.safetensors"))
load_pytorch_state_dict_in_tf2_model(model, state)
load_s = time.perf_counter() - t0
ids = tf.constant(prompts, dtype=tf.int32)
mask = tf.ones_like(ids)
kw = dict(max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False, pad_token_id=model.config.eos_token_id)
gen = tf.function(model.generate, jit_compile=True) if args.xla else model.generate


def call():
    out = gen(ids, attention_mask=mask, **kw)
    return out.numpy()[:, ids.shape[1]:].tolist(), None


r = run_grid_point("hf-tf-xla" if args.xla else "hf-tf-eager", args, prompts, call)
r["load_s"] = load_s
emit(r)
