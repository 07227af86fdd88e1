"""The HF "Faster text generation with TensorFlow and XLA" post's examples, unchanged except the import line (and
the model folder: a random GPT-2 with the real GPT-2 tokenizer, made by the test)."""
import numpy as np

from jitgen import AutoTokenizer, TFAutoModelForCausalLM, AutoModelForCausalLM  # was: from transformers import ...


def test_sampling_beam_and_padding_examples(tiny_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = TFAutoModelForCausalLM.from_pretrained(tiny_dir)
    model.config.pad_token_id = model.config.eos_token_id
    inputs = tokenizer(["TensorFlow is"], return_tensors="np")

    generated = model.generate(**inputs, do_sample=True, seed=(42, 0))
    T = inputs["input_ids"].shape[1]
    text = tokenizer.decode(generated[0])
    assert text.startswith("TensorFlow is") and generated.shape == (1, T + 20)
    again = model.generate(**inputs, do_sample=True, seed=(42, 0))
    np.testing.assert_array_equal(generated, again)  # stateless seeded sampling: same seed, same text

    generated = model.generate(**inputs, do_sample=True, seed=(42, 0), temperature=0.7, top_k=10)
    assert generated.shape == (1, T + 20)
    generated = model.generate(**inputs, do_sample=True, seed=(42, 0), top_p=0.9)
    assert generated.shape == (1, T + 20)

    generated = model.generate(**inputs, num_beams=2)
    assert generated.shape[0] == 1 and tokenizer.decode(generated[0]).startswith("TensorFlow is")
    generated = model.generate(**inputs, num_beams=2, num_return_sequences=2, return_dict_in_generate=True,
                               output_scores=True)
    assert generated.sequences.shape[0] == 2 and generated.sequences_scores.shape == (2,)
    assert generated.sequences_scores[0] >= generated.sequences_scores[1]


def test_padding_example_greedy_matches_unpadded(tiny_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir, padding_side="left", pad_token="</s>")
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    model.config.pad_token_id = model.config.eos_token_id
    input_1 = ["TensorFlow is"]
    input_2 = ["TensorFlow is a"]

    tokenized_input_1 = tokenizer(input_1, return_tensors="np")  # length = 4
    tokenized_input_2 = tokenizer(input_2, return_tensors="np")  # length = 5
    assert tokenized_input_1["input_ids"].shape == (1, 4) and tokenized_input_2["input_ids"].shape == (1, 5)

    padding_kwargs = {"pad_to_multiple_of": 8, "padding": True}
    tokenized_input_1_with_padding = tokenizer(input_1, return_tensors="np", **padding_kwargs)  # length = 8
    tokenized_input_2_with_padding = tokenizer(input_2, return_tensors="np", **padding_kwargs)  # length = 8
    assert tokenized_input_1_with_padding["input_ids"].shape == (1, 8)
    assert tokenized_input_1_with_padding["attention_mask"].tolist() == [[0] * 4 + [1] * 4]
    assert tokenized_input_1_with_padding["input_ids"][0, 0] == tokenizer.pad_token_id == 50256  # "</s>" -> unk

    for plain, padded in ((tokenized_input_1, tokenized_input_1_with_padding),
                          (tokenized_input_2, tokenized_input_2_with_padding)):
        a = model.generate(**plain, max_new_tokens=20, do_sample=False)
        b = model.generate(**padded, max_new_tokens=20, do_sample=False)
        T, Tp = plain["input_ids"].shape[1], padded["input_ids"].shape[1]
        np.testing.assert_array_equal(a[:, T:], b[:, Tp:])
        assert tokenizer.batch_decode(b, skip_special_tokens=True) == tokenizer.batch_decode(a, skip_special_tokens=True)


def test_greedy_equals_hf_golden(tiny_dir, generation_goldens):
    # HF's greedy tokens on "Hello, my name is" (the stop-string golden cases stop on text, after these tokens).
    case = next(c for c in generation_goldens["cases"] if c["name"] == "stop_string_p0")
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    inputs = tokenizer(["Hello, my name is"], return_tensors="np")
    assert inputs["input_ids"].tolist() == case["input_ids"]
    out = model.generate(**inputs, max_new_tokens=20, do_sample=False, pad_token_id=50256)
    golden = case["sequences"][0]
    assert out[0, :len(golden)].tolist() == golden
    stopped = model.generate(**inputs, tokenizer=tokenizer, **case["config"])
    assert stopped.tolist() == case["sequences"]
