"""jitgen: Hugging Face ``generate()``, token for token, from a compiled C++ engine (GPT-2 family, CPU).

The API mirrors transformers, so switching is an import-line change::

    from jitgen import AutoTokenizer, AutoModelForCausalLM

    tokenizer = AutoTokenizer.from_pretrained("path/to/gpt2", padding_side="left", pad_token="</s>")
    model = AutoModelForCausalLM.from_pretrained("path/to/gpt2")            # mode="compiled" (default) or "eager"
    inputs = tokenizer(["TensorFlow is"], return_tensors="np", padding=True, pad_to_multiple_of=8)
    out = model.generate(**inputs, max_new_tokens=20, do_sample=False)       # numpy int64 [rows, T + new]
    print(tokenizer.batch_decode(out, skip_special_tokens=True))

Every HF generation option is accepted under its HF name and resolved exactly as the ``jitgen generate`` CLI does
(library defaults <- the folder's generation_config.json <- model.generation_config <- keyword arguments), then
validated; errors raise :class:`JitgenError` (a ``ValueError``) with the engine's one-line message. Generation
releases the GIL, and one model may generate from several threads at once.
"""
from __future__ import annotations

import json
import os
import queue
import sys
import threading
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _jitgen
from ._jitgen import JitgenError

__version__ = "0.1.0"
__all__ = [
    "AutoTokenizer",
    "AutoModelForCausalLM",
    "TFAutoModelForCausalLM",
    "GPT2LMHeadModel",
    "GPT2Tokenizer",
    "GPT2TokenizerFast",
    "PreTrainedTokenizer",
    "PreTrainedModel",
    "BatchEncoding",
    "GenerationConfig",
    "GenerateDecoderOnlyOutput",
    "GenerateBeamDecoderOnlyOutput",
    "ModelOutput",
    "TextStreamer",
    "TextIteratorStreamer",
    "JitgenError",
    "make_random_model",
    "set_seed",
    "BUILTIN_MODEL",
    "BUILTIN_MODEL_DIR",
]

_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_GPT2_TOKENIZER_DIR = os.path.join(_DATA_DIR, "gpt2-tokenizer")
# The built-in default model (models/kjv-llama-5m: a 5M Llama trained on the King James Bible by
# scripts/train_demo_model.py), installed into the package; from_pretrained() without a path loads it.
BUILTIN_MODEL = "builtin:kjv-llama-5m"
BUILTIN_MODEL_DIR = os.path.join(_DATA_DIR, "kjv-llama-5m")


def _resolve_path(pretrained_model_name_or_path: Optional[Union[str, os.PathLike]]) -> str:
    """A local folder, or the built-in default (None or BUILTIN_MODEL) after its SHA256SUMS check."""
    if pretrained_model_name_or_path is None or pretrained_model_name_or_path == BUILTIN_MODEL:
        if not os.path.isdir(BUILTIN_MODEL_DIR):
            raise JitgenError(f"{BUILTIN_MODEL_DIR}: the packaged built-in model is missing (reinstall jitgen)")
        _jitgen.verify_sha256sums(BUILTIN_MODEL_DIR)
        return BUILTIN_MODEL_DIR
    path = os.fspath(pretrained_model_name_or_path)
    if not os.path.isdir(path):
        raise JitgenError(f"{path}: not a folder (jitgen loads local HF folders only; nothing is downloaded)")
    return path


# --- conversions --------------------------------------------------------------------------------------------------


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _to_numpy(x: Any) -> np.ndarray:
    if _is_torch(x):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


def _int_matrix(x: Any, name: str) -> np.ndarray:
    """A 2-D int64 array from numpy / torch / nested lists; anything else is a JitgenError."""
    try:
        a = _to_numpy(x)
    except Exception as e:  # ragged lists and the like
        raise JitgenError(f"{name} must be a 2-D array of token ids [batch, length]: {e}") from None
    if a.dtype == object:
        raise JitgenError(f"{name} must be a 2-D array of token ids [batch, length] (rows of equal length; pad them)")
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise JitgenError(f"{name} must hold integers, got dtype {a.dtype}")
    if a.ndim != 2:
        raise JitgenError(f"{name} must be 2-D [batch, length], got shape {tuple(a.shape)}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _jsonable(v: Any, key: str) -> Any:
    """Python / numpy / torch values -> JSON values (lists, numbers, strings, bools, None)."""
    if key == "sequence_bias" and isinstance(v, dict):  # HF's dict form {(ids...): bias} -> its list form
        return [[_jsonable(list(ids), key), _jsonable(b, key)] for ids, b in v.items()]
    if key in _REFUSED_KEYS and not isinstance(v, (type(None), bool, int, float, str, list, tuple)):
        return str(v)  # an object (watermarking config, constraints): set, and refused by name
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray) or _is_torch(v):
        return _to_numpy(v).tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(e, key) for e in v]
    raise JitgenError(f"{key}: unsupported value of type {type(v).__name__}")


def _dumps(obj: Dict[str, Any]) -> str:
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        bad = [k for k, v in obj.items() if isinstance(v, float) and not np.isfinite(v)]
        raise JitgenError(f"{', '.join(bad) or 'generation options'} must be finite numbers") from None


class _AttrDict(dict):
    """A dict whose keys are also attributes (HF BatchEncoding / ModelOutput style)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class BatchEncoding(_AttrDict):
    """What the tokenizer returns: ``input_ids`` and ``attention_mask`` (lists, numpy or torch)."""


class ModelOutput(_AttrDict):
    """HF ModelOutput: attribute, key and (for ints) positional access to the fields that are set."""

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, (int, slice)):
            return list(self.values())[k]
        return dict.__getitem__(self, k)

    def to_tuple(self) -> tuple:
        return tuple(self.values())


class GenerateDecoderOnlyOutput(ModelOutput):
    """Greedy / sampling output: ``sequences`` and, with ``output_scores=True``, ``scores`` (a tuple of [rows, V])."""


class GenerateBeamDecoderOnlyOutput(ModelOutput):
    """Beam search output: ``sequences``; with ``output_scores=True`` also ``sequences_scores``, ``scores`` (tuple of
    [batch * num_beams, V]) and ``beam_indices``."""


_default_seed: Optional[List[int]] = None


def set_seed(seed: int) -> None:
    """Like transformers.set_seed: later ``generate(do_sample=True)`` calls without ``seed=`` use ``[seed, 0]``.
    (jitgen's sampling RNG is a stateless Philox stream keyed by the seed, so equal seeds give equal samples.)"""
    global _default_seed
    _default_seed = [int(seed) & 0xFFFFFFFF, 0]


# --- tokenizer ----------------------------------------------------------------------------------------------------


def _clean_up_tokenization(s: str) -> str:
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                 (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        s = s.replace(a, b)
    return s


class PreTrainedTokenizer:
    """GPT-2 byte-level BPE tokenizer, identical to HF's GPT2Tokenizer / GPT2TokenizerFast.

    Made by :meth:`AutoTokenizer.from_pretrained`. Calling it encodes text (see :meth:`__call__`)."""

    def __init__(self, core: "_jitgen.Tokenizer", name_or_path: str, padding_side: str = "right",
                 truncation_side: str = "right", pad_token: Optional[str] = None, model_max_length: int = 1024):
        if padding_side not in ("left", "right"):
            raise JitgenError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if truncation_side not in ("left", "right"):
            raise JitgenError(f"truncation_side must be 'left' or 'right', got {truncation_side!r}")
        self._core = core
        self.name_or_path = name_or_path
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.model_max_length = model_max_length
        eos = core.eos_token_id
        self.eos_token: Optional[str] = core.id_to_token(eos) if eos is not None else None
        self.bos_token = self.eos_token
        self.unk_token = self.eos_token
        configured_pad = core.pad_token_id
        self.pad_token: Optional[str] = pad_token if pad_token is not None else (
            core.id_to_token(configured_pad) if configured_pad is not None else None)

    # special tokens
    @property
    def eos_token_id(self) -> Optional[int]:
        return self.convert_tokens_to_ids(self.eos_token) if self.eos_token is not None else None

    @property
    def bos_token_id(self) -> Optional[int]:
        return self.convert_tokens_to_ids(self.bos_token) if self.bos_token is not None else None

    @property
    def unk_token_id(self) -> Optional[int]:
        return self.convert_tokens_to_ids(self.unk_token) if self.unk_token is not None else None

    @property
    def pad_token_id(self) -> Optional[int]:
        return self.convert_tokens_to_ids(self.pad_token) if self.pad_token is not None else None

    @pad_token_id.setter
    def pad_token_id(self, value: Optional[int]) -> None:
        self.pad_token = None if value is None else self._core.id_to_token(int(value))

    @property
    def vocab_size(self) -> int:
        return self._core.vocab_size

    def __len__(self) -> int:
        return self._core.vocab_size

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Union[int, List[int]]:
        """Vocabulary string(s) -> id(s); unknown strings map to the unk token (``<|endoftext|>``), as in HF."""
        if isinstance(tokens, str):
            i = self._core.token_to_id(tokens)
            if i is None:
                i = self._core.token_to_id(self.unk_token) if self.unk_token is not None else None
            return i
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]], skip_special_tokens: bool = False):
        if isinstance(ids, (int, np.integer)):
            return self._core.id_to_token(int(ids))
        return [self._core.id_to_token(int(i)) for i in ids
                if not (skip_special_tokens and self._core.is_special_token(int(i)))]

    # encoding
    def encode(self, text: str, add_special_tokens: bool = True, return_tensors: Optional[str] = None, **kwargs):
        """Token ids of one text (GPT-2 adds no special tokens)."""
        enc = self(text, return_tensors=return_tensors, **kwargs)
        return enc["input_ids"]

    def tokenize(self, text: str) -> List[str]:
        return [self._core.id_to_token(i) for i in self._core.encode(text)]

    def __call__(self, text: Union[str, Sequence[str]], text_pair: Any = None, *,
                 padding: Union[bool, str] = False, truncation: Union[bool, str, None] = None,
                 max_length: Optional[int] = None, pad_to_multiple_of: Optional[int] = None,
                 return_tensors: Optional[str] = None, padding_side: Optional[str] = None,
                 return_attention_mask: Optional[bool] = None, add_special_tokens: bool = True,
                 **kwargs: Any) -> BatchEncoding:
        """Encode one text or a batch: HF ``tokenizer(...)``.

        padding: False / "do_not_pad", True / "longest", or "max_length" (to ``max_length``); rows are padded on
        ``padding_side`` (the tokenizer's, "right" unless set) up to a multiple of ``pad_to_multiple_of``.
        truncation: True cuts rows to ``max_length`` (on ``truncation_side``). return_tensors: None (lists), "np"
        (int64 arrays) or "pt" (torch tensors, when torch is installed)."""
        if text_pair is not None:
            raise JitgenError("text_pair: pairs of texts are not supported (GPT-2 has no pair template)")
        for k in kwargs:
            if k not in ("return_token_type_ids", "verbose", "is_split_into_words", "stride", "return_length"):
                warnings.warn(f"Keyword argument {k!r} is not recognized by the jitgen tokenizer", stacklevel=2)
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        if not all(isinstance(t, str) for t in texts):
            raise JitgenError("text must be a string or a list of strings")
        if padding is True or padding == "longest":
            mode = "longest"
        elif padding is False or padding is None or padding == "do_not_pad":
            mode = None
        elif padding == "max_length":
            mode = "max_length"
            if max_length is None:
                raise JitgenError("padding='max_length' needs max_length")
        else:
            raise JitgenError(f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
        if truncation is None:
            truncate = max_length is not None and mode is None  # HF: max_length alone truncates (with a warning)
        else:
            truncate = truncation not in (False, "do_not_truncate")
        if truncate and max_length is None:
            max_length = self.model_max_length
        side = padding_side or self.padding_side
        pad_id = self.pad_token_id
        if mode is not None and pad_id is None:
            raise JitgenError(
                "Asking to pad but the tokenizer does not have a padding token. Set one, e.g. "
                "AutoTokenizer.from_pretrained(dir, pad_token='<|endoftext|>') or tokenizer.pad_token = "
                "tokenizer.eos_token")
        ids, mask = self._core.encode_batch(texts, mode is not None, side, int(pad_to_multiple_of or 0),
                                            int(max_length) if truncate else None, self.truncation_side,
                                            pad_id)
        if mode == "max_length":
            target = int(max_length)
            if pad_to_multiple_of:
                target = -(-target // int(pad_to_multiple_of)) * int(pad_to_multiple_of)
            for r in range(len(ids)):
                extra = target - len(ids[r])
                if extra > 0:
                    if side == "left":
                        ids[r] = [pad_id] * extra + ids[r]
                        mask[r] = [0] * extra + mask[r]
                    else:
                        ids[r] = ids[r] + [pad_id] * extra
                        mask[r] = mask[r] + [0] * extra
        out = BatchEncoding()
        if return_tensors is None:
            out["input_ids"] = ids[0] if single else ids
            if return_attention_mask is not False:
                out["attention_mask"] = mask[0] if single else mask
            return out
        if len({len(r) for r in ids}) > 1:
            raise JitgenError("Unable to create tensor: rows have different lengths; use padding=True")
        if return_tensors == "np":
            conv = lambda rows: np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
        elif return_tensors == "pt":
            import torch
            conv = lambda rows: torch.tensor(np.asarray(rows, dtype=np.int64).reshape(len(rows), -1))
        else:
            raise JitgenError(f"return_tensors must be None, 'np' or 'pt', got {return_tensors!r}")
        out["input_ids"] = conv(ids)
        if return_attention_mask is not False:
            out["attention_mask"] = conv(mask)
        return out

    # decoding
    @staticmethod
    def _id_list(ids: Any) -> List[int]:
        a = _to_numpy(ids)
        if a.ndim == 0:
            return [int(a)]
        if a.ndim != 1:
            raise JitgenError(f"token ids must be 1-D, got shape {tuple(a.shape)}")
        return [int(i) for i in a.tolist()]

    def decode(self, token_ids: Any, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: Optional[bool] = None, **kwargs: Any) -> str:
        """Ids (int, list, numpy or torch) -> text, as HF ``decode``."""
        s = self._core.decode(self._id_list(token_ids), skip_special_tokens)
        return _clean_up_tokenization(s) if clean_up_tokenization_spaces else s

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: Optional[bool] = None, **kwargs: Any) -> List[str]:
        """A batch of id rows (list of lists, 2-D numpy or torch) -> list of texts."""
        if isinstance(sequences, ModelOutput):
            sequences = sequences["sequences"]
        if isinstance(sequences, (list, tuple)):
            return [self.decode(r, skip_special_tokens, clean_up_tokenization_spaces) for r in sequences]
        a = _to_numpy(sequences)
        if a.ndim != 2:
            raise JitgenError(f"batch_decode needs 2-D ids [rows, length], got shape {tuple(a.shape)}")
        out = self._core.decode_batch(a.astype(np.int64).tolist(), skip_special_tokens)
        return [_clean_up_tokenization(s) for s in out] if clean_up_tokenization_spaces else out

    # chat templates
    chat_template: Optional[str] = None
    _chat_special_tokens: Dict[str, str] = {}

    @property
    def special_tokens_map(self) -> Dict[str, str]:
        """What apply_chat_template passes to the template: tokenizer_config.json / special_tokens_map.json special
        tokens (bos, eos, unk, pad, ...), else the GPT-2 defaults (every one is <|endoftext|>)."""
        out = {k: v for k, v in (("bos_token", self.bos_token), ("eos_token", self.eos_token),
                                 ("unk_token", self.unk_token), ("pad_token", self.pad_token)) if v is not None}
        out.update(self._chat_special_tokens)
        return out

    def apply_chat_template(self, conversation: Any, tools: Optional[List[Dict[str, Any]]] = None,
                            documents: Optional[List[Dict[str, str]]] = None, chat_template: Optional[str] = None,
                            add_generation_prompt: bool = False, continue_final_message: bool = False,
                            tokenize: bool = True, padding: Union[bool, str] = False, truncation: bool = False,
                            max_length: Optional[int] = None, return_tensors: Optional[str] = None,
                            return_dict: bool = True, return_assistant_tokens_mask: bool = False,
                            tokenizer_kwargs: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
        """HF ``tokenizer.apply_chat_template`` (transformers 5): renders ``conversation`` (a list of
        ``{"role", "content"}`` dicts, or a list of such lists) with the chat template exactly as transformers does
        (jitgen's own Jinja renderer, byte-identical on the goldens), passing ``tools``, ``documents``,
        ``add_generation_prompt``, the special tokens and ``**kwargs`` to it. ``tokenize=False`` returns the text;
        else it is tokenized without special tokens, returned as a BatchEncoding (``return_dict=True``, the
        transformers 5 default) or the ids. ``continue_final_message`` and ``return_assistant_tokens_mask`` are not
        supported."""
        if continue_final_message or return_assistant_tokens_mask:
            raise JitgenError("apply_chat_template: continue_final_message and return_assistant_tokens_mask are not "
                              "supported")
        template = chat_template if chat_template is not None else self.chat_template
        if template is None:
            raise JitgenError(f"{self.name_or_path}: cannot use apply_chat_template because the tokenizer has no "
                              "chat_template (tokenizer_config.json \"chat_template\" or chat_template.jinja); pass "
                              "chat_template=")
        batched = isinstance(conversation, (list, tuple)) and len(conversation) > 0 and (
            isinstance(conversation[0], (list, tuple)) or hasattr(conversation[0], "messages"))
        conversations = conversation if batched else [conversation]

        def plain(v: Any) -> Any:  # message objects (pydantic, dataclasses) to dicts, as transformers does
            if hasattr(v, "model_dump"):
                v = v.model_dump()
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v

        def normalise(conv: Any) -> List[Dict[str, Any]]:
            msgs = plain(getattr(conv, "messages", conv))
            for m in msgs:
                if not isinstance(m, dict):
                    raise JitgenError(f"apply_chat_template: chat messages must be dicts, got {m!r}")
            return [{k: v for k, v in m.items() if v is not None} for m in msgs]

        if tools is not None:
            for t in tools:
                if not isinstance(t, dict):
                    raise JitgenError("apply_chat_template: tools must be JSON schemas (dicts); functions are not "
                                      "converted")
        context = {**self.special_tokens_map, **kwargs}
        rendered = []
        for conv in conversations:
            ctx = {"messages": normalise(conv), "tools": plain(tools), "documents": plain(documents),
                   "add_generation_prompt": add_generation_prompt, **context}
            rendered.append(_jitgen.render_chat_template(template, json.dumps(ctx, ensure_ascii=False)))
        text: Any = rendered if batched else rendered[0]
        if not tokenize:
            return text
        out = self(text, padding=padding, truncation=truncation, max_length=max_length, add_special_tokens=False,
                   return_tensors=return_tensors, **(tokenizer_kwargs or {}))
        return out if return_dict else out["input_ids"]

    def __repr__(self) -> str:
        return (f"jitgen.PreTrainedTokenizer(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"padding_side={self.padding_side!r}, pad_token={self.pad_token!r})")


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(dir)``: the GPT-2 tokenizer of an HF folder (tokenizer.json, or vocab.json +
    merges.txt)."""

    @staticmethod
    def from_pretrained(pretrained_model_name_or_path: Optional[Union[str, os.PathLike]] = None, *,
                        padding_side: str = "right", truncation_side: str = "right", pad_token: Optional[str] = None,
                        model_max_length: Optional[int] = None, **kwargs: Any) -> PreTrainedTokenizer:
        """A local HF folder; None (or ``jitgen.BUILTIN_MODEL``) = the built-in default's tokenizer."""
        path = _resolve_path(pretrained_model_name_or_path)
        for k in kwargs:
            if k not in ("use_fast", "trust_remote_code", "revision", "local_files_only", "cache_dir"):
                raise JitgenError(f"AutoTokenizer.from_pretrained: unsupported argument {k!r}")
        cfg = os.path.join(path, "tokenizer_config.json")
        if model_max_length is None:
            model_max_length = 1024
            if os.path.exists(cfg):
                try:
                    with open(cfg) as f:
                        model_max_length = int(json.load(f).get("model_max_length", 1024))
                except (ValueError, TypeError, OverflowError):
                    pass
        core = _jitgen.Tokenizer.from_dir(path)
        tok = PreTrainedTokenizer(core, path, padding_side, truncation_side, pad_token, model_max_length)
        tok.chat_template, special = _jitgen.chat_config(core)
        tok._chat_special_tokens = json.loads(special)
        return tok


GPT2Tokenizer = AutoTokenizer
GPT2TokenizerFast = AutoTokenizer


# --- streamers ----------------------------------------------------------------------------------------------------


class TextStreamer:
    """HF TextStreamer: prints the text to stdout as it is generated (``print(..., flush=True, end="")``).

    ``model.generate(..., streamer=streamer)`` feeds it: first the prompt (dropped when ``skip_prompt``), then one token
    per step. Only one sequence (batch 1, no beams), as in HF. Text is emitted as soon as no later token can change it
    (HF waits for a space or newline); the concatenated text is exactly ``tokenizer.decode`` of the streamed ids
    (jitgen::DecodeStream says what is held back: incomplete characters, byte-fallback runs, cleanup context)."""

    def __init__(self, tokenizer: PreTrainedTokenizer, skip_prompt: bool = False, **decode_kwargs: Any):
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self._decoder = _jitgen.TextDecoder(tokenizer._core, bool(decode_kwargs.get("skip_special_tokens", False)))
        self._next_is_prompt = True

    def put(self, value: Any) -> None:
        """Token ids: the prompt first ([1, T]), then one step's token ([1] or a scalar)."""
        a = _to_numpy(value)
        if a.ndim > 1 and a.shape[0] > 1:
            raise JitgenError("TextStreamer only supports batch size 1")
        ids = [int(i) for i in a.reshape(-1).tolist()]
        if self.skip_prompt and self._next_is_prompt:
            self._next_is_prompt = False
            return
        self._next_is_prompt = False
        text = "".join(self._decoder.put(i) for i in ids)
        if text:
            self.on_finalized_text(text)

    def end(self) -> None:
        """Flushes what is held back and signals the end of the stream."""
        text = self._decoder.finish()
        self._next_is_prompt = True
        self.on_finalized_text(text, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        print(text, flush=True, end="" if not stream_end else None)


class TextIteratorStreamer(TextStreamer):
    """HF TextIteratorStreamer: an iterator of text deltas, to be read from another thread than the one calling
    ``generate``::

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
        threading.Thread(target=model.generate, kwargs=dict(**inputs, streamer=streamer, max_new_tokens=20)).start()
        for text in streamer: print(text, end="")

    ``timeout`` (seconds) bounds each wait for the next piece (queue.Empty is raised past it)."""

    def __init__(self, tokenizer: PreTrainedTokenizer, skip_prompt: bool = False, timeout: Optional[float] = None,
                 **decode_kwargs: Any):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: "queue.Queue[Any]" = queue.Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> "TextIteratorStreamer":
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration()
        return value


# --- model --------------------------------------------------------------------------------------------------------

# Every generation option generate() accepts, under its HF name (resolved by the engine; see docs/generation.md).
_GENERATION_KEYS = frozenset({
    "max_new_tokens", "max_length", "min_new_tokens", "min_length", "max_time", "do_sample", "num_beams",
    "num_return_sequences", "length_penalty", "early_stopping", "temperature", "top_k", "top_p", "min_p", "typical_p",
    "repetition_penalty", "no_repeat_ngram_size", "bad_words_ids", "eos_token_id", "pad_token_id", "bos_token_id",
    "stop_strings", "seed", "output_scores", "return_dict_in_generate",
    "epsilon_cutoff", "eta_cutoff", "top_h", "encoder_repetition_penalty", "sequence_bias", "suppress_tokens",
    "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id", "exponential_decay_length_penalty",
    "remove_invalid_values", "renormalize_logits",
})
# HF GenerationConfig fields jitgen does not implement: passed to the engine, which refuses each one by name when
# its value would change HF's output (docs/generation.md), and accepts the values for which HF changes nothing.
_REFUSED_KEYS = frozenset({
    "num_beam_groups", "penalty_alpha", "dola_layers", "guidance_scale", "watermarking_config", "constraints",
    "force_words_ids", "token_healing", "encoder_no_repeat_ngram_size", "prompt_lookup_num_tokens", "use_mtp",
    "assistant_early_exit", "is_assistant", "low_memory",
})
# HF arguments that jitgen accepts and ignores: they do not change the result.
_IGNORED_KEYS = frozenset({"use_cache", "synced_gpus", "token_type_ids", "position_ids", "num_beam_groups_ignored"})
# HF outputs jitgen does not produce: allowed only when False.
_UNSUPPORTED_OUTPUTS = ("output_attentions", "output_hidden_states", "output_logits")


class GenerationConfig(_AttrDict):
    """The model's generation defaults (its generation_config.json), as attributes; setting one changes the default
    of later ``generate`` calls, as in HF. ``to_dict()`` gives the fields that are set."""

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def to_dict(self) -> Dict[str, Any]:
        return dict(self)


class PretrainedConfig(_AttrDict):
    """config.json as attributes (``model.config.n_positions``, ``model.config.pad_token_id``, ...)."""

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __getattr__(self, name: str) -> Any:
        return self.get(name)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self)


class PreTrainedModel:
    """A GPT-2 causal LM on the jitgen engine. Made by :meth:`AutoModelForCausalLM.from_pretrained`."""

    def __init__(self, path: str, mode: str = "compiled", prompt_bucket: int = 8, plan_cache_dir: Optional[str] = None,
                 device: str = "cpu", quantize: Optional[str] = None, quantize_lm_head: bool = False):
        self._engine = _jitgen.Engine(path, mode, int(prompt_bucket), plan_cache_dir or "", device, quantize or "",
                                      bool(quantize_lm_head))
        self.name_or_path = path
        self.mode = mode
        self._init_args = (path, mode, prompt_bucket, plan_cache_dir)
        self._device = device
        self._quantize = (quantize, quantize_lm_head)
        cfg_path = os.path.join(path, "config.json")
        with open(cfg_path) as f:
            self.config = PretrainedConfig(json.load(f))
        if "pad_token_id" not in self.config:
            self.config["pad_token_id"] = None
        self.generation_config = GenerationConfig(json.loads(self._engine.generation_defaults()))
        self._generation_defaults = dict(self.generation_config)

    # HF niceties
    @property
    def device(self) -> str:
        return self._device

    def to(self, device: Any) -> "PreTrainedModel":
        """The model on `device` ('cpu' or 'cuda'): itself when already there, else a new engine (weights uploaded
        once per device)."""
        d = _check_device(device)
        if d == self._device:
            return self
        path, mode, prompt_bucket, plan_cache_dir = self._init_args
        return PreTrainedModel(path, mode, prompt_bucket, plan_cache_dir, d, *self._quantize)

    def eval(self) -> "PreTrainedModel":
        return self

    def cpu(self) -> "PreTrainedModel":
        return self.to("cpu")

    def cuda(self) -> "PreTrainedModel":
        return self.to("cuda")

    def info(self) -> Dict[str, Any]:
        """Model shape and source: model_type, n_layer, n_head, n_embd, n_positions, vocab_size, ..."""
        return self._engine.info()

    def _overrides(self, generation_config: Any, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        over: Dict[str, Any] = {}
        # model.generation_config edits (fields changed or added since loading)
        for k, v in self.generation_config.items():
            if (k in _GENERATION_KEYS or k in _REFUSED_KEYS) and (
                    k not in self._generation_defaults or self._generation_defaults[k] != v):
                over[k] = _jsonable(v, k)
        if generation_config is not None:
            if isinstance(generation_config, dict):
                d = generation_config
            elif hasattr(generation_config, "to_diff_dict"):
                d = generation_config.to_diff_dict()
            elif hasattr(generation_config, "to_dict"):
                d = generation_config.to_dict()
            else:
                raise JitgenError("generation_config must be a dict or a GenerationConfig")
            for k, v in d.items():
                if (k in _GENERATION_KEYS or k in _REFUSED_KEYS) and v is not None:
                    over[k] = _jsonable(v, k)
        # legacy HF: model.config.pad_token_id = model.config.eos_token_id
        if (self.config.get("pad_token_id") is not None and "pad_token_id" not in kwargs
                and "pad_token_id" not in over and self.generation_config.get("pad_token_id") is None):
            over["pad_token_id"] = int(self.config["pad_token_id"])
        unused = []
        for k, v in kwargs.items():
            if k in _GENERATION_KEYS or k in _REFUSED_KEYS:
                over[k] = _jsonable(v, k)
            elif k in _UNSUPPORTED_OUTPUTS:
                if v:
                    raise JitgenError(f"{k}=True is not supported by jitgen")
            elif k in _IGNORED_KEYS:
                pass
            else:
                unused.append(k)
        if unused:
            raise JitgenError(f"The following `model_kwargs` are not used by the model: {unused} (note: typos in the "
                              "generate arguments will also show up in this list)")
        if "seed" not in over and _default_seed is not None:
            over["seed"] = list(_default_seed)
        return over

    def generate(self, inputs: Any = None, generation_config: Any = None, streamer: Any = None,
                 tokenizer: Optional[PreTrainedTokenizer] = None, **kwargs: Any):
        """HF ``generate()``: ``input_ids`` (or ``inputs``) and ``attention_mask`` [batch, T] as numpy, torch or lists,
        plus any HF generation option by name (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k``,
        ``top_p``, ``num_beams``, ``seed=(a, b)``, ``stop_strings`` (needs ``tokenizer=``), ...).

        Returns the sequences [batch * num_return_sequences, T + new] (int64 numpy; torch when ``input_ids`` was a
        torch tensor), prompt included, finished rows filled with the pad id; with ``return_dict_in_generate=True`` a
        :class:`GenerateDecoderOnlyOutput` / :class:`GenerateBeamDecoderOnlyOutput`. ``streamer`` (TextStreamer,
        TextIteratorStreamer or any object with put/end) receives the tokens as they come (one sequence only).
        The GIL is released while generating; errors raise :class:`JitgenError`."""
        input_ids = kwargs.pop("input_ids", None)
        if input_ids is None:
            input_ids = inputs
        elif inputs is not None:
            raise JitgenError("pass the prompt as inputs or input_ids, not both")
        attention_mask = kwargs.pop("attention_mask", None)
        torch_out = _is_torch(input_ids)
        over = self._overrides(generation_config, kwargs)
        if input_ids is None:
            resolved = json.loads(self._engine.resolve(_dumps(over)))
            bos = resolved.get("bos_token_id")
            if bos is None:
                bos = self.config.get("bos_token_id")
            if bos is None:
                raise JitgenError("input_ids is None and the model has no bos_token_id to start from")
            input_ids = [[int(bos)]]
        ids = _int_matrix(input_ids, "input_ids")
        mask = None if attention_mask is None else _int_matrix(attention_mask, "attention_mask")
        overrides_json = _dumps(over)

        on_step = None
        if streamer is not None:
            resolved = json.loads(self._engine.resolve(overrides_json))
            if resolved["num_beams"] > 1:
                raise JitgenError("`streamer` cannot be used with beam search (yet!). Make sure that `num_beams` is "
                                  "set to 1.")
            if ids.shape[0] * resolved["num_return_sequences"] != 1:
                raise JitgenError("streamer only supports batch size 1 (one prompt, num_return_sequences=1)")
            eos = set(resolved["eos_token_id"])
            prompt = ids[:, mask[0].astype(bool)] if mask is not None else ids
            streamer.put(prompt)
            done = [False]

            def on_step(step: int, tokens: List[int]) -> None:
                if done[0]:
                    return
                streamer.put(np.asarray(tokens, dtype=np.int64))
                if tokens[0] in eos:
                    done[0] = True

        try:
            r = self._engine.generate(ids, mask, overrides_json, on_step,
                                      tokenizer._core if tokenizer is not None else None)
        finally:
            if streamer is not None:
                streamer.end()

        conv = _torch_from_numpy if torch_out else (lambda a: a)
        seqs = conv(r["sequences"])
        if not r["return_dict_in_generate"]:
            return seqs
        if r["beam"]:
            out: ModelOutput = GenerateBeamDecoderOnlyOutput(sequences=seqs)
            if r["output_scores"]:
                out["sequences_scores"] = conv(r["sequences_scores"])
        else:
            out = GenerateDecoderOnlyOutput(sequences=seqs)
        if r["output_scores"] and "scores" in r:
            out["scores"] = tuple(conv(s) for s in r["scores"])
        elif r["output_scores"]:
            out["scores"] = ()
        if r["beam"] and r["output_scores"] and "beam_indices" in r:
            out["beam_indices"] = conv(r["beam_indices"])
        return out

    def compute_transition_scores(self, sequences: Any, scores: Sequence[Any], beam_indices: Any = None,
                                  normalize_logits: bool = False) -> np.ndarray:
        """HF compute_transition_scores: the score of each generated token per step, [rows, steps]."""
        seq = _to_numpy(sequences)
        s = np.stack([_to_numpy(x) for x in scores])  # [steps, rows_or_beams, V]
        if normalize_logits:
            m = s.max(-1, keepdims=True)
            s = s - m - np.log(np.exp(s - m).sum(-1, keepdims=True))
        if beam_indices is None:
            steps = s.shape[0]
            rows = np.arange(seq.shape[0])[:, None].repeat(steps, 1)
        else:  # HF: the longest returned beam sets the steps
            bi = _to_numpy(beam_indices)
            steps = int((bi >= 0).sum(-1).max()) if bi.size else 0
            rows = bi[:, :steps].copy()
        toks = seq[:, seq.shape[1] - steps:]
        out = np.zeros(toks.shape, dtype=np.float32)
        for r in range(toks.shape[0]):
            for t in range(steps):
                if rows[r, t] >= 0:
                    out[r, t] = s[t, rows[r, t], toks[r, t]]
        return out

    def __repr__(self) -> str:
        i = self.info()
        return (f"jitgen.PreTrainedModel({self.name_or_path!r}, mode={self.mode!r}, n_layer={i['n_layer']}, "
                f"n_embd={i['n_embd']}, vocab_size={i['vocab_size']})")


def _torch_from_numpy(a: np.ndarray):
    import torch
    return torch.from_numpy(np.ascontiguousarray(a))


def _check_device(device: Any) -> str:
    """'cpu' or 'cuda' (also torch.device('cuda:0')); 'cuda' needs a build with CUDA (JITGEN_CUDA=1 pip install .)."""
    d = str(device) if device is not None else "cpu"
    if d == "cuda:0":
        d = "cuda"
    if d not in ("cpu", "cuda"):
        raise JitgenError(f"device={d!r}: expected 'cpu' or 'cuda'")
    if d == "cuda" and not _jitgen.has_cuda:
        raise JitgenError(f"device={d!r}: this jitgen build has no CUDA support (it was built for CPU only; "
                          "reinstall with JITGEN_CUDA=1 pip install . on a machine with the CUDA toolkit), "
                          "or use device='cpu'")
    return d


class AutoModelForCausalLM:
    """``AutoModelForCausalLM.from_pretrained(dir, mode="compiled")``: a GPT-2 HF folder (config.json,
    model.safetensors or shards, optional generation_config.json) on the jitgen engine."""

    @staticmethod
    def from_pretrained(pretrained_model_name_or_path: Optional[Union[str, os.PathLike]] = None, *,
                        device: Any = "cpu", mode: str = "compiled", prompt_bucket: int = 8, plan_cache_dir: Optional[str] = None,
                        device_map: Any = None, quantize: Optional[str] = None, quantize_lm_head: bool = False,
                        **kwargs: Any) -> PreTrainedModel:
        """pretrained_model_name_or_path: a local HF folder; None (or ``jitgen.BUILTIN_MODEL``) = the built-in default
        kjv-llama-5m packaged with jitgen, its files checked against its SHA256SUMS first.
        mode: "compiled" (fused plans cached per shape bucket; prompt lengths round up to a multiple of
        ``prompt_bucket``) or "eager" (op by op). plan_cache_dir keeps compiled plans on disk across runs.
        quantize: "int8" or "int4" (also int8-ch, int4-g128, -f16 scales, int4 -zp) quantizes the linear weights at
        load (CPU, and CUDA builds' int8 / int4 kernels with device="cuda"; embeddings and the lm_head stay as loaded,
        bf16 panels for a BF16 checkpoint, else fp32, unless quantize_lm_head=True)."""
        if quantize is not None and not isinstance(quantize, str):
            raise JitgenError(f"quantize: {quantize!r} is not a weight format name; expected a string such as "
                              "\"int8\", \"int4\" or \"int4-g128\"")
        device = _check_device(device)
        if device_map == "auto":
            device = "cuda" if _jitgen.has_cuda else "cpu"
        elif device_map not in (None, "cpu"):
            device = _check_device(device_map)
        path = _resolve_path(pretrained_model_name_or_path)
        for k in kwargs:
            if k not in ("torch_dtype", "trust_remote_code", "revision", "local_files_only", "cache_dir",
                         "low_cpu_mem_usage", "from_pt"):
                raise JitgenError(f"AutoModelForCausalLM.from_pretrained: unsupported argument {k!r}")
        return PreTrainedModel(path, mode, prompt_bucket, plan_cache_dir, device, quantize, quantize_lm_head)


GPT2LMHeadModel = AutoModelForCausalLM
TFAutoModelForCausalLM = AutoModelForCausalLM


def make_random_model(out: Union[str, os.PathLike], config: str = "tiny", *, seed: int = 0, n_layer: int = 0,
                      n_head: int = 0, n_embd: int = 0, n_positions: int = 0, vocab_size: int = 0,
                      dtype: str = "F32", shards: int = 1, with_tokenizer: bool = False, family: str = "",
                      n_kv_head: int = 0, config_json: Union[str, dict, None] = None) -> str:
    """Writes a deterministic random-weight folder in HF format (what ``jitgen make-model`` writes, byte for
    byte): a preset of any family (``tiny | gpt2 | gpt2-medium | ...`` for GPT-2, ``llama-tiny | smollm2-135m |
    ... | opt-tiny | opt-125m | opt-350m``; ``family`` = config.json model_type picks the family explicitly) with
    optional shape overrides; config_json (a dict or JSON text of config.json fields, HF names, as make-model
    --config-json) is merged over the preset last (Llama family, OPT); with_tokenizer copies the GPT-2 vocab.json /
    merges.txt (needs vocab 50257). Returns the folder."""
    path = os.fspath(out)
    tok_dir = ""
    if with_tokenizer:
        tok_dir = _GPT2_TOKENIZER_DIR
        if not os.path.isdir(tok_dir):
            raise JitgenError(f"{tok_dir}: the packaged GPT-2 tokenizer is missing (reinstall jitgen)")
    if isinstance(config_json, dict):
        config_json = json.dumps(config_json)
    _jitgen.make_random_model(path, config, int(seed), int(n_layer), int(n_head), int(n_embd), int(n_positions),
                              int(vocab_size), dtype, int(shards), tok_dir, family, int(n_kv_head), config_json or "")
    return path
