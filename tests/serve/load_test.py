#!/usr/bin/env python3
"""Bounded load test of `jitgen serve` on loopback: N concurrent streaming clients send a fixed number of requests
(mixed prompt lengths, ignore_eos so each one generates exactly --max-tokens), then check that none failed, that the
server's memory stayed flat, and that load changed no text: --replay of the requests (seeded sampling, so each one's
text is fixed) run again one at a time must stream what they streamed among 64 others, to the bit of every token's
log-probability (a row's logits must not depend on the rows batched beside it, scheduler.h). Prints throughput and latency percentiles and writes them as JSON to --out.

  tests/serve/load_test.py [--concurrency 64] [--requests 300] [--max-tokens 32] [--out build-serve/load.json]
  tests/serve/load_test.py --chat ...     the same with streamed /v1/chat/completions requests, against the HF
                                          chat-model folder tests/fixtures/chat_model/qwen2-chat (Qwen2, Qwen2.5's
                                          chat template; scripts/make_chat_model.py), or --chat-model DIR

It starts its own server (`jitgen serve --port 0`, see serverproc.py) unless --url names a running one (then no
memory check). Only 127.0.0.1 is ever contacted. Exit status 1 when a request failed or memory grew too much.

Memory: VmRSS is read after a warm-up (--warmup requests, by default twice the clients, so every slot, plan, HTTP
thread and allocator arena exists), sampled during the measured requests, and read again at the end. Identical
rounds of 64 requests move the RSS of this server up and down by up to ~10 MiB without a trend (glibc's per-thread
arenas behind a pool of a few hundred HTTP threads: which threads serve a round changes what stays resident), so the
bound on end-minus-warm growth is max(24 MiB, 25% of the warm RSS) (--rss-growth-mib overrides). A leak shows as a
trend: 80 KiB per request, or 2.5 KiB per generated token, over 300 x 32 tokens already crosses it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from serverproc import Server  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog while the band plays on. "  # ~15 tokens


def prompts() -> list[str]:
    """Prompts of about 1, 4, 16, 60 and 180 tokens (all fit the smallest context, 256, with 32 new tokens)."""
    return ["Hi", "Once upon a time", SENTENCE, SENTENCE * 4, SENTENCE * 12]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]  # nearest-rank


CHAT_MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "chat_model" / "qwen2-chat"


async def one_request(client: httpx.AsyncClient, body: dict) -> dict:
    t0 = time.perf_counter()
    res = {"ok": False, "ttft": None, "latency": None, "tokens": 0, "error": None, "text": "", "body": body}
    chat = "messages" in body
    try:
        async with client.stream("POST", "/v1/chat/completions" if chat else "/v1/completions", json=body) as r:
            if r.status_code != 200:
                res["error"] = f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"
                return res
            done = False
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                res["events"] = res.get("events", 0) + 1
                data = line[6:]
                if data == "[DONE]":
                    done = True
                    continue
                chunk = json.loads(data)
                if chunk.get("usage"):
                    res["tokens"] = chunk["usage"]["completion_tokens"]
                for c in chunk.get("choices", []):
                    res["text"] += c.get("text") or c.get("delta", {}).get("content") or ""
                    lp = c.get("logprobs") or {}
                    res["logprobs"] = res.get("logprobs", []) + [
                        (a, sorted(b.items())) for a, b in zip(lp.get("token_logprobs") or [], lp.get("top_logprobs") or [])]
                if res["ttft"] is None and any(c.get("text") or c.get("delta", {}).get("content")
                                               for c in chunk.get("choices", [])):
                    res["ttft"] = time.perf_counter() - t0
        res["latency"] = time.perf_counter() - t0
        if not done:
            res["error"] = "stream ended without [DONE]"
        elif res["tokens"] != body["max_tokens"]:
            res["error"] = f"usage.completion_tokens {res['tokens']} != max_tokens {body['max_tokens']}"
        else:
            res["ok"] = True
    except (httpx.HTTPError, json.JSONDecodeError, KeyError) as e:
        cause = e.__cause__ or e.__context__
        res["error"] = (f"{type(e).__name__}: {e}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
                        + f" after {res.get('events', 0)} events, {time.perf_counter() - t0:.2f} s")
    return res


async def run_phase(url: str, model: str, n_requests: int, concurrency: int, max_tokens: int,
                    deadline: float, chat: bool = False) -> tuple[list[dict], float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n_requests):
        queue.put_nowait(i)
    ps = prompts()
    results: list[dict] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(120), limits=limits) as client:

        async def worker(w: int):
            while time.monotonic() < deadline:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"model": model, "prompt": ps[i % len(ps)], "max_tokens": max_tokens, "stream": True,
                        "temperature": 0.8, "seed": i, "ignore_eos": True, "stream_options": {"include_usage": True}}
                if not chat:
                    body["logprobs"] = 5  # log-probabilities of each token and the top 5: differences show before a flip
                if chat:
                    del body["prompt"]
                    body["messages"] = [{"role": "user", "content": ps[i % len(ps)]}]
                    if i % 3 == 0:  # multi-turn histories too
                        body["messages"] = [{"role": "system", "content": "Be brief."}, body["messages"][0],
                                            {"role": "assistant", "content": ps[(i + 1) % len(ps)][:40]},
                                            {"role": "user", "content": "And then?"}]
                results.append(await one_request(client, body))

        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(concurrency))),
                                   timeout=max(1.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            print("load test: --time-limit reached; the unfinished requests count as failed", file=sys.stderr)
        return results, time.perf_counter() - t0


async def replay(url: str, done: list[dict], n: int) -> list[str]:
    """Runs n of the finished requests again, one at a time; a message for each whose text differs."""
    picked = done[:: max(1, len(done) // n)][:n] if n > 0 else []
    problems = []
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(120)) as client:
        for r in picked:
            again = await one_request(client, r["body"])
            if not again["ok"]:
                problems.append(f"replay of seed {r['body']['seed']} failed: {again['error']}")
            elif again["text"] != r["text"] or again.get("logprobs") != r.get("logprobs"):
                parted = next((k for k, (a, b) in enumerate(zip(again.get("logprobs", []), r.get("logprobs", [])))
                               if a != b), None)
                problems.append(f"seed {r['body']['seed']}: alone it streamed {again['text']!r}, under load "
                                f"{r['text']!r}" + (f" (log-probabilities part at token {parted})" if parted is not None else ""))
    return problems


def scrape(url: str) -> dict[str, float]:
    """/metrics -> {metric name: value summed over its label sets}."""
    out: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            name = series.split("{", 1)[0]
            try:
                out[name] = out.get(name, 0.0) + float(value)
            except ValueError:
                pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--warmup", type=int, help="requests before the measured ones (default: 2 x concurrency)")
    ap.add_argument("--out", type=Path, help="write the numbers as JSON here")
    ap.add_argument("--url", help="use this running server (http://127.0.0.1:PORT) instead of starting one")
    ap.add_argument("--server-args", default="--max-queue 256",
                    help="extra `jitgen serve` arguments (default: %(default)s, so 64 clients never see 429)")
    ap.add_argument("--replay", type=int, default=12, help="requests run again alone to compare texts (default: 12)")
    ap.add_argument("--rss-growth-mib", type=float, help="allowed VmRSS growth after warm-up (default: see above)")
    ap.add_argument("--time-limit", type=float, default=600, help="give up after this many seconds")
    ap.add_argument("--chat", action="store_true", help="streamed /v1/chat/completions requests (a chat model)")
    ap.add_argument("--chat-model", type=Path, default=CHAT_MODEL, help="with --chat: the folder (default: %(default)s)")
    args = ap.parse_args()
    host = (args.url or "http://127.0.0.1").split("//", 1)[1].split(":")[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        ap.error("--url must be on loopback")

    deadline = time.monotonic() + args.time_limit
    chat_args = ["--model", str(args.chat_model)] if args.chat and not args.url else []
    server = None if args.url else Server(*args.server_args.split(), *chat_args)
    url = args.url or server.url
    try:
        model = httpx.get(f"{url}/v1/models", timeout=30).json()["data"][0]["id"]
        rss = {"start_kib": server.rss_kib()} if server else {}
        n_warm = args.warmup if args.warmup is not None else 2 * args.concurrency
        warm, _ = asyncio.run(run_phase(url, model, n_warm, args.concurrency, args.max_tokens, deadline, args.chat))
        if server:
            rss["after_warmup_kib"] = server.rss_kib()
            samples, sampling = [], threading.Event()

            def sample():
                while not sampling.wait(0.25):
                    samples.append(server.rss_kib())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        before = scrape(url)
        results, wall = asyncio.run(run_phase(url, model, args.requests, args.concurrency, args.max_tokens, deadline,
                                              args.chat))
        after = scrape(url)
        if server:
            sampling.set()
            sampler.join()
            rss["end_kib"] = server.rss_kib()
            rss["peak_kib"] = max(samples + [rss["end_kib"]])
        replayed = asyncio.run(replay(url, [r for r in results if r["ok"]], args.replay))
    finally:
        rc = server.stop() if server else 0

    ok = [r for r in results if r["ok"]]
    failed = [r for r in results + warm if not r["ok"]]
    missing = args.requests - len(results)
    lat = [r["latency"] for r in ok]
    ttft = [r["ttft"] for r in ok if r["ttft"] is not None]
    tokens = sum(r["tokens"] for r in ok)
    report = {
        "route": "/v1/chat/completions" if args.chat else "/v1/completions",
        "model": model,
        "concurrency": args.concurrency, "requests": args.requests, "max_tokens": args.max_tokens,
        "succeeded": len(ok), "failed": len(failed) + missing, "failed_in_warmup": sum(not r["ok"] for r in warm),
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(ok) / wall, 2), "tokens_per_s": round(tokens / wall, 1),
        "latency_s": {"p50": round(pct(lat, 50), 4), "p99": round(pct(lat, 99), 4),
                      "mean": round(statistics.fmean(lat), 4) if lat else None},
        "ttft_s": {"p50": round(pct(ttft, 50), 4), "p99": round(pct(ttft, 99), 4)},
        "server": {k: after.get(k, 0) - before.get(k, 0) for k in
                   ("jitgen_requests_total", "jitgen_generated_tokens_total", "jitgen_compile_cache_misses_total")},
        "slots_total": after.get("jitgen_slots_total"),
        "server_exit_code": rc,
        "replayed": args.replay, "replay_mismatches": len(replayed),
    }
    problems = [f"{len(failed) + missing} failed requests"] if failed or missing else []
    problems += replayed
    if server:
        growth_mib = (rss["end_kib"] - rss["after_warmup_kib"]) / 1024
        bound = args.rss_growth_mib or max(24.0, 0.25 * rss["after_warmup_kib"] / 1024)
        rss.update(growth_mib=round(growth_mib, 1), bound_mib=round(bound, 1))
        report["rss"] = rss
        if growth_mib > bound:
            problems.append(f"VmRSS grew {growth_mib:.1f} MiB after warm-up (bound {bound:.1f} MiB)")
        if rc != 0:
            problems.append(f"server exit code {rc}")
    report["problems"] = problems

    print(f"load test ({report['route']}): {args.requests} requests, {args.concurrency} concurrent streaming clients, "
          f"max_tokens {args.max_tokens}: {len(ok)} ok, {report['failed']} failed in {wall:.1f} s "
          f"(after a warm-up of {len(warm)} requests, {report['failed_in_warmup']} of them failed)")
    print(f"  throughput  {report['requests_per_s']} requests/s, {report['tokens_per_s']} generated tokens/s")
    print(f"  latency     p50 {report['latency_s']['p50'] * 1000:.0f} ms, p99 {report['latency_s']['p99'] * 1000:.0f} ms")
    print(f"  replay      {args.replay} requests run again alone: {len(replayed)} streamed other text or log-probabilities")
    print(f"  first token p50 {report['ttft_s']['p50'] * 1000:.0f} ms, p99 {report['ttft_s']['p99'] * 1000:.0f} ms")
    if server:
        print(f"  VmRSS       start {rss['start_kib'] / 1024:.1f} MiB, after warm-up "
              f"{rss['after_warmup_kib'] / 1024:.1f} MiB, peak {rss['peak_kib'] / 1024:.1f} MiB, "
              f"end {rss['end_kib'] / 1024:.1f} MiB "
              f"(growth {rss['growth_mib']} MiB, bound {rss['bound_mib']} MiB)")
    for r in failed[:10]:
        print(f"  failure: {r['error']}")
    for p in problems:
        print(f"load test FAILED: {p}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
