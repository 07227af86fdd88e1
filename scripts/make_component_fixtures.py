#!/usr/bin/env python3
"""HF goldens for tokenizer.json components that no family fixture uses, on small pipelines built with HF
`tokenizers` -> tests/fixtures/tokenizers/components.json.

One BPE model (trained here with tokenizers' BpeTrainer on KJV text, unk_token "<unk>", plus two special
added tokens) is combined with one normalizer / pre-tokenizer / decoder variant at a time: every Split
behavior (removed, isolated, merged_with_previous, merged_with_next, contiguous) and invert, Punctuation,
Digits (individual or not), Whitespace, WhitespaceSplit, the Replace / Strip / Prepend / Lowercase
normalizers and the Replace / Strip / Fuse decoders. A WordPiece model (BertNormalizer,
BertPreTokenizer, WordPiece decoder, [CLS] $A [SEP]) and a WordLevel model (Lowercase, WhitespaceSplit, no
decoder) are trained too. For each variant and text of the family corpus (make_tokenizer_fixtures.family_texts,
every 7th one; case i is texts[i]): tokenizers.Tokenizer ids with and without special tokens, decode with and without
skip_special_tokens. The raw `tokenizers.Tokenizer` is the oracle here (no tokenizer_config.json).

Run:  python3 scripts/make_component_fixtures.py
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_tokenizer_fixtures import OUT_ROOT, corpus_lines, family_texts  # noqa: E402

SPECIALS = ["<s>", "</s>"]


def train_bpe(lines):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>"] + SPECIALS,
                                                       show_progress=False))
    return json.loads(tok.to_str())


def variants():
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers
    from tokenizers.pre_tokenizers import Split
    ws = pre_tokenizers.WhitespaceSplit()
    seq = pre_tokenizers.Sequence
    v = {
        "split_removed": dict(pre=Split(Regex(r"\s+"), "removed")),
        "split_isolated_string": dict(pre=Split(" ", "isolated")),
        "split_merged_with_previous": dict(pre=Split(" ", "merged_with_previous")),
        "split_merged_with_next": dict(pre=seq([ws, Split(Regex(r"[,.;:!?]"), "merged_with_next")])),
        "split_contiguous": dict(pre=seq([ws, Split(Regex(r"[aeiou]"), "contiguous")])),
        "split_isolated_invert": dict(pre=Split(Regex(r"\w+"), "isolated", invert=True)),
        "split_removed_invert": dict(pre=Split(Regex(r"\p{L}+"), "removed", invert=True)),
        "split_merged_with_next_invert": dict(pre=Split(Regex(r"\s+"), "merged_with_next", invert=True)),
        "punctuation_isolated": dict(pre=seq([ws, pre_tokenizers.Punctuation()])),
        "punctuation_contiguous": dict(pre=seq([ws, pre_tokenizers.Punctuation("contiguous")])),
        "punctuation_merged_with_previous": dict(pre=seq([ws, pre_tokenizers.Punctuation("merged_with_previous")])),
        "digits_individual": dict(pre=seq([ws, pre_tokenizers.Digits(individual_digits=True)])),
        "digits_grouped": dict(pre=seq([ws, pre_tokenizers.Digits(individual_digits=False)])),
        "whitespace": dict(pre=pre_tokenizers.Whitespace()),
        "whitespace_split": dict(pre=ws),
        "normalizers_replace_strip_prepend": dict(
            norm=normalizers.Sequence([normalizers.Strip(left=True, right=True),
                                       normalizers.Replace(Regex(r"\s+"), " "), normalizers.Replace("LORD", "Lord"),
                                       normalizers.Prepend("_"), normalizers.Lowercase()]),
            pre=ws),
        "normalizer_strip_left": dict(norm=normalizers.Strip(left=True, right=False), pre=ws),
        "decoders_replace_strip_fuse": dict(
            pre=ws,
            dec=decoders.Sequence([decoders.Replace("e", "E"), decoders.Strip(content="t", left=1, right=0),
                                   decoders.Fuse(), decoders.Strip(content=" ", left=1, right=0)])),
        # tokenizers 0.23's Strip panics on a token that is empty before its right strip (strip.rs:47): only
        # right strips of whole vocabulary tokens here.
        "decoder_strip_right": dict(pre=ws, dec=decoders.Strip(content="s", left=0, right=1)),
        "decoder_replace_regex": dict(pre=pre_tokenizers.Whitespace(), dec=decoders.Replace(Regex(r"[aeiou]+"), "*")),
    }
    return v


def build_variant(base, variant):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(json.dumps(base))
    tok.normalizer = variant.get("norm")
    tok.pre_tokenizer = variant.get("pre")
    tok.decoder = variant.get("dec")
    return tok


def cases(tok, texts):
    out = []
    for t in texts:
        ids = tok.encode(t).ids
        plain = tok.encode(t, add_special_tokens=False).ids
        rec = {"ids": ids}
        # Stored only where they differ: decode from text, decode_skip from decode, ids_plain from ids.
        full, skip = tok.decode(ids, skip_special_tokens=False), tok.decode(ids, skip_special_tokens=True)
        if full != t:
            rec["decode"] = full
        if skip != full:
            rec["decode_skip"] = skip
        if plain != ids:
            rec["ids_plain"] = plain
        out.append(rec)
    return out


def word_models(lines):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers, decoders
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=20))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=500, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                            show_progress=False))
    wp.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[
        ("[CLS]", wp.token_to_id("[CLS]")), ("[SEP]", wp.token_to_id("[SEP]"))])
    wp.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    wl = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    wl.normalizer = normalizers.Lowercase()
    wl.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    wl.train_from_iterator(lines, trainers.WordLevelTrainer(vocab_size=600, special_tokens=["[UNK]"], show_progress=False))
    return {"wordpiece": wp, "wordlevel": wl}


def main():
    import tokenizers
    lines = corpus_lines()[:4000]
    texts = family_texts(SPECIALS, seed=7)[::7]
    # BertNormalizer's clean_text: format (Cf), private-use and control chars go, unassigned ones stay.
    texts += ["a\u0378b", "a\u200bb\u00adc\u180ed", "x\ue000y\U000e0001z", "\u0600q \u2028r"]
    base = train_bpe(lines)
    base["added_tokens"] = [dict(a, special=True) for a in base["added_tokens"]]
    out = {"generated_by": "scripts/make_component_fixtures.py", "versions": {"tokenizers": tokenizers.__version__},
           "texts": texts, "base": {k: base[k] for k in ("model", "added_tokens")}, "variants": []}
    for name, v in variants().items():
        tok = build_variant(base, v)
        doc = json.loads(tok.to_str())
        comp = {k: doc[k] for k in ("normalizer", "pre_tokenizer", "decoder")}
        out["variants"].append({"name": name, "components": comp, "cases": cases(tok, texts)})
    for name, tok in word_models(lines).items():
        out["variants"].append({"name": name, "tokenizer": json.loads(tok.to_str()), "cases": cases(tok, texts)})
    path = os.path.join(OUT_ROOT, "components.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(out['variants'])} variants x {len(texts)} texts, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
