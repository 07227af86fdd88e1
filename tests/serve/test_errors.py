"""Bad requests get an OpenAI-shaped JSON error with the right 4xx status, and the server keeps serving."""
import openai
import pytest
from conftest import assert_openai_error

LONG_PROMPT = " hello" * 1100  # 1100 tokens: beyond any GPT-2 context (n_positions <= 1024)


def post(http, body=None, content=None):
    if content is not None:
        return http.post("/v1/completions", content=content, headers={"content-type": "application/json"})
    return http.post("/v1/completions", json=body)


def test_malformed_json(http):
    for content in (b"{not json", b"", b'{"prompt": "a",}', b"\xff\xfe"):
        r = post(http, content=content)
        assert r.status_code == 400, (content, r.text)
        assert_openai_error(r.json(), "invalid_request_error")


def test_body_not_an_object(http, model_id):
    for content in (b"[]", b'"prompt"', b"42", b"null"):
        r = post(http, content=content)
        assert r.status_code == 400, (content, r.text)
        assert_openai_error(r.json())


def test_unknown_field_named(http, model_id):
    r = post(http, {"model": model_id, "prompt": "a", "max_tokens": 2, "frobnicate": 1})
    assert r.status_code == 400
    err = assert_openai_error(r.json(), "invalid_request_error")
    assert "frobnicate" in err["message"] or err["param"] == "frobnicate"


BAD_FIELDS = [
    ("max_tokens", -1), ("max_tokens", "ten"), ("max_tokens", 1.5), ("n", 0), ("n", -2), ("temperature", -0.5),
    ("temperature", "hot"), ("top_p", 0), ("top_p", 1.5), ("logprobs", 21), ("logprobs", -1), ("top_k", -1),
    ("stop", ["a", "b", "c", "d", "e"]), ("stop", 5), ("seed", "abc"), ("stream", "yes"), ("echo", 3),
    ("repetition_penalty", 0), ("num_beams", 0), ("min_p", 2), ("typical_p", 0), ("no_repeat_ngram_size", -1),
    ("presence_penalty", 0.5), ("frequency_penalty", -1), ("best_of", 3), ("logit_bias", {"50256": -100}),
    ("suffix", "tail"), ("stream_options", {"include_usage": "yes"}),
    ("top_h", 2), ("encoder_repetition_penalty", 0), ("sequence_bias", [[1, 2]]), ("suppress_tokens", "x"),
    ("forced_eos_token_id", 50257), ("exponential_decay_length_penalty", [1]),
]


@pytest.mark.parametrize("field,value", BAD_FIELDS, ids=[f"{f}={v!r}"[:40] for f, v in BAD_FIELDS])
def test_bad_field_value(http, model_id, field, value):
    r = post(http, {"model": model_id, "prompt": "Hello", "max_tokens": 4, field: value})
    assert r.status_code == 400, r.text
    err = assert_openai_error(r.json(), "invalid_request_error")
    assert err["param"] == field or field in err["message"], err


@pytest.mark.parametrize("prompt", [5, {"text": "a"}, [], [[]], ["a", 1], [1, "a"], [-1],
                                    [50257], [[50257]]], ids=repr)
def test_bad_prompt(http, model_id, prompt):
    r = post(http, {"model": model_id, "prompt": prompt, "max_tokens": 2})
    assert r.status_code == 400, r.text
    assert_openai_error(r.json(), "invalid_request_error")


def test_prompt_too_long(complete):
    with pytest.raises(openai.BadRequestError) as e:
        complete(LONG_PROMPT, max_tokens=4)
    assert e.value.status_code == 400
    assert_openai_error(e.value.response.json(), "invalid_request_error")


def test_prompt_plus_max_tokens_beyond_context(complete):
    with pytest.raises(openai.BadRequestError) as e:
        complete(" hello" * 200, max_tokens=2000)
    assert_openai_error(e.value.response.json(), "invalid_request_error")


def test_negative_max_tokens_via_client(complete):
    with pytest.raises(openai.BadRequestError) as e:
        complete("Hello", max_tokens=-1)
    assert e.value.status_code == 400


def test_unknown_field_via_client(complete):
    with pytest.raises(openai.BadRequestError):
        complete("Hello", max_tokens=2, extra_body={"frobnicate": True})


def test_wrong_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello", max_tokens=2)
    err = assert_openai_error(e.value.response.json())
    assert err["code"] == "model_not_found"


def test_unknown_route_is_404(http):
    for method, path in (("GET", "/v1/nope"), ("POST", "/v1/chat/nope"), ("GET", "/v2/models")):
        r = http.request(method, path)
        assert r.status_code == 404, (method, path, r.status_code)
        assert_openai_error(r.json())


def test_stream_errors_before_streaming_are_plain_json(http, model_id):
    r = post(http, {"model": model_id, "prompt": "Hello", "max_tokens": -3, "stream": True})
    assert r.status_code == 400
    assert_openai_error(r.json())


def test_still_healthy_after_errors(http, complete):
    for content in (b"{", b"[1,2", b"\x00" * 64):
        post(http, content=content)
    assert http.get("/health").json() == {"status": "ok"}
    assert complete("Hello", max_tokens=2).choices[0].text
