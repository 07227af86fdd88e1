#!/usr/bin/env python3
"""SentencePiece-only folders (tokenizer.model + tokenizer_config.json, no tokenizer.json) and their HF goldens.

transformers 5.24 loads such a folder by converting the .model into a `tokenizers` pipeline chosen by
tokenizer_config.json's tokenizer_class (TokenizersBackend.convert_to_native_format ->
_convert_from_sentencepiece -> LlamaTokenizer / T5Tokenizer.__init__); that converted tokenizer is the oracle.
The .model files are trained here deterministically with the `sentencepiece` trainer on the KJV text (the
same corpus and options as make_tokenizer_fixtures.py):

  spm_llama          SentencePiece BPE, byte fallback, a user-defined <tool>; LlamaTokenizer, legacy false,
                     add_bos_token true
  spm_llama_legacy   the same .model; legacy true, add_bos_token and add_eos_token true
  spm_llama_noprefix the same .model; add_prefix_space false, no add_bos_token (transformers then adds nothing)
  spm_t5             SentencePiece Unigram with the nmt_nfkc charsmap; T5Tokenizer, extra_ids 3,
                     clean_up_tokenization_spaces true

Each goes to tests/fixtures/tokenizers/<name>/ with goldens.json in the same form as the tokenizer.json
families (tests/tokenizer_family_test.cc runs both).

Run:  python3 scripts/make_spm_fixtures.py            (regenerate)
      python3 scripts/make_spm_fixtures.py --compare  (regenerate in a temp dir and run jitgen's family test on it)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_tokenizer_fixtures import OUT_ROOT, corpus_lines, family_texts, goldens, train_spm  # noqa: E402

LLAMA_SPECIALS = ["<s>", "</s>", "<unk>", "<tool>"]
T5_SPECIALS = ["</s>", "<pad>", "<unk>", "<extra_id_0>", "<extra_id_2>"]


def train_models(work):
    lines = corpus_lines()
    bpe = train_spm(lines, work, "bpe", 1200, byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
                    remove_extra_whitespaces=False, normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2,
                    user_defined_symbols=["<tool>"])
    uni = train_spm(lines, work, "unigram", 1000, unk_id=2, bos_id=-1, eos_id=1, pad_id=0,
                    normalization_rule_name="nmt_nfkc")
    return bpe, uni


def families(bpe, uni):
    llama = {"tokenizer_class": "LlamaTokenizer", "pad_token": "<unk>", "model_max_length": 4096}
    return [
        ("spm_llama", bpe, dict(llama, legacy=False, add_bos_token=True), LLAMA_SPECIALS),
        ("spm_llama_legacy", bpe, dict(llama, legacy=True, add_bos_token=True, add_eos_token=True), LLAMA_SPECIALS),
        ("spm_llama_noprefix", bpe, dict(llama, add_prefix_space=False), LLAMA_SPECIALS),
        ("spm_t5", uni, {"tokenizer_class": "T5Tokenizer", "extra_ids": 3, "clean_up_tokenization_spaces": True,
                         "model_max_length": 512}, T5_SPECIALS),
    ]


def save(name, model, config, specials, out_root):
    import tokenizers
    import transformers
    folder = os.path.join(out_root, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    shutil.copyfile(model, os.path.join(folder, "tokenizer.model"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
    texts = family_texts(specials, seed=len(name))
    assert len(texts) >= 500, (name, len(texts))
    g = goldens(folder, texts, specials)
    g["generated_by"] = "scripts/make_spm_fixtures.py"
    g["versions"] = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
    with open(os.path.join(folder, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(g, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
    print(f"{name}: {len(g['encode'])} texts, {len(g['decode'])} decodes, {len(g['batch'])} batches, {size} bytes")


def build_all(out_root):
    with tempfile.TemporaryDirectory() as work:
        bpe, uni = train_models(work)
        for name, model, config, specials in families(bpe, uni):
            save(name, model, config, specials, out_root)


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
        sys.exit(subprocess.call([a.jitgen, "--gtest_filter=*spm*"], env=env))


if __name__ == "__main__":
    main()
