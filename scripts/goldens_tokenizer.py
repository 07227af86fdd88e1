#!/usr/bin/env python3
"""HF oracle for the GPT-2 byte-level BPE tokenizer -> tests/fixtures/tokenizer_goldens.json.

Two references are run on every text:
  * fast: transformers.GPT2Tokenizer built from third_party/gpt2-tokenizer/{vocab.json,merges.txt}.
    In transformers >= 5 this class is backed by the Rust `tokenizers` library (ByteLevel BPE, onig
    regex). Ids, decodes and batch encodings in the fixture come from here; jitgen matches these.
  * slow: the pure-Python GPT-2 algorithm (OpenAI encoder.py, which the transformers 4.x slow
    GPT2Tokenizer copied verbatim): the `regex` module pre-tokenizer, byte_encoder, rank-greedy BPE,
    and splitting on added tokens first. transformers 5 no longer ships the slow class, so it is
    re-implemented here (about 40 lines) to keep the slow/fast comparison.
Any slow/fast disagreement is recorded per text ("slow_ids") and in the top-level "disagreements".

Run: python3 scripts/goldens_tokenizer.py   (deterministic; needs transformers, tokenizers, regex)
"""
import json
import os
import random
import sys

import regex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOK_DIR = os.path.join(ROOT, "third_party", "gpt2-tokenizer")
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer_goldens.json")
EOT = "<|endoftext|>"


# ---------------------------------------------------------------- slow reference (encoder.py)
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class SlowGPT2:
    PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split()) for l in lines if l and not l.startswith("#version")]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            a, b = best
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for k, part in enumerate(text.split(EOT)):
            if k:
                ids.append(self.encoder[EOT])
            for tok in self.PAT.findall(part):
                t = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
                ids.extend(self.encoder[p] for p in self.bpe(t))
        return ids


# ---------------------------------------------------------------- deterministic texts
def build_texts():
    rnd = random.Random(20240611)
    T = []
    prose = [
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "It was the best of times, it was the worst of times.",
        "In 1905, Einstein published four papers.", "GPT-2 is a large transformer-based language model.",
        "", " ", "a", "A", "  leading spaces", "trailing spaces   ", "\n", "\n\n\n", "\t", "\r\n",
        "  ", "   x", "x   ", "x \n y", "line one\nline two\n", "para\n\n\npara", "tabs\tand\t\tmore",
        "windows\r\nline\r\nend\r\n", "mixed \t \n \r\n  end", "   \n   ", "trailing newline\n",
        "Mr. O'Neil's dog", "rock 'n' roll", "'quoted'", "\"double\"", "don't", "DON'T", "Don'T",
    ]
    T += prose
    # contractions in all cases, in and out of words
    for c in ["s", "t", "re", "ve", "m", "ll", "d"]:
        for form in [c, c.upper(), c.capitalize()]:
            T.append(f"it'{form}")
            T.append(f"He'{form} here'{form}")
            T.append(f"'{form}")
    T += ["I'm", "I'M", "we'LL", "you'Re", "they'VE", "she'D", "It'S", "x''s", "'' s", "’s curly", "l’ll"]
    # numbers
    T += ["0", "12", "123", "1234567890", "3.14159", "1,000,000", "-42", "+1e-10", "0x1F", "99 bottles",
          "2023-10-05T12:34:56Z", "١٢٣ arabic digits", "٣.١٤", "① ② ③", "½ ¾", "Ⅻ roman", "１２３ fullwidth",
          "phone: +1 (555) 123-4567", "v1.2.3-rc4", "$100.00", "€5", "50%"]
    # code
    T += [
        "def f(x):\n    return x ** 2\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
        "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); }",
        "if x == 1 and y != 2:\n        pass",
        "    indented\n        more\n    back",
        "SELECT * FROM t WHERE a='b';", "<div class=\"x\">text</div>", "{\"key\": [1, 2, 3]}",
        "x=>x*2;;;", "a->b::c", "/* comment */ // other", "path/to/file_name.py", "snake_case_name CamelCase",
        "__init__", "!!!???...", "---===+++", "@user #hashtag", "https://example.com/a?b=c&d=e",
    ]
    # Unicode scripts
    T += [
        "日本語のテキスト", "中文文本，标点。", "한국어 텍스트", "Ελληνικά κείμενα", "Русский текст",
        "עברית טקסט", "שלום עולם!", "مرحبا بالعالم", "العربية: ١٢٣", "हिन्दी पाठ", "ภาษาไทย", "ქართული",
        "Tiếng Việt có dấu", "Ñandú café naïve résumé", "Straße groß", "ﬁ ligature", "İstanbul ıi",
        "ⓐⓑⓒ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝐁𝐨𝐥𝐝", "Ꭰ Cherokee", "ᚠᚢᚦ runes", "ꦗꦮ javanese", "𓀀 hieroglyph",
    ]
    # combining marks
    T += ["e\u0301", "cafe\u0301 ", "a\u0300\u0301\u0302", " \u0301", "\u0301\u0301", "Z\u0351\u0352\u0353algo",
          "n\u0303o", "x\u20dd", "\u0915\u094d\u0937"]
    # emoji
    T += ["😀", " 😀", "😀😀😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "🇺🇸🇯🇵", "❤️", "1️⃣",
          "text 🎉 more 🎉", "🤷🏻‍♀️", "☃", "✈︎ vs ✈️"]
    # special token inside text
    T += [EOT, EOT + EOT, "a" + EOT + "b", "Hello " + EOT + " world", "\n" + EOT + "\n", " " + EOT,
          EOT + " ", "<|endoftext|", "<|endoftext|>>", "<<|endoftext|>", "<|endoftext |>", "<|ENDOFTEXT|>",
          "end." + EOT + "Start", "  " + EOT + "  "]
    # unusual spaces and control characters
    spaces = ["\u00a0", "\u1680", "\u2000", "\u2002", "\u2007", "\u2009", "\u200a", "\u2028", "\u2029",
              "\u202f", "\u205f", "\u3000", "\u0085", "\u180e", "\u200b", "\u200c", "\u200d", "\ufeff",
              "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f"]
    for s in spaces:
        T.append(f"a{s}b")
        T.append(f"a {s}b")
        T.append(f"a{s}{s} b")
        T.append(f"end{s}")
    for c in list(range(0, 32)) + [127, 0x80, 0x9f]:
        T.append(f"x{chr(c)}y")
    T += ["\x00\x00", "\x07bell", "tab\x08back", "\x1b[31mred\x1b[0m", "\ufffd", "a\ufffdb", "\U0010ffff",
          "\ue000 private", "\uffff"]
    # random mixtures
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789", " ", "  \t\n\r", ".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`",
        "日本語中文한국어", "Ωπλ", "Жщы", "עבר", "عرب", "é\u0301ü", "😀👍🏽🎉", "\u00a0\u3000\u2028",
        "'s'T're'VE'm'll'D",
    ]
    for i in range(200):
        n = rnd.randint(1, 60)
        parts = []
        for _ in range(n):
            pool = rnd.choice(pools)
            parts.append("".join(rnd.choice(pool) for _ in range(rnd.randint(1, 4))))
        if rnd.random() < 0.08:
            parts.insert(rnd.randint(0, len(parts)), EOT)
        T.append("".join(parts))
    # long words (BPE depth) and repetition
    T += ["a" * 200, "ab" * 100, " " * 50 + "x", "x" + " " * 50, "antidisestablishmentarianism" * 3,
          "supercalifragilisticexpialidocious", "Pneumonoultramicroscopicsilicovolcanoconiosis"]
    seen, out = set(), []
    for t in T:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def main():
    from transformers import GPT2Tokenizer
    vocab = os.path.join(TOK_DIR, "vocab.json")
    merges = os.path.join(TOK_DIR, "merges.txt")
    # transformers 5: from_pretrained on the folder (the vocab_file= constructor yields an empty vocab).
    fast = GPT2Tokenizer.from_pretrained(TOK_DIR)
    assert len(fast) == 50257
    backend = fast.backend_tokenizer  # tokenizers.Tokenizer
    slow = SlowGPT2(vocab, merges)
    texts = build_texts()

    enc, disagreements = [], []
    for t in texts:
        ids = backend.encode(t, add_special_tokens=False).ids
        assert ids == fast(t, add_special_tokens=False)["input_ids"]
        rec = {"text": t, "ids": ids}
        sids = slow.encode(t)
        if sids != ids:
            rec["slow_ids"] = sids
            disagreements.append({"text": t, "fast": ids, "slow": sids})
        enc.append(rec)

    # decode goldens: whole encodings, slices that cut multi-byte characters, raw byte tokens
    rnd = random.Random(7)
    inv = {v: k for k, v in slow.encoder.items()}
    byte_dec = {v: k for k, v in bytes_to_unicode().items()}

    def py_decode(ids, skip):
        bs = b"".join(bytes(byte_dec[c] for c in inv[i]) for i in ids if not (skip and i == slow.encoder[EOT]))
        return bs.decode("utf-8", errors="replace")

    dec_cases = []
    for rec in enc:
        if any(ord(c) > 127 for c in rec["text"]) or EOT in rec["text"]:
            dec_cases.append(rec["ids"])
            if len(rec["ids"]) > 2:
                a = rnd.randint(0, len(rec["ids"]) - 1)
                b = rnd.randint(a + 1, len(rec["ids"]))
                dec_cases.append(rec["ids"][a:b])
    byte_tok = [slow.encoder[bytes_to_unicode()[b]] for b in range(256)]
    # hand-made invalid sequences: truncated 2/3/4-byte chars, overlong, surrogates, > U+10FFFF, stray
    raw = [b"\xe2\x82", b"\xe2\x82A", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80", b"\xc0\xaf", b"\xed\xa0\x80",
           b"\xf4\x90\x80\x80", b"\x80\x80", b"\xff\xfe", b"a\xc3", b"\xc3\x28", b"\xe0\x80\x80", b"\xf5\x80",
           b"\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", b"\xf8\x88\x80\x80\x80", b"\xef\xbb\xbf"]
    for r in raw:
        dec_cases.append([byte_tok[b] for b in r])
    for _ in range(40):
        dec_cases.append([byte_tok[rnd.randrange(256)] for _ in range(rnd.randint(1, 12))])
    dec = []
    for ids in dec_cases:
        for skip in (False, True):
            s = backend.decode(ids, skip_special_tokens=skip)
            assert s == py_decode(ids, skip), (ids, skip)
            dec.append({"ids": ids, "skip_special_tokens": skip, "text": s})

    # batch goldens through the transformers __call__
    fast.pad_token = EOT
    batch_texts = [
        ["Hello world", "A much longer sentence that has many more tokens in it than the first", "x"],
        ["one", "two three", "four five six seven eight nine ten eleven twelve", EOT + " a", "日本語😀"],
        ["same length", "same length"],
        ["", "non-empty"],
    ]
    batch = []
    for texts_b in batch_texts:
        for side in ("left", "right"):
            for mult in (None, 8):
                for trunc in (None, (5, "right"), (5, "left"), (8, "right"), (16, "left")):
                    if mult and trunc and trunc[0] % mult:
                        continue  # HF raises: truncation length must be a multiple of pad_to_multiple_of
                    fast.padding_side = side
                    kw = dict(padding=True, pad_to_multiple_of=mult, add_special_tokens=False)
                    if trunc:
                        fast.truncation_side = trunc[1]
                        kw.update(truncation=True, max_length=trunc[0])
                    out = fast(texts_b, **kw)
                    batch.append({
                        "texts": texts_b, "padding_side": side, "pad_to_multiple_of": mult or 0,
                        "max_length": trunc[0] if trunc else None,
                        "truncation_side": trunc[1] if trunc else "right",
                        "pad_token_id": fast.pad_token_id,
                        "input_ids": out["input_ids"], "attention_mask": out["attention_mask"],
                    })
    fast.truncation_side = "right"

    import tokenizers
    import transformers
    doc = {
        "generated_by": "scripts/goldens_tokenizer.py",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "regex": regex.__version__, "python": sys.version.split()[0]},
        "note": ("ids = fast tokenizer (transformers GPT2Tokenizer on Rust tokenizers); slow_ids present only "
                 "where the pure-Python GPT-2 algorithm (regex module) disagrees; jitgen matches the fast ids."),
        "disagreements": disagreements,
        "encode": enc,
        "decode": dec,
        "batch": batch,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    print(f"{len(enc)} texts, {len(dec)} decodes, {len(batch)} batches, {len(disagreements)} slow/fast "
          f"disagreements, {os.path.getsize(OUT)} bytes -> {OUT}")
    for d in disagreements:
        print("DISAGREE", repr(d["text"]), d["fast"], d["slow"])


if __name__ == "__main__":
    main()
