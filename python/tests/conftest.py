"""Shared fixtures: random model folders (GPT-2, Llama family, OPT) made by the test run itself (jitgen.make_random_model == `jitgen make-model`)
with the exact make-model arguments recorded in the committed HF goldens."""
import json
import os

import pytest

import jitgen

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")

_FLAGS = {"--config": "config", "--seed": "seed", "--n-layer": "n_layer", "--n-head": "n_head", "--n-embd": "n_embd",
          "--n-positions": "n_positions", "--vocab-size": "vocab_size", "--dtype": "dtype", "--shards": "shards",
          "--family": "family", "--n-kv-head": "n_kv_head", "--config-json": "config_json"}
_TEXT = ("config", "dtype", "family", "config_json")


def make_model_from_args(out, args):
    """`jitgen make-model --out OUT ARGS...` through the bindings."""
    kw, i = {}, 0
    while i < len(args):
        if args[i] == "--with-tokenizer":
            kw["with_tokenizer"] = True
            i += 1
            continue
        key = _FLAGS[args[i]]
        kw[key] = args[i + 1] if key in _TEXT else int(args[i + 1])
        i += 2
    config = kw.pop("config", "tiny")
    return jitgen.make_random_model(str(out), config, **kw)


def load_fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def generation_goldens():
    return load_fixture("generation_goldens.json")


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory, generation_goldens):
    """name -> folder for every model of generation_goldens.json ("small": vocab 1000, "tiny": GPT-2 vocab + tokenizer)."""
    root = tmp_path_factory.mktemp("models")
    return {name: make_model_from_args(root / name, args) for name, args in generation_goldens["models"].items()}


@pytest.fixture(scope="session")
def tiny_dir(model_dirs):
    return model_dirs["tiny"]


@pytest.fixture(scope="session")
def small_model(model_dirs):
    return jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"])
