"""Starts and stops a `jitgen serve` process for the tests and the load test, and runs the CLI for reference outputs.

The binary is $JITGEN_BIN when set, else the first of build/jitgen, build/apps/jitgen/jitgen that exists.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The model of the shared test server and of the CLI references: the random GPT-2 with the real GPT-2 tokenizer (the
# suite's expectations are GPT-2's: <|endoftext|> = 50256, byte-level token texts). Without --model the server runs
# the built-in default kjv-llama-5m (test_default_model.py).
SUITE_MODEL = "builtin:random-gpt2"
READY = re.compile(r"jitgen serve: listening on http://(?P<host>[^\s:]+):(?P<port>\d+)")


def find_binary() -> Path:
    if os.environ.get("JITGEN_BIN"):
        return Path(os.environ["JITGEN_BIN"])
    for rel in ("build/jitgen", "build/apps/jitgen/jitgen"):
        if (REPO / rel).is_file():
            return REPO / rel
    raise FileNotFoundError(f"no jitgen binary under {REPO}/build (run scripts/test.sh, or set JITGEN_BIN)")


class ServerError(RuntimeError):
    pass


class Server:
    """One `jitgen serve --port 0` child. stderr is drained by a thread into `self.log` (so the pipe never fills)."""

    def __init__(self, *args: str, startup_timeout: float = 60.0):
        self.binary = find_binary()
        self.cmd = [str(self.binary), "serve", "--host", "127.0.0.1", "--port", "0", *args]
        self.log: list[str] = []
        self._ready = threading.Event()
        self.host = self.port = None
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + startup_timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise ServerError(f"{' '.join(self.cmd)} exited with {self.proc.returncode} before it was ready:\n"
                                  + self.log_tail())
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"{' '.join(self.cmd)} printed no 'listening on' line in {startup_timeout:.0f} s:\n"
                                  + self.log_tail())

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))
            m = READY.search(line)
            if m and not self._ready.is_set():
                self.host, self.port = m["host"], int(m["port"])
                self._ready.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log[-n:]) or "(nothing on stderr)"

    def rss_kib(self) -> int:
        """Resident set size from /proc/<pid>/status (Linux), in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerError("no VmRSS line")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Sends `sig` and returns the exit code; kills the process (and raises) if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerError(f"server did not exit within {timeout:.0f} s of signal {sig}:\n" + self.log_tail())
        self._reader.join(2)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        except ServerError:
            pass


def cli_generate(prompt: str, max_new_tokens: int, *extra: str) -> dict:
    """Greedy reference from `jitgen generate --json` for one prompt (on SUITE_MODEL unless extra has --model): the
    first entry of "sequences" (ids, text, ...) plus the top-level prompt_length."""
    model = [] if "--model" in extra else ["--model", SUITE_MODEL]
    cmd = [str(find_binary()), "generate", "--json", "--max-new-tokens", str(max_new_tokens), *model, *extra, "--",
           prompt]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise ServerError(f"{cmd} failed ({out.returncode}): {out.stderr}")
    doc = json.loads(out.stdout)
    seq = dict(doc["sequences"][0])
    seq["prompt_length"] = doc["prompt_length"]
    return seq


def cli_tokenize(text: str, model: str = SUITE_MODEL) -> list[int]:
    out = subprocess.run([str(find_binary()), "tokenize", "--json", "--model", model, "--", text], capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout)
