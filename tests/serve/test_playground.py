"""The playground page at / in headless Chromium (Debian's chromium + chromium-driver, driven by selenium): type a
prompt, Generate, wait for the stream to finish, check the output and the statistics. Chat mode against the HF
chat-model folder tests/fixtures/chat_model/qwen2-chat: turns, history and Reset give the replies HF computed for the
same turns (the `jitgen chat` transcript of scripts/make_chat_model.py). With JITGEN_SCREENSHOT=1 the pages are
saved to docs/playground.png and docs/playground-chat.png."""
import json
import os
import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMEDRIVER):
        pytest.fail(f"{CHROMEDRIVER} missing: apt-get install chromium chromium-driver (scripts/install-deps.sh)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,860", "--force-device-scale-factor=1", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


def state(drv):
    return drv.execute_script("return document.body.dataset.state")


def fill(drv, element_id, value):
    el = drv.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(value)


def test_page_is_self_contained(http):
    r = http.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for needle in ('id="prompt"', 'id="max_tokens"', 'id="temperature"', 'id="generate"', 'id="output"',
                   'id="stats"', 'id="mode_chat"', 'id="chat_log"', 'id="system"', 'id="reset"'):
        assert needle in html
    assert "http://" not in html.replace("http://HOST", "") and "https://" not in html, "external URL in the page"
    assert html == (REPO / "src/serve/playground.html").read_text(), "served page differs from the source file"


def greedy_diagnosis(complete, prompt, max_tokens, want):
    """For a failure message: whether the API repeats itself, and its closest top-2 calls (a near tie that rounding
    could flip shows as a margin of ~1e-6; large margins everywhere with a different page text point elsewhere)."""
    again = [complete(prompt, max_tokens=max_tokens).choices[0].text == want for _ in range(2)]
    lp = complete(prompt, max_tokens=max_tokens, logprobs=2).choices[0].logprobs
    margins = []
    for i, top in enumerate(lp.top_logprobs or []):
        values = sorted(top.values(), reverse=True)
        if len(values) == 2:
            margins.append((values[0] - values[1], i, lp.tokens[i], top))
    margins.sort(key=lambda m: m[0])
    return f"the same request again equal: {again}; smallest top-2 margins (margin, step, token, top-2): {margins[:3]}"


def test_playground_streams_a_completion(server, browser, complete):
    drv = browser
    drv.get(server.url + "/")
    WebDriverWait(drv, 10).until(lambda d: d.find_element(By.ID, "model").text not in ("", "…"))
    assert state(drv) == "idle"
    prompt = "Once upon a time, in a quiet village,"
    fill(drv, "prompt", prompt)
    fill(drv, "max_tokens", "48")
    fill(drv, "temperature", "0")
    seen = set()
    drv.find_element(By.ID, "generate").click()
    WebDriverWait(drv, 60, poll_frequency=0.02).until(
        lambda d: seen.add(state(d)) or state(d) in ("done", "error"))
    assert state(drv) == "done", drv.find_element(By.ID, "output").text
    assert "streaming" in seen or len(seen) >= 1
    out = drv.find_element(By.ID, "output").text
    assert out.startswith(prompt.strip())
    generated = out[len(prompt):]
    assert generated.strip(), "no generated text"
    # The page shows what the API returns for the same greedy request (whitespace as the browser renders it).
    want = complete(prompt, max_tokens=48).choices[0].text
    if " ".join(generated.split()) != " ".join(want.split()):
        pytest.fail(f"page shows {generated!r}, the API gave {want!r}; {greedy_diagnosis(complete, prompt, 48, want)}")
    stats = drv.find_element(By.ID, "stats").text
    tokens = int(drv.find_element(By.ID, "stat_tokens").text)
    assert tokens == complete(prompt, max_tokens=48).usage.completion_tokens
    assert "ms" in drv.find_element(By.ID, "stat_ttft").text
    rate = drv.find_element(By.ID, "stat_rate").text
    assert rate == "–" or float(rate) > 0, stats
    assert drv.find_element(By.ID, "stat_finish").text in ("length", "stop")
    if os.environ.get("JITGEN_SCREENSHOT") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        assert drv.save_screenshot(str(REPO / "docs/playground.png"))


def test_playground_shows_errors(server, browser):
    drv = browser
    drv.get(server.url + "/")
    fill(drv, "prompt", "Hello")
    fill(drv, "max_tokens", "5000")  # beyond the context: the server answers 400
    drv.find_element(By.ID, "generate").click()
    WebDriverWait(drv, 30).until(lambda d: state(d) in ("done", "error"))
    assert state(drv) == "error"
    assert "400" in drv.find_element(By.ID, "output").text


def test_playground_stop_button_aborts(server, browser, http):
    drv = browser
    drv.get(server.url + "/")
    fill(drv, "prompt", "A very long story:")
    fill(drv, "max_tokens", "200")
    fill(drv, "temperature", "1")
    drv.find_element(By.ID, "generate").click()
    WebDriverWait(drv, 30, poll_frequency=0.01).until(
        lambda d: state(d) != "streaming" or d.find_element(By.ID, "stat_tokens").text not in ("–", "0"))
    if state(drv) == "streaming":
        drv.find_element(By.ID, "abort").click()
    WebDriverWait(drv, 10).until(lambda d: state(d) in ("done", "error"))
    assert state(drv) == "done"
    assert drv.find_element(By.ID, "stat_finish").text in ("stopped", "length", "stop")
    from conftest import metrics, wait_for
    assert wait_for(lambda: metrics(http)["jitgen_slots_busy"] == 0, 3)


def test_playground_shows_errors_in_chat_mode(server, browser):
    """The default server's model has no chat template: the chat turn shows the server's 400."""
    drv = browser
    drv.get(server.url + "/")
    drv.find_element(By.ID, "mode_chat").click()
    assert drv.execute_script("return document.body.dataset.mode") == "chat"
    fill(drv, "prompt", "Hello")
    drv.find_element(By.ID, "generate").click()
    WebDriverWait(drv, 30).until(lambda d: state(d) in ("done", "error"))
    assert state(drv) == "error"
    assert "has no chat template" in drv.find_element(By.ID, "chat_log").text


@pytest.fixture(scope="module")
def chat_server():
    from serverproc import Server
    with Server("--model", str(REPO / "tests/fixtures/chat_model/qwen2-chat"), "--max-batch", "2") as srv:
        yield srv


def test_playground_chat_keeps_history_streams_and_resets(chat_server, browser):
    cli = json.loads((REPO / "tests/fixtures/chat_model/goldens.json").read_text())["cli"]
    turns = [t for t in cli["turns"][: cli["turns"].index("/exit")]]
    drv = browser
    drv.get(chat_server.url + "/")
    WebDriverWait(drv, 10).until(lambda d: d.find_element(By.ID, "model").text not in ("", "…"))
    drv.find_element(By.ID, "mode_chat").click()
    fill(drv, "max_tokens", str(cli["max_new_tokens"]))
    fill(drv, "temperature", "0")
    replies = iter(cli["replies"])
    shown = 0
    for turn in turns:
        if turn == "/reset":
            drv.find_element(By.ID, "reset").click()
            assert drv.find_elements(By.CSS_SELECTOR, "#chat_log .msg") == []
            shown = 0
            continue
        fill(drv, "prompt", turn)
        seen = set()
        drv.find_element(By.ID, "generate").click()
        WebDriverWait(drv, 60, poll_frequency=0.02).until(
            lambda d: seen.add(state(d)) or state(d) in ("done", "error"))
        assert state(drv) == "done", drv.find_element(By.ID, "chat_log").text
        msgs = drv.find_elements(By.CSS_SELECTOR, "#chat_log .msg")
        shown += 2
        assert len(msgs) == shown  # the whole conversation stays on the page
        assert msgs[-2].get_attribute("class") == "msg user" and msgs[-1].get_attribute("class") == "msg assistant"
        assert msgs[-2].find_element(By.CLASS_NAME, "text").text == turn
        reply = msgs[-1].find_element(By.CLASS_NAME, "text").get_attribute("textContent")
        # HF's reply for this turn given the history so far (the second turn's depends on the first)
        assert reply == next(replies)
        assert drv.find_element(By.ID, "prompt").get_attribute("value") == ""  # ready for the next turn
    assert next(replies, None) is None
    assert drv.find_element(By.ID, "stat_finish").text in ("stop", "length")
    if os.environ.get("JITGEN_SCREENSHOT") == "1":
        assert drv.save_screenshot(str(REPO / "docs/playground-chat.png"))
