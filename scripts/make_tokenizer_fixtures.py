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

Each family is written to tests/fixtures/tokenizers/<name>/ as an HF folder (tokenizer.json +
tokenizer_config.json) plus goldens.json from transformers 5 (AutoTokenizer on the folder, i.e.
TokenizersBackend over Rust tokenizers): ids with and without special tokens for >= 500 texts, decodes
with and without skip_special_tokens, and padded / truncated batches. The script also asserts that the raw
`tokenizers.Tokenizer.from_file` gives the same ids (the config adds nothing unexpected).

Run:  python3 scripts/make_tokenizer_fixtures.py            (regenerate the fixtures)
      python3 scripts/make_tokenizer_fixtures.py --compare  (regenerate in a temp dir and run jitgen's
                                                              `tokenize` CLI against HF live)
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
def goldens(folder, texts, specials):
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
    for t in texts:
        ids = hf(t)["input_ids"]
        plain = hf(t, add_special_tokens=False)["input_ids"]
        if raw is not None:
            assert plain == raw.encode(t, add_special_tokens=False).ids, (folder, t)
            assert ids == raw.encode(t).ids, (folder, t)
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
    specials_info = {k: getattr(hf, k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    ids_info = {k + "_id": getattr(hf, k + "_id") for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    return {"vocab_size": len(hf), "post_processor_prefix": n_pre, "post_processor_suffix": n_post, "special_tokens": specials_info, "special_ids": ids_info,
            "chat_template": hf.chat_template or "", "model_max_length": hf.model_max_length,
            "encode": enc, "decode": dec, "batch": batch}


def save_family(name, tok, config, specials, out_root):
    import tokenizers
    import transformers
    folder = os.path.join(out_root, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    tok.save(os.path.join(folder, "tokenizer.json"), pretty=False)
    config = dict(config, tokenizer_class="PreTrainedTokenizerFast")
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
    texts = family_texts(specials, seed=hash(name) % 1000 if False else len(name))
    assert len(texts) >= 500, (name, len(texts))
    g = goldens(folder, texts, specials)
    g["generated_by"] = "scripts/make_tokenizer_fixtures.py"
    g["versions"] = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
    with open(os.path.join(folder, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(g, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
    print(f"{name}: {len(g['encode'])} texts, {len(g['decode'])} decodes, {len(g['batch'])} batches, {size} bytes")


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="store_true", help="regenerate into a temp dir and compare with jitgen")
    ap.add_argument("--jitgen", default=os.path.join(ROOT, "build", "tests", "tokenizer_family_test"))
    a = ap.parse_args()
    if not a.compare:
        build_all(OUT_ROOT)
        return
    with tempfile.TemporaryDirectory() as out:
        build_all(out)
        env = dict(os.environ, JITGEN_TOKENIZER_FIXTURES=out)
        sys.exit(subprocess.call([a.jitgen], env=env))


if __name__ == "__main__":
    main()
