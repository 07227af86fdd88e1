#!/usr/bin/env python3
"""Trains jitgen's built-in demo model: a small Llama on the King James Bible, on CPU, from seeds.

Text: the KJV as printed by `bible` (Debian package `bible-kjv`, text from `bible-kjv-text`), one document
per chapter ("Genesis 1" then one verse per line, verse numbers dropped). Every 20th chapter (global chapter
index i with i % 20 == 19) is held out: 59 of 1189 chapters, about 5% of the text.

Tokenizer: a Llama-2-style SentencePiece BPE with byte fallback, trained by `sentencepiece` on the training
chapters only (one thread, no sampling or shuffling, so the same text gives the same model), converted by
transformers' Llama tokenizer (needs protobuf) (tokenizer.model -> tokenizer.json + tokenizer_config.json).

Model: transformers' LlamaForCausalLM, trained from torch.manual_seed with AdamW and a cosine schedule with
linear warm-up, on packed 256-token windows of the training stream (<s> chapter </s> <s> chapter </s> ...),
windows visited in an order drawn from a seeded torch.Generator; deterministic algorithms, fixed thread count.

Held-out perplexity (the number the README states and `--verify` recomputes): the held-out chapters, each
<s> + ids + </s>, concatenated into one stream, cut into consecutive non-overlapping 256-token windows (the
last one shorter); exp of the mean next-token cross-entropy over every predicted position of every window
(a window's first token is not predicted). Computed in fp32 from the committed bf16 weights.

Usage:
  python3 scripts/train_demo_model.py --out models/kjv-llama-5m     # train (defaults: 1100 steps, 1 thread)
  python3 scripts/train_demo_model.py --measure                                      # tokens/s, 5 steps
  python3 scripts/train_demo_model.py --verify models/kjv-llama-5m                   # perplexity + sha256
  python3 scripts/train_demo_model.py --write-manifest models/kjv-llama-5m           # SHA256SUMS

Needs: `scripts/install-deps.sh --demo-model` (Debian bible-kjv) and scripts/requirements-oracle.txt.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

SEQ_LEN = 256
HELD_OUT_EVERY = 20  # chapter i is held out when i % 20 == 19
MANIFEST = "SHA256SUMS"
# The defaults are the committed model's run: 1100 steps (2.3 epochs) on one thread (torch's results depend on the
# thread count; one thread leaves the other core to the machine's other work).
DEFAULT_STEPS = 1100
DEFAULT_THREADS = 1


# ---------------------------------------------------------------------------------------------- text

def debian_version(package):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], check=True, capture_output=True,
                          text=True).stdout.strip()


def kjv_chapters():
    """All 1189 chapters in canonical order as text: the heading line, then one verse per line."""
    out = subprocess.run(["bible", "-l0", "Gen1:1-Rev22:21"], check=True, capture_output=True,
                         text=True).stdout
    chapters, heading, verses = [], None, []
    for line in out.split("\n"):
        m = re.match(r"^ +(\d+) (.*)$", line)
        if m:
            verses.append(m.group(2).strip())
        elif line.strip():
            if heading is not None:
                chapters.append(heading + "\n" + "\n".join(verses))
            heading, verses = line.strip(), []
    chapters.append(heading + "\n" + "\n".join(verses))
    if len(chapters) != 1189:
        sys.exit(f"train_demo_model: expected 1189 chapters from `bible`, got {len(chapters)}")
    return chapters


def split(chapters):
    train = [c for i, c in enumerate(chapters) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    held = [c for i, c in enumerate(chapters) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    return train, held


# ----------------------------------------------------------------------------------------- tokenizer

def train_tokenizer(train_chapters, out_dir, vocab_size):
    import sentencepiece as spm
    from transformers import AutoTokenizer, LlamaTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "train.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for c in train_chapters:
                f.write(c + "\n")
        prefix = os.path.join(tmp, "tokenizer")
        # Llama-2's trainer settings where they matter (BPE, byte fallback, split digits, identity
        # normalisation, dummy prefix, whitespace kept, ids 0/1/2 = <unk>/<s>/</s>, no pad); one thread and
        # no sentence sampling or shuffling make the model a function of the text.
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
            character_coverage=1.0, byte_fallback=True, split_digits=True, normalization_rule_name="identity",
            add_dummy_prefix=True, remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
            max_sentencepiece_length=16, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            num_threads=1, input_sentence_size=0, shuffle_input_sentence=False, train_extremely_large_corpus=False,
            minloglevel=2)
        os.makedirs(out_dir, exist_ok=True)
        with open(prefix + ".model", "rb") as src, open(os.path.join(out_dir, "tokenizer.model"), "wb") as dst:
            dst.write(canonical_spm_model(src.read()))
    # transformers' own conversion: its Llama tokenizer reads tokenizer.model (vocab, merges by score, byte
    # fallback) and writes tokenizer.json + tokenizer_config.json; the folder is then loaded back as a user would.
    LlamaTokenizer.from_pretrained(out_dir, legacy=True, add_bos_token=True, add_eos_token=False,
                                   model_max_length=512).save_pretrained(out_dir)
    tok = AutoTokenizer.from_pretrained(out_dir)
    return tok


def canonical_spm_model(data):
    """The SentencePiece model with its trainer spec's input and model_prefix (this run's random temporary paths)
    replaced by their file names, so that reruns write the same bytes (the vocabulary never depended on them)."""
    from sentencepiece import sentencepiece_model_pb2
    m = sentencepiece_model_pb2.ModelProto()
    m.ParseFromString(data)
    inputs = [os.path.basename(p) for p in m.trainer_spec.input]
    del m.trainer_spec.input[:]
    m.trainer_spec.input.extend(inputs)
    m.trainer_spec.model_prefix = os.path.basename(m.trainer_spec.model_prefix)
    return m.SerializeToString()


def encode_stream(tok, chapters):
    """<s> chapter </s> for every chapter, concatenated."""
    ids = []
    for c in chapters:
        ids.append(tok.bos_token_id)
        ids.extend(tok.encode(c, add_special_tokens=False))
        ids.append(tok.eos_token_id)
    return ids


# ---------------------------------------------------------------------------------------------- model

def make_config(vocab_size):
    from transformers import LlamaConfig
    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=512, rope_theta=10000.0,
        rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
        attention_bias=False, mlp_bias=False, initializer_range=0.02)


def held_out_perplexity(model, held_ids):
    """See the module docstring: exp(mean NLL) over non-overlapping 256-token windows of the stream."""
    import torch
    total_nll, total_n = 0.0, 0
    model.eval()
    with torch.no_grad():
        for s in range(0, len(held_ids), SEQ_LEN):
            w = held_ids[s:s + SEQ_LEN]
            if len(w) < 2:
                continue
            x = torch.tensor([w])
            logits = model(input_ids=x).logits.float()[0, :-1]
            nll = torch.nn.functional.cross_entropy(logits.double(), x[0, 1:], reduction="sum")
            total_nll += nll.item()
            total_n += len(w) - 1
    return math.exp(total_nll / total_n), total_n


def setup_torch(threads):
    import torch
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return torch


def train(args):
    torch = setup_torch(args.threads)
    from transformers import GenerationConfig, LlamaForCausalLM

    t_start = time.time()
    chapters = kjv_chapters()
    train_ch, held_ch = split(chapters)
    os.makedirs(args.out, exist_ok=True)
    tok = train_tokenizer(train_ch, args.out, args.vocab_size)
    train_ids, held_ids = encode_stream(tok, train_ch), encode_stream(tok, held_ch)
    print(f"chapters: {len(train_ch)} train, {len(held_ch)} held out; tokens: {len(train_ids)} train, "
          f"{len(held_ids)} held out", flush=True)

    # Packed windows of SEQ_LEN + 1 tokens stepping by SEQ_LEN (inputs and shifted labels).
    data = torch.tensor(train_ids, dtype=torch.long)
    n_win = (len(train_ids) - 1) // SEQ_LEN
    starts = torch.arange(n_win) * SEQ_LEN

    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(make_config(args.vocab_size))
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    warmup = max(1, int(args.steps * args.warmup_frac))

    def lr_at(step):  # linear warm-up, then cosine down to 10% of the peak
        if step < warmup:
            return args.lr * (step + 1) / warmup
        p = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    gen = torch.Generator().manual_seed(args.seed + 1)
    order, pos = torch.randperm(n_win, generator=gen), 0
    print(f"params: {n_params}; windows per epoch: {n_win}; steps: {args.steps} x batch {args.batch} x "
          f"{SEQ_LEN} = {args.steps * args.batch * SEQ_LEN} tokens ({args.steps * args.batch / n_win:.2f} "
          f"epochs); threads {torch.get_num_threads()}", flush=True)
    t_train = time.time()
    for step in range(args.steps):
        if pos + args.batch > n_win:
            order, pos = torch.randperm(n_win, generator=gen), 0
        idx = starts[order[pos:pos + args.batch]]
        pos += args.batch
        batch = torch.stack([data[s:s + SEQ_LEN + 1] for s in idx.tolist()])
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        out = model(input_ids=batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]),
                                                 batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.log_every == 0 or step == args.steps - 1:
            el = time.time() - t_train
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr_at(step):.2e}  "
                  f"{(step + 1) * args.batch * SEQ_LEN / el:.0f} tok/s  {el:.0f} s", flush=True)
        if args.stop_after is not None and step == args.stop_after:
            print(f"--stop-after {step}: loss {loss.item():.6f} (compare with the full run's log)")
            return
    train_s = time.time() - t_train
    tok_s = args.steps * args.batch * SEQ_LEN / train_s
    ppl_fp32, n_eval = held_out_perplexity(model, held_ids)
    print(f"held-out perplexity (fp32 weights as trained): {ppl_fp32:.4f} over {n_eval} tokens", flush=True)
    if args.measure:
        return

    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    model.save_pretrained(args.out)
    GenerationConfig(bos_token_id=1, eos_token_id=2, max_length=512).save_pretrained(args.out)
    ppl_bf16, _ = held_out_perplexity(LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32),
                                      held_ids)
    print(f"held-out perplexity (committed bf16 weights, computed in fp32): {ppl_bf16:.4f}", flush=True)
    info = {
        "command": " ".join(["python3"] + sys.argv),
        "seed": args.seed, "steps": args.steps, "batch": args.batch, "seq_len": SEQ_LEN, "lr": args.lr,
        "warmup_steps": warmup, "weight_decay": args.weight_decay, "threads": args.threads,
        "vocab_size": args.vocab_size, "params": n_params,
        "train_tokens": len(train_ids), "held_out_tokens": len(held_ids), "held_out_predicted": n_eval,
        "train_chapters": len(train_ch), "held_out_chapters": len(held_ch),
        "train_seconds": round(train_s, 1), "total_seconds": round(time.time() - t_start, 1),
        "train_tokens_per_s": round(tok_s, 1),
        "held_out_perplexity_fp32_weights": round(ppl_fp32, 4),
        "held_out_perplexity": round(ppl_bf16, 4),
        "final_loss": round(loss.item(), 4),
        "bible_kjv_text_version": debian_version("bible-kjv-text"),
        "bible_kjv_version": debian_version("bible-kjv"),
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "sentencepiece": __import__("sentencepiece").__version__,
        "machine": f"{platform.machine()} {cpu_name()} ({os.cpu_count()} cores), {platform.platform()}",
    }
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(json.dumps(info, indent=1), flush=True)
    write_manifest(args.out)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ------------------------------------------------------------------------------- manifest and verify

def write_manifest(d):
    """SHA256SUMS in `sha256sum` format over every file of the folder but itself (sorted by name)."""
    lines = []
    for name in sorted(os.listdir(d)):
        if name == MANIFEST or not os.path.isfile(os.path.join(d, name)):
            continue
        with open(os.path.join(d, name), "rb") as f:
            lines.append(f"{hashlib.sha256(f.read()).hexdigest()}  {name}\n")
    with open(os.path.join(d, MANIFEST), "w") as f:
        f.writelines(lines)


def check_manifest(d):
    bad = []
    for line in open(os.path.join(d, MANIFEST)):
        digest, name = line.rstrip("\n").split("  ", 1)
        with open(os.path.join(d, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                bad.append(name)
    return bad


def verify(args):
    torch = setup_torch(args.threads)
    from transformers import AutoTokenizer, LlamaForCausalLM
    d = args.verify
    bad = check_manifest(d)
    print(f"{MANIFEST}: {'OK' if not bad else 'MISMATCH in ' + ', '.join(bad)}")
    tok = AutoTokenizer.from_pretrained(d)
    _, held_ch = split(kjv_chapters())
    held_ids = encode_stream(tok, held_ch)
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32)
    ppl, n = held_out_perplexity(model, held_ids)
    stated = json.load(open(os.path.join(d, "training_log.json")))["held_out_perplexity"]
    rel = abs(ppl - stated) / stated
    print(f"held-out perplexity: {ppl:.6f} over {n} tokens (stated {stated}, relative difference {rel:.2e})")
    if bad or rel > 1e-3:
        sys.exit(1)


PROMPTS = ["In the beginning", "And the LORD said unto Moses,", "Blessed are the", "Jesus wept."]


def hf_samples(d, threads):
    """Greedy and seeded sampled continuations with HF transformers from the folder as committed."""
    torch = setup_torch(threads)
    from transformers import AutoTokenizer, LlamaForCausalLM
    tok = AutoTokenizer.from_pretrained(d)
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32)
    rows = []
    for prompt in PROMPTS:
        ids = tok(prompt, return_tensors="pt")
        g = model.generate(**ids, max_new_tokens=48, do_sample=False)
        rows.append(("greedy", prompt, tok.decode(g[0], skip_special_tokens=True)))
        torch.manual_seed(0)
        s = model.generate(**ids, max_new_tokens=48, do_sample=True, top_k=50, temperature=0.8)
        rows.append(("sampled (torch.manual_seed(0), top_k=50, temperature=0.8)", prompt,
                     tok.decode(s[0], skip_special_tokens=True)))
    return rows


def samples(args):
    for how, _, text in hf_samples(args.samples, args.threads):
        print(f"{how}:\n{text}\n")


CARD = """# kjv-llama-5m: jitgen's built-in demo model

A {params_m:.2f}M-parameter Llama ({layers} layers, hidden {hidden}, {heads} query heads and {kv_heads} KV heads
(grouped-query attention), SwiGLU MLP of {inter}, RoPE, RMSNorm, tied input/output embeddings, context
{ctx}) with an {vocab}-token SentencePiece BPE tokenizer with byte fallback, both trained from scratch by
`scripts/train_demo_model.py` on CPU on the King James Version of the Bible. It is small and trained for
minutes, so it writes KJV-flavoured English that drifts in meaning; it is a test and demo model, not a
source of scripture. There is no chat template: it saw nothing chat-like. It is jitgen's built-in default
model (`jitgen generate` without `--model`, `AutoModelForCausalLM.from_pretrained()` in Python), which checks
`SHA256SUMS` at load.

This folder is an unmodified Hugging Face folder as `save_pretrained` wrote it
(`LlamaForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` load it).
`SHA256SUMS` lists every other file's sha256 (`sha256sum -c SHA256SUMS`).

| file | what |
|---|---|
| config.json, generation_config.json | `LlamaConfig` (bf16), generation defaults: `bos_token_id` 1, `eos_token_id` 2 (`</s>`), `max_length` 512 |
| model.safetensors | bf16 weights ({weights_kb} KiB) |
| tokenizer.json, tokenizer_config.json | the tokenizer as transformers converted it (Metaspace, BPE with byte fallback, `<s>` prepended) |
| tokenizer.model | the SentencePiece model it was converted from |
| training_log.json | every number below, as the training run wrote it |

## Text, provenance, licence

- Text: the King James Version (the Authorized Version of 1611) from the Debian packages `bible-kjv-text` {text_version} (data) and `bible-kjv` {prog_version}
  (the `bible` program that prints it: `bible -l0 Gen1:1-Rev22:21`). Debian's copyright file states
  "The copyright for the King James Version text of the Bible is expired". The KJV is in the public domain
  in the United States and most countries; in the United Kingdom the right to print it is vested in the Crown
  and administered by Letters Patent (the "Crown patent", held by Cambridge University Press as Queen's/King's
  Printer), a perpetual prerogative right outside ordinary copyright.
- Documents: one per chapter ("Genesis 1", then one verse per line, verse numbers dropped), each
  `<s> text </s>`. Held out: every 20th chapter (chapter index i, counting from 0 over all 1189 chapters in
  canonical order, with i % 20 == 19): {held_ch} chapters, {held_tok} tokens ({held_pct:.1f}% of the
  tokens); the tokenizer and the model saw only the other {train_ch} chapters ({train_tok} tokens).
- Licence of the weights and tokenizer in this folder: CC0-1.0 (public domain dedication). No warranty.

## Training

    scripts/install-deps.sh --demo-model          # Debian bible-kjv + the PyPI oracle (torch, transformers, sentencepiece, protobuf)
    python3 scripts/train_demo_model.py --out models/kjv-llama-5m     # defaults: --steps {default_steps} --threads {default_threads}

The weights in this folder came from `{command}` (training_log.json records it){run_note}.

- Tokenizer: `sentencepiece` {spm_version} BPE, vocab {vocab}, byte fallback, split digits, identity
  normalisation, dummy prefix, whitespace kept, ids 0/1/2 = `<unk>`/`<s>`/`</s>`, one thread, no sampling or
  shuffling; converted to tokenizer.json by transformers {tf_version} (`LlamaTokenizer.from_pretrained` on
  the `.model`, `legacy=True`, `add_bos_token=True`).
- Model: transformers {tf_version} `LlamaForCausalLM`, torch {torch_version}, `torch.manual_seed({seed})`,
  data order from `torch.Generator().manual_seed({seed1})` over packed {seq}-token windows,
  `torch.use_deterministic_algorithms(True)`, `torch.set_num_threads({threads})`, fp32.
- AdamW (betas 0.9/0.95, weight decay {wd} on matrices), peak learning rate {lr}, linear warm-up
  {warmup} steps then cosine to 10%, gradient clipping 1.0; {steps} steps x batch {batch} x {seq} tokens =
  {seen} tokens ({epochs:.2f} epochs); final training loss {final_loss}.
- Wall time: {train_min:.1f} min of training, {total_min:.1f} min in all (tokenizer, encoding, evaluation,
  saving), {tok_s:.0f} training tokens/s, on {machine}. Load: {load}

## Held-out perplexity

**{ppl:.4f}** (the committed bf16 weights, evaluated in fp32; the fp32 weights at the end of training gave
{ppl32:.4f}). Definition: the held-out chapters, each `<s>` + ids + `</s>`, concatenated into one stream, cut
into consecutive non-overlapping {seq}-token windows (the last one shorter); exp of the mean next-token
cross-entropy over all {n_pred} predicted positions (a window's first token is not predicted).

    python3 scripts/train_demo_model.py --verify models/kjv-llama-5m    # checks SHA256SUMS, recomputes it with HF

Reproducibility: the run is meant to be a function of the seeds (fixed seeds and data order, deterministic
torch algorithms, a fixed thread count, single-threaded SentencePiece training without sampling). {repro}

## Samples (HF transformers {tf_version}, fp32, `max_new_tokens=48`)

{samples}
"""


def write_card(args):
    d = args.write_card
    info = json.load(open(os.path.join(d, "training_log.json")))
    cfg = json.load(open(os.path.join(d, "config.json")))
    rows = hf_samples(d, args.threads)
    samples_md = "\n".join(f"{how}, prompt `{prompt}`:\n\n" + "\n".join("    " + l for l in text.split("\n"))
                            + "\n" for how, prompt, text in rows)
    seen = info["steps"] * info["batch"] * info["seq_len"]
    card = CARD.format(
        params_m=info["params"] / 1e6, layers=cfg["num_hidden_layers"], hidden=cfg["hidden_size"],
        heads=cfg["num_attention_heads"], kv_heads=cfg["num_key_value_heads"], inter=cfg["intermediate_size"],
        ctx=cfg["max_position_embeddings"], vocab=cfg["vocab_size"],
        weights_kb=os.path.getsize(os.path.join(d, "model.safetensors")) // 1024,
        text_version=info["bible_kjv_text_version"], prog_version=info["bible_kjv_version"],
        held_ch=info["held_out_chapters"], train_ch=info["train_chapters"], held_tok=info["held_out_tokens"],
        train_tok=info["train_tokens"],
        held_pct=100 * info["held_out_tokens"] / (info["held_out_tokens"] + info["train_tokens"]),
        command=info["command"], spm_version=info["sentencepiece"], tf_version=info["transformers"],
        torch_version=info["torch"], seed=info["seed"], seed1=info["seed"] + 1, seq=info["seq_len"],
        threads=info["threads"], wd=info["weight_decay"], lr=info["lr"], warmup=info["warmup_steps"],
        steps=info["steps"], batch=info["batch"], seen=seen, epochs=seen / info["train_tokens"],
        final_loss=info["final_loss"], train_min=info["train_seconds"] / 60, total_min=info["total_seconds"] / 60,
        tok_s=info["train_tokens_per_s"], machine=info["machine"], load=args.card_load, repro=args.card_repro,
        default_steps=DEFAULT_STEPS, default_threads=DEFAULT_THREADS, run_note=args.card_run_note,
        ppl=info["held_out_perplexity"],
        ppl32=info["held_out_perplexity_fp32_weights"], n_pred=info["held_out_predicted"], samples=samples_md)
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(card)
    write_manifest(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/kjv-llama-5m")
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup-frac", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--measure", action="store_true", help="train --steps (default 5) into a temp folder, "
                    "print tokens/s, write nothing")
    ap.add_argument("--stop-after", type=int, metavar="STEP", help="train on the full schedule but stop "
                    "after STEP, writing nothing (a cheap determinism check against a full run's log)")
    ap.add_argument("--write-card", metavar="DIR", help="rewrite DIR/README.md from DIR/training_log.json "
                    "with fresh HF samples, then DIR/SHA256SUMS")
    ap.add_argument("--card-load", default="not recorded", help="--write-card: the machine's load during "
                    "the training run, in words")
    ap.add_argument("--card-repro", default="", help="--write-card: what was checked of reproducibility")
    ap.add_argument("--card-run-note", default="", help="--write-card: text after the recorded command (how it "
                    "was run, e.g. its nice level)")
    ap.add_argument("--verify", metavar="DIR", help="check SHA256SUMS and recompute the held-out perplexity")
    ap.add_argument("--samples", metavar="DIR", help="print greedy and sampled HF continuations")
    ap.add_argument("--write-manifest", metavar="DIR", help="rewrite DIR/SHA256SUMS")
    args = ap.parse_args()
    if args.verify:
        return verify(args)
    if args.samples:
        return samples(args)
    if args.write_card:
        return write_card(args)
    if args.write_manifest:
        return write_manifest(args.write_manifest)
    if args.measure or args.stop_after is not None:
        args.measure = True
        with tempfile.TemporaryDirectory() as tmp:
            args.out = tmp
            return train(args)
    return train(args)


if __name__ == "__main__":
    main()
