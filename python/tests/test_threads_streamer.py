"""Several Python threads generating on one model at once give the sequential results (the GIL is released during
generation); TextIteratorStreamer streams the text from another thread, as in HF."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import jitgen
from conftest import load_fixture

_CASES = [c for c in load_fixture("generation_goldens.json")["cases"] if c["model"] == "small"][:16]


@pytest.mark.parametrize("mode", ["compiled", "eager"])
def test_threads_give_sequential_results(model_dirs, mode):
    model = jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["small"], mode=mode)

    def run(case):
        return model.generate(input_ids=np.array(case["input_ids"]), attention_mask=np.array(case["attention_mask"]),
                              **case["config"])

    sequential = [run(c) for c in _CASES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(run, _CASES * 2))
    for i, out in enumerate(concurrent):
        np.testing.assert_array_equal(out, sequential[i % len(_CASES)])
        assert out.tolist() == _CASES[i % len(_CASES)]["sequences"]


def test_gil_released_during_generation(model_dirs):
    model = jitgen.AutoModelForCausalLM.from_pretrained(model_dirs["tiny"], mode="eager")
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        model.generate(np.array([[464, 2068, 7586]]), max_new_tokens=40, do_sample=False, pad_token_id=50256)
    finally:
        stop.set()
        t.join()
    assert len(ticks) > 1


def test_text_iterator_streamer(tiny_dir):
    tokenizer = jitgen.AutoTokenizer.from_pretrained(tiny_dir)
    model = jitgen.AutoModelForCausalLM.from_pretrained(tiny_dir)
    inputs = tokenizer(["Hello, my name is"], return_tensors="np")
    kw = dict(max_new_tokens=15, do_sample=True, seed=(7, 1), top_k=20)
    expected = model.generate(**inputs, **kw)

    streamer = jitgen.TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=60)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("out", model.generate(**inputs, streamer=streamer, **kw)))
    thread.start()
    pieces = list(streamer)
    thread.join()
    np.testing.assert_array_equal(result["out"], expected)
    assert len(pieces) > 1
    assert "".join(pieces) == tokenizer.decode(expected[0, inputs["input_ids"].shape[1]:])

    streamer = jitgen.TextIteratorStreamer(tokenizer)  # skip_prompt=False: the prompt text comes first
    thread = threading.Thread(target=model.generate, kwargs=dict(**inputs, streamer=streamer, **kw))
    thread.start()
    text = "".join(streamer)
    thread.join()
    assert text == tokenizer.decode(expected[0])


def test_streamer_rejects_beams_and_batches(tiny_dir):
    tokenizer = jitgen.AutoTokenizer.from_pretrained(tiny_dir, pad_token="<|endoftext|>", padding_side="left")
    model = jitgen.AutoModelForCausalLM.from_pretrained(tiny_dir)
    streamer = jitgen.TextIteratorStreamer(tokenizer)
    with pytest.raises(jitgen.JitgenError, match="beam search"):
        model.generate(**tokenizer(["a b"], return_tensors="np"), num_beams=2, streamer=streamer)
    with pytest.raises(jitgen.JitgenError, match="batch size 1"):
        model.generate(**tokenizer(["a b", "c"], return_tensors="np", padding=True), streamer=streamer)
