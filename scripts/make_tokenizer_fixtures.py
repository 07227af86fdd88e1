#!/usr/bin/env python3
"""Tokenizer families, made with the oracle libraries' own trainers / converters, and their HF goldens.

Real tokenizer files cannot be downloaded here, so each family's tokenizer is trained deterministically
(one thread, fixed options) on public-domain text: the King James Bible from Debian's bible-kjv-text,
printed by the `bible` program of the bible-kjv package (scripts/install-deps.sh --oracle installs both).
Vocabularies are small (1-2k) so the committed fixtures stay small.

  llama2_legacy / llama2   SentencePiece BPE with byte fallback (sentencepiece trainer), converted by
                           transformers' LlamaConverter with legacy=True / legacy=False
  llama3 / qwen2           byte-level BPE (tokenizers BpeTrainer) with those families' Split regex, NFC,
                           ignore_merges, a TemplateProcessing adding BOS
  smollm                   byte-level BPE with Digits(individual_digits=True)
  t5                       SentencePiece Unigram converted by transformers' T5Converter (Precompiled
                           normalizer, Metaspace, TemplateProcessing adding </s>)
  (GPT-2: the real files, goldens in scripts/goldens_tokenizer.py)
  cls_*                    folders whose tokenizer.json and tokenizer_class disagree, as hub folders saved by
                           transformers 4.x do (class_folders below): AutoTokenizer rebuilds the pipeline for
                           LlamaTokenizer (legacy true / false / absent, add_prefix_space false), GemmaTokenizer,
                           Qwen2Tokenizer (also picked by config.json's model_type), GPT2Tokenizer,
                           GPTNeoXTokenizer and T5Tokenizer, and takes PreTrainedTokenizerFast (and LlamaTokenizer
                           over a byte-level file) as is
  kjv-llama-5m.goldens.json  the same goldens for the built-in default model's folder, models/kjv-llama-5m

Each family is written to tests/fixtures/tokenizers/<name>/ as an HF folder (tokenizer.json +
tokenizer_config.json) plus goldens.json from transformers 5 (AutoTokenizer on the folder, i.e.
TokenizersBackend over Rust tokenizers): ids with and without special tokens for >= 500 texts, decodes
with and without skip_special_tokens, and padded / truncated batches. The script also asserts that the raw
`tokenizers.Tokenizer.from_file` gives the same ids (the config adds nothing unexpected).

Run:  python3 scripts/make_tokenizer_fixtures.py            (regenerate the fixtures)
      python3 scripts/make_tokenizer_fixtures.py --compare  (regenerate in a temp dir and run jitgen's
                                                              family test against HF live)
      add --classes-only for just the cls_* folders
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
OUT_ROOT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def corpus_lines():
    books = ["Genesis 1:1-50:26", "Exodus 1:1-40:38", "Psalms 1:1-150:6", "Proverbs 1:1-31:31",
             "Matthew 1:1-28:20", "John 1:1-21:25", "Acts 1:1-28:31", "Revelation 1:1-22:21"]
    out = subprocess.run(["bible", "-l100000"] + books, check=True, capture_output=True, text=True).stdout
    lines = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        head, _, rest = line.partition(" ")
        if head.isdigit() and rest:  # "  1 In the beginning ..." (chapter headings are skipped)
            lines.append(rest.strip())
    assert len(lines) > 5000, len(lines)
    return lines


# ------------------------------------------------------------------------------------------ trainers
def train_spm(lines, work, model_type, vocab_size, **extra):
    import sentencepiece as spm
    prefix = os.path.join(work, model_type)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, model_type=model_type, vocab_size=vocab_size,
        num_threads=1, character_coverage=1.0, minloglevel=2, **extra)
    return prefix + ".model"


class SlowShim:
    """What transformers' SpmConverter reads from a slow tokenizer: the .model path and a few fields."""

    def __init__(self, model_file, legacy=True, extra_ids=0):
        import sentencepiece as spm
        self.vocab_file = model_file
        self.legacy = legacy
        self.add_prefix_space = True
        self._extra_ids = extra_ids
        self.sp = spm.SentencePieceProcessor(model_file=model_file)

    def convert_ids_to_tokens(self, i):
        return self.sp.id_to_piece(i)

    def convert_tokens_to_ids(self, t):
        return self.sp.piece_to_id(t)


class ScoreRankedExtractor:
    """transformers 5.24's LlamaConverter calls SpmExtractor(path).extract(vocab_scores), which its
    SentencePieceExtractor no longer accepts; this is what that call did in transformers 4 (merges ranked by
    the merged piece's score, via transformers' own generate_merges)."""

    def __init__(self, model_file):
        pass

    def extract(self, vocab_scores):
        from transformers.tokenization_utils_base import generate_merges
        vocab = {w: i for i, (w, _) in enumerate(vocab_scores)}
        return vocab, generate_merges(vocab, vocab_scores)


def make_llama2(lines, work, legacy):
    from transformers.convert_slow_tokenizer import LlamaConverter

    class Converter(LlamaConverter):
        SpmExtractor = ScoreRankedExtractor
    model = os.path.join(work, "bpe.model")
    if not os.path.exists(model):
        model = train_spm(lines, work, "bpe", 1200, byte_fallback=True, split_digits=True,
                          allow_whitespace_only_pieces=True, remove_extra_whitespaces=False,
                          normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2,
                          user_defined_symbols=["<tool>"])
    tok = Converter(SlowShim(model, legacy=legacy)).converted()
    from tokenizers import AddedToken, processors
    tok.add_special_tokens([AddedToken("<unk>", special=True, normalized=False),
                            AddedToken("<s>", special=True, normalized=False),
                            AddedToken("</s>", special=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    tok.add_tokens([AddedToken("<pad>", special=True, normalized=False),
                    AddedToken("[INST]", special=True, normalized=False, lstrip=True, rstrip=True),
                    AddedToken("goodbye", special=False, normalized=True, single_word=True)])
    config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
              "add_bos_token": True, "add_eos_token": False, "legacy": legacy,
              "clean_up_tokenization_spaces": False, "model_max_length": 4096,
              "chat_template": "{% for m in messages %}[INST] {{ m['content'] }} {% endfor %}"}
    return tok, config, ["<s>", "</s>", "<pad>", "[INST]", "<unk>", "goodbye", "<tool>"]


def make_byte_level(lines, pattern, bos, eos, digits=False, ignore_merges=True, nfc=True):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    if digits:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = [bos, eos, "<|pad|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer=trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    config = {"bos_token": bos, "eos_token": eos, "pad_token": "<|pad|>", "clean_up_tokenization_spaces": False,
              "model_max_length": 8192}
    return tok, config, specials


def make_t5(lines, work):
    from transformers.convert_slow_tokenizer import T5Converter
    model = train_spm(lines, work, "unigram", 1000, unk_id=2, bos_id=-1, eos_id=1, pad_id=0,
                      normalization_rule_name="nmt_nfkc")
    tok = T5Converter(SlowShim(model, extra_ids=3)).converted()
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ["<pad>", "</s>", "<unk>", "<extra_id_0>", "<extra_id_1>", "<extra_id_2>"]])
    config = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "clean_up_tokenization_spaces": True,
              "model_max_length": 512}
    return tok, config, ["</s>", "<pad>", "<extra_id_0>", "<unk>"]


# ------------------------------------------------------------------------------------------ texts
def family_texts(specials, seed):
    from goldens_tokenizer import build_texts
    # The foundation corpus without GPT-2's <|endoftext|> cases; long random mixtures are capped (size).
    base = [t for t in build_texts() if "<|endoftext|>" not in t and len(t) <= 90]
    rnd = random.Random(seed)
    T = list(base)
    T += ["   leading", "  two leading", " one", "trailing  ", "a  b   c    d", "     ", "\t\tx", "\n\n\n\nx",
          "x\n\n\n\n", "\t \t \n", "line\n\tindent\n\t\tdeeper", "\r\n\r\n", "▁", "▁▁", "a▁b", " ▁ ", "▁hello",
          "hello▁", "word ▁ word", "▁▁▁ three", "1234567890123456789012345", "3.141592653589793238",
          "year 1611 and 2024", "000000", "10,000,000,000", "٠١٢٣٤٥", "½⅓¼", "x²³", "Ⅷ",
          "unseen: ☃ ✈ 🦀 𝔘 ⌘ ∮ ℵ ǅ", "🦀🦀", "한국어 and Ελληνικά", "\u0301", "\U0001F9D1\u200D\U0001F680",
          "ﬀ ﬁ ﬂ", "Å Å", "ｆｕｌｌｗｉｄｔｈ", "é vs é", "TITLE CASE", "MiXeD", "The LORD said unto Moses",
          "And God said, Let there be light: and there was light.", "goodbye", "goodbye!", "saygoodbye",
          "goodbye world goodbye", "<tool>x</tool>", "<tool><tool>"]
    for s in specials:
        T += [s, s + s, f"a{s}b", f"Hello {s} world", f" {s}", f"{s} ", f"\n{s}\n", f"{s}text", f"  {s}  x",
              f"text{s}", s[:-1] if len(s) > 1 else s + "x"]
    pools = ["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  \t\n\r",
             ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`", "日本語中文한국어", "Ωπλ", "Жщы", "é\u0301ü", "😀👍🏽🎉",
             "\u00a0\u3000", "▁", "'s'T're'VE'm'll'D"]
    for i in range(70):
        parts = []
        for _ in range(rnd.randint(1, 16)):
            pool = rnd.choice(pools)
            parts.append("".join(rnd.choice(pool) for _ in range(rnd.randint(1, 5))))
        if rnd.random() < 0.15:
            parts.insert(rnd.randint(0, len(parts)), rnd.choice(specials))
        T.append("".join(parts))
    seen, out = set(), []
    for t in T:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


# ------------------------------------------------------------------------------------------ goldens
def goldens(folder, texts, specials, raw_check=True):
    """AutoTokenizer's ids / decodes / batches on `folder`. raw_check: assert that tokenizer.json loaded as is
    (tokenizers.Tokenizer.from_file) gives the same ids; otherwise (class_folders, where transformers rebuilds the
    pipeline) count the texts where it does not, as `differs_from_tokenizer_json`."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(folder)
    # A tokenizer.model folder (make_spm_fixtures.py) has no tokenizer.json to cross-check against.
    json_file = os.path.join(folder, "tokenizer.json")
    raw = Tokenizer.from_file(json_file) if os.path.exists(json_file) else None
    # What the post-processor adds around a text (checked below for every text): ids_plain is stored only
    # where it differs from ids without those.
    empty = hf("")["input_ids"]
    n_pre = 0
    while n_pre < len(empty) and empty[n_pre] == hf("x")["input_ids"][n_pre]:
        n_pre += 1
    n_post = len(empty) - n_pre
    enc = []
    differs = 0
    for t in texts:
        ids = hf(t)["input_ids"]
        plain = hf(t, add_special_tokens=False)["input_ids"]
        if raw is not None and raw_check:
            assert plain == raw.encode(t, add_special_tokens=False).ids, (folder, t)
            assert ids == raw.encode(t).ids, (folder, t)
        elif raw is not None:
            differs += ids != raw.encode(t).ids
        rec = {"text": t, "ids": ids}
        if ids[n_pre:len(ids) - n_post] != plain:
            rec["ids_plain"] = plain
        # decodes of ids, with and without skip_special_tokens (the second only when it differs)
        # (each stored only where it differs from the text)
        full = hf.decode(ids, skip_special_tokens=False)
        skip = hf.decode(ids, skip_special_tokens=True)
        if full != t:
            rec["decode"] = full
        if skip != t:
            rec["decode_skip"] = skip
        enc.append(rec)
    rnd = random.Random(11)
    dec = []
    special_ids = [hf.convert_tokens_to_ids(s) for s in specials]
    vocab_n = len(hf)
    for _ in range(80):
        ids = [rnd.randrange(vocab_n) for _ in range(rnd.randint(1, 12))]
        if rnd.random() < 0.3:
            ids.insert(rnd.randint(0, len(ids)), rnd.choice(special_ids))
        for skip in (False, True):
            dec.append({"ids": ids, "skip_special_tokens": skip, "text": hf.decode(ids, skip_special_tokens=skip)})
    specials_info = {k: getattr(hf, k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    ids_info = {k + "_id": getattr(hf, k + "_id") for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    if hf.pad_token is None:  # the folder names no pad token: pad with eos, as jitgen's encode_batch then does
        hf.pad_token = hf.eos_token
    batch_texts = [texts[10:13], [texts[3], texts[3]], ["", texts[100]], texts[300:304]]
    batch = []
    for tb in batch_texts:
        for side in ("left", "right"):
            for mult in (None, 8):
                for trunc in (None, (5, "right"), (8, "left")):
                    for add in (True, False):
                        if mult and trunc and trunc[0] % mult:
                            continue
                        hf.padding_side = side
                        kw = dict(padding=True, pad_to_multiple_of=mult, add_special_tokens=add)
                        if trunc:
                            hf.truncation_side = trunc[1]
                            kw.update(truncation=True, max_length=trunc[0])
                        out = hf(tb, **kw)
                        batch.append({"texts": tb, "padding_side": side, "pad_to_multiple_of": mult or 0,
                                      "max_length": trunc[0] if trunc else None,
                                      "truncation_side": trunc[1] if trunc else "right", "add_special_tokens": add,
                                      "input_ids": out["input_ids"], "attention_mask": out["attention_mask"]})
    hf.truncation_side = "right"
    extra = {} if raw_check else {"hf_class": type(hf).__name__, "differs_from_tokenizer_json": differs}
    return {**extra, "vocab_size": len(hf), "post_processor_prefix": n_pre, "post_processor_suffix": n_post, "special_tokens": specials_info, "special_ids": ids_info,
            "chat_template": hf.chat_template or "", "model_max_length": hf.model_max_length,
            "encode": enc, "decode": dec, "batch": batch}


def save_family(name, tok, config, specials, out_root, model_config=None, raw_check=True):
    """An HF folder: tokenizer.json (`tok`), tokenizer_config.json (`config`; tokenizer_class
    PreTrainedTokenizerFast unless it names one), config.json when `model_config` is given, and goldens.json."""
    import tokenizers
    import transformers
    folder = os.path.join(out_root, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    tok.save(os.path.join(folder, "tokenizer.json"), pretty=False)
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **config}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
    if model_config is not None:
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump(model_config, f, indent=1)
    texts = family_texts(specials, seed=len(name))
    assert len(texts) >= 500, (name, len(texts))
    g = goldens(folder, texts, specials, raw_check=raw_check)
    g["generated_by"] = "scripts/make_tokenizer_fixtures.py"
    g["versions"] = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
    with open(os.path.join(folder, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(g, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
    cls = f", {g['hf_class']}, {g['differs_from_tokenizer_json']} texts differ from tokenizer.json as is" if "hf_class" in g else ""
    print(f"{name}: {len(g['encode'])} texts, {len(g['decode'])} decodes, {len(g['batch'])} batches, {size} bytes{cls}")
    return g


# ------------------------------------------------------------------------------------------ class folders
# transformers 5 rebuilds the normalizer / pre-tokenizer / decoder (and model options) of tokenizer.json for a
# tokenizer_class with its own __init__, keeping the file's vocab / merges (docs/tokenizers.md). Real hub folders
# saved by transformers 4.x therefore hold a tokenizer.json their class does not reproduce; these folders are made
# that way, and their goldens are what AutoTokenizer gives (not the file as is).
def llama2_as_transformers4_saved(tok):
    """The Llama-2 layout transformers 4.x's LlamaConverter wrote (legacy): normalizer Prepend("▁") +
    Replace(" ", "▁"), no pre-tokenizer, decoder Replace / ByteFallback / Fuse / Strip, BPE unk_token <unk>."""
    from tokenizers import decoders, normalizers
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.model.unk_token = "<unk>"
    return tok


def added_tokens_decoder(tok):
    """tokenizer_config.json's added_tokens_decoder as transformers 4.x saved it."""
    return {str(i): {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized, "rstrip": t.rstrip,
                     "single_word": t.single_word, "special": t.special}
            for i, t in sorted(tok.get_added_tokens_decoder().items())}


def class_folders(lines, work):
    """(name, tokenizer, tokenizer_config, specials, config.json or None, loaded as is?) for each class folder."""
    llama, cfg, sp = make_llama2(lines, work, legacy=True)
    llama = llama2_as_transformers4_saved(llama)
    cfg = {k: v for k, v in cfg.items() if k != "legacy"}
    cfg4 = dict(cfg, added_tokens_decoder=added_tokens_decoder(llama))
    l3, l3cfg, l3sp = make_byte_level(lines, LLAMA3_PATTERN, "<|begin_of_text|>", "<|end_of_text|>")
    sm, smcfg, smsp = make_byte_level(lines, None, "<|endoftext|>", "<|endoftext|>", digits=True, ignore_merges=False,
                                      nfc=False)
    t5, t5cfg, t5sp = make_t5(lines, work)
    no_pad = {k: v for k, v in l3cfg.items() if k != "pad_token"}
    return [
        ("cls_llama_legacy", llama, dict(cfg4, tokenizer_class="LlamaTokenizer", legacy=True), sp, None, False),
        ("cls_llama_nonlegacy", llama, dict(cfg4, tokenizer_class="LlamaTokenizerFast", legacy=False), sp, None, False),
        # legacy absent (LlamaTokenizer's default: False); add_bos_token / add_eos_token, which transformers 5
        # drops when a tokenizer.json is present (the file's post-processor stays)
        ("cls_llama_nolegacy", llama, dict(cfg4, tokenizer_class="LlamaTokenizer", add_bos_token=False,
                                           add_eos_token=True), sp, None, False),
        ("cls_llama_noprefix", llama, dict(cfg4, tokenizer_class="LlamaTokenizer", legacy=True, add_prefix_space=False),
         sp, None, False),
        # GemmaTokenizer over the same file, no added_tokens_decoder (the file's added tokens); mask_token unnamed:
        # the class's default <mask> is added
        ("cls_gemma", llama, dict(cfg, tokenizer_class="GemmaTokenizer"), sp, None, False),
        # the class that takes the file as is
        ("cls_fast_asis", llama, dict(cfg4, tokenizer_class="PreTrainedTokenizerFast", legacy=False, add_bos_token=False),
         sp, None, True),
        # LlamaTokenizer over a byte-level tokenizer.json: AutoTokenizer loads TokenizersBackend (as is)
        ("cls_llama_bytelevel", l3, dict(l3cfg, tokenizer_class="LlamaTokenizer", legacy=False), l3sp, None, True),
        ("cls_qwen2", sm, dict(smcfg, tokenizer_class="Qwen2Tokenizer"), smsp, None, False),
        # config.json model_type qwen2 overrides the hub's class (MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS)
        ("cls_qwen2_modeltype", l3, dict(l3cfg, tokenizer_class="PreTrainedTokenizerFast", add_prefix_space=True), l3sp,
         {"model_type": "qwen2"}, False),
        ("cls_gpt2", sm, {k: v for k, v in dict(smcfg, tokenizer_class="GPT2Tokenizer", add_prefix_space=True).items()
                          if k not in ("bos_token", "eos_token")}, smsp, None, False),
        # GPTNeoXTokenizer: NFC + ByteLevel, its update_post_processor drops the file's BOS template; pad_token
        # unnamed: the class's default <|padding|> is added
        ("cls_neox", l3, dict(no_pad, tokenizer_class="GPTNeoXTokenizer"), l3sp, None, False),
        # T5Tokenizer: extra_ids absent (default 100), the file has 3
        ("cls_t5", t5, dict(t5cfg, tokenizer_class="T5Tokenizer"), t5sp, None, False),
    ]


DEFAULT_MODEL = os.path.join(ROOT, "models", "kjv-llama-5m")


def build_default_model_goldens(out_root):
    """The built-in default model's own folder (LlamaTokenizer over a tokenizer.json whose Metaspace says "always"
    where the class builds "first"): goldens only, as kjv-llama-5m.goldens.json (the folder is sha256-checked)."""
    import tokenizers
    import transformers
    specials = ["<s>", "</s>", "<unk>"]
    texts = family_texts(specials, seed=5)
    g = goldens(DEFAULT_MODEL, texts, specials, raw_check=False)
    assert g["hf_class"] == "LlamaTokenizer" and g["differs_from_tokenizer_json"] > 0, g["hf_class"]
    g["generated_by"] = "scripts/make_tokenizer_fixtures.py"
    g["versions"] = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
    with open(os.path.join(out_root, "kjv-llama-5m.goldens.json"), "w", encoding="utf-8") as f:
        json.dump(g, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"kjv-llama-5m: {len(g['encode'])} texts, {len(g['decode'])} decodes, {len(g['batch'])} batches, "
          f"{g['differs_from_tokenizer_json']} texts differ from tokenizer.json as is")


def build_class_resolution(out_root):
    """Which class AutoTokenizer.from_pretrained picks for combinations of tokenizer_config.json's tokenizer_class,
    config.json's tokenizer_class / model_type and whether tokenizer.json is byte-level: the classes'
    from_pretrained is replaced by one returning the class name, so nothing is built (tests/fixtures/tokenizers/
    class_resolution.json; src/tokenizer/hf_class_rules.cc resolve_hf_tokenizer_class must agree)."""
    import itertools
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase
    cfg_classes = [None, "LlamaTokenizer", "LlamaTokenizerFast", "PreTrainedTokenizerFast", "TokenizersBackend",
                   "Qwen2Tokenizer", "Qwen2TokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast", "GemmaTokenizer",
                   "T5Tokenizer", "GPTNeoXTokenizerFast", "BloomTokenizerFast", "CodeLlamaTokenizer", "BertTokenizer",
                   "ConvBertTokenizer", "NoSuchTokenizer", "PythonBackend"]
    model_types = [None, "llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "gemma3_text", "gpt2", "opt", "t5",
                   "gpt_neox", "bert", "olmo2"]
    cases = []
    saved = PreTrainedTokenizerBase.__dict__["from_pretrained"]
    PreTrainedTokenizerBase.from_pretrained = classmethod(lambda cls, *a, **k: cls.__name__)
    try:
        from transformers import AutoTokenizer
        with tempfile.TemporaryDirectory() as d:
            combos = list(itertools.product(cfg_classes, model_types, (False, True), (None,)))
            combos += [(None, mt, bl, cc) for mt in (None, "llama", "qwen2", "gpt2") for bl in (False, True)
                       for cc in ("LlamaTokenizerFast", "GPT2Tokenizer", "T5Tokenizer")]
            for cls, mt, byte_level, config_cls in combos:
                for f in os.listdir(d):
                    os.remove(os.path.join(d, f))
                pre = {"type": "ByteLevel"} if byte_level else {"type": "Metaspace"}
                with open(os.path.join(d, "tokenizer.json"), "w") as f:
                    json.dump({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": pre}, f)
                with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
                    json.dump({} if cls is None else {"tokenizer_class": cls}, f)
                if mt is not None or config_cls is not None:
                    with open(os.path.join(d, "config.json"), "w") as f:
                        json.dump({k: v for k, v in (("model_type", mt), ("tokenizer_class", config_cls)) if v}, f)
                got = AutoTokenizer.from_pretrained(d)
                cases.append({"tokenizer_class": cls or "", "config_tokenizer_class": config_cls or "",
                              "model_type": mt or "", "byte_level": byte_level, "class": got})
    finally:
        PreTrainedTokenizerBase.from_pretrained = saved
    with open(os.path.join(out_root, "class_resolution.json"), "w") as f:
        json.dump({"generated_by": "scripts/make_tokenizer_fixtures.py", "cases": cases}, f, indent=0)
    print(f"class_resolution.json: {len(cases)} cases, classes {sorted(set(c['class'] for c in cases))}")


def build_classes(out_root):
    lines = corpus_lines()
    with tempfile.TemporaryDirectory() as work:
        for name, tok, cfg, sp, model_config, as_is in class_folders(lines, work):
            g = save_family(name, tok, cfg, sp, out_root, model_config=model_config, raw_check=as_is)
            assert as_is or g["differs_from_tokenizer_json"] > 0, (name, "the class rebuilds nothing the texts see")
    build_default_model_goldens(out_root)
    build_class_resolution(out_root)


def build_all(out_root):
    lines = corpus_lines()
    with tempfile.TemporaryDirectory() as work:
        for legacy in (True, False):
            tok, cfg, sp = make_llama2(lines, work, legacy)
            save_family("llama2_legacy" if legacy else "llama2", tok, cfg, sp, out_root)
        tok, cfg, sp = make_byte_level(lines, LLAMA3_PATTERN, "<|begin_of_text|>", "<|end_of_text|>")
        save_family("llama3", tok, cfg, sp, out_root)
        tok, cfg, sp = make_byte_level(lines, QWEN2_PATTERN, "<|endoftext|>", "<|im_end|>")
        save_family("qwen2", tok, cfg, sp, out_root)
        tok, cfg, sp = make_byte_level(lines, None, "<|endoftext|>", "<|endoftext|>", digits=True, ignore_merges=False,
                                       nfc=False)
        save_family("smollm", tok, cfg, sp, out_root)
        tok, cfg, sp = make_t5(lines, work)
        save_family("t5", tok, cfg, sp, out_root)
    build_classes(out_root)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="store_true", help="regenerate into a temp dir and compare with jitgen")
    ap.add_argument("--classes-only", action="store_true", help="only the cls_* folders (tokenizer_class rules)")
    ap.add_argument("--jitgen", default=os.path.join(ROOT, "build", "tests", "tokenizer_family_test"))
    a = ap.parse_args()
    build = build_classes if a.classes_only else build_all
    if not a.compare:
        build(OUT_ROOT)
        return
    with tempfile.TemporaryDirectory() as out:
        build(out)
        env = dict(os.environ, JITGEN_TOKENIZER_FIXTURES=out)
        args = [a.jitgen] + (["--gtest_filter=*cls_*:*kjv*"] if a.classes_only else [])
        sys.exit(subprocess.call(args, env=env))


if __name__ == "__main__":
    main()
