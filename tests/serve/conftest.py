"""Fixtures for the server suite: one `jitgen serve --port 0 --model builtin:random-gpt2` for the whole session, an
openai client bound to it, one `jitgen serve` of the built-in default (the trained kjv-llama-5m, a SentencePiece
tokenizer: `default_server`, `default_complete`), and helpers shared by the test files. Run with scripts/test-server.sh (it builds the binary and the venv)."""
from __future__ import annotations

import functools
import re
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from serverproc import SUITE_MODEL, Server, ServerError, cli_generate  # noqa: E402


@pytest.fixture(scope="session")
def server():
    try:
        srv = Server("--model", SUITE_MODEL)
    except (ServerError, FileNotFoundError) as e:
        pytest.fail(f"jitgen serve did not start: {e}", pytrace=False)
    yield srv
    died = srv.proc.poll()
    srv.stop()  # its exit code on SIGTERM / SIGINT is test_observability.py::test_clean_shutdown's business
    assert died is None, f"jitgen serve died during the session (exit code {died}):\n{srv.log_tail()}"


@pytest.fixture(autouse=True)
def _server_survives(request):
    """After each test that used the shared server: it is still running (a crash is pinned on the test that did it)."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        rc = srv.proc.poll()
        assert rc is None, f"jitgen serve died during this test (exit code {rc}):\n{srv.log_tail()}"


@pytest.fixture(scope="session")
def http(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def model_id(http) -> str:
    return http.get("/v1/models").json()["data"][0]["id"]


@pytest.fixture(scope="session")
def client(server):
    # max_retries=0: the client would otherwise retry 429/5xx answers and hide them from the error tests.
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def default_server():
    """`jitgen serve` without --model: the trained kjv-llama-5m (Llama, SentencePiece BPE with byte fallback)."""
    try:
        srv = Server()
    except (ServerError, FileNotFoundError) as e:
        pytest.fail(f"jitgen serve (default model) did not start: {e}", pytrace=False)
    yield srv
    died = srv.proc.poll()
    srv.stop()
    assert died is None, f"jitgen serve (default model) died during the session (exit code {died}):\n{srv.log_tail()}"


@pytest.fixture(scope="session")
def default_complete(default_server):
    """complete() on the default model (greedy unless overridden)."""
    c = openai.OpenAI(base_url=f"{default_server.url}/v1", api_key="none", max_retries=0, timeout=120)

    def call(prompt, **kw):
        kw.setdefault("temperature", 0)
        return c.completions.create(model="jitgen-default", prompt=prompt, **kw)

    return call


@pytest.fixture(params=["random-gpt2", "kjv-llama-5m"])
def any_complete(request):
    """complete() on each served tokenizer kind: GPT-2 byte-level BPE, and the default model's SentencePiece."""
    return request.getfixturevalue("complete" if request.param == "random-gpt2" else "default_complete")


@pytest.fixture(scope="session")
def complete(client, model_id):
    """complete(prompt, **kw) -> Completion, with the server's model id and greedy decoding unless overridden."""

    def call(prompt, **kw):
        kw.setdefault("temperature", 0)
        return client.completions.create(model=model_id, prompt=prompt, **kw)

    return call


@functools.lru_cache(maxsize=None)
def cli_greedy(prompt: str, max_tokens: int) -> dict:
    """The CLI's greedy output for one prompt, cut at the first end-of-text like the server's text."""
    seq = dict(cli_generate(prompt, max_tokens))
    if 50256 in seq["ids"]:
        seq["ids"] = seq["ids"][: seq["ids"].index(50256)]
        seq["text"] = seq["text"].split("<|endoftext|>")[0]
    return seq


METRIC_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format -> {"name{labels}": value} for each sample, plus {"name": sum over its label sets}
    for each labelled name without a bare sample (jitgen_requests_total{route=...,status=...} -> all requests)."""
    out, totals = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        key = m["name"] + (f"{{{m['labels']}}}" if m["labels"] else "")
        out[key] = float(m["value"])
        totals[m["name"]] = totals.get(m["name"], 0.0) + float(m["value"])
    for name, total in totals.items():
        out.setdefault(name, total)
    return out


def metrics(http) -> dict[str, float]:
    r = http.get("/metrics")
    assert r.status_code == 200
    return parse_metrics(r.text)


def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Polls predicate() until it returns a truthy value (returned) or timeout seconds pass (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def assert_openai_error(body: dict, status_type: str | None = None) -> dict:
    """The OpenAI error shape: {"error": {"message": str, "type": str, "param": str|null, "code": str|null}}."""
    assert set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err.get("message"), str) and err["message"], body
    assert isinstance(err.get("type"), str) and err["type"], body
    assert "param" in err and (err["param"] is None or isinstance(err["param"], str)), body
    assert "code" in err and (err["code"] is None or isinstance(err["code"], (str, int))), body
    if status_type:
        assert err["type"] == status_type, body
    return err
