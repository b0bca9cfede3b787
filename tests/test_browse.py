"""`voli browse` and exclusions.csv: the file format, the server's routes, and the page in Chromium."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from voli.browse.data import mahalanobis
from voli.browse.server import make_server
from voli.errors import VoliError
from voli.io.exclusions import (
    add_exclusion,
    apply_exclusions,
    read_exclusions,
    remove_exclusion,
)
from voli.workdir import Workdir, rel

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

# -- exclusions.csv ---------------------------------------------------------------------------------


def test_exclusions_round_trip(tmp_path):
    assert read_exclusions(tmp_path).empty
    add_exclusion(tmp_path, {"recording_id": "r1", "start": 1.049, "end": 1.099, "phone": "ɪ", "word": "did",
                             "speaker_id": "S1", "reason": 'creaky, "very"'})
    add_exclusion(tmp_path, {"recording_id": "r1", "start": 2.5, "phone": "a"})
    add_exclusion(tmp_path, {"recording_id": "r1", "start": 1.0490004, "phone": "ɪ", "reason": "misaligned"})  # same token
    table = read_exclusions(tmp_path)
    assert table.columns.tolist() == ["recording_id", "start", "end", "phone", "word", "speaker_id", "reason", "excluded_at"]
    assert len(table) == 2 and table.set_index("phone").loc["ɪ", "reason"] == "misaligned"
    assert table.start.dtype == float and table.excluded_at.str.match(r"\d{4}-\d\d-\d\dT").all()
    vowels = pd.DataFrame({"recording_id": ["r1", "r1", "r1", "r2"], "start": [1.0494, 1.0496, 2.5, 2.5],
                           "phone": ["ɪ", "ɪ", "a", "a"]})
    kept, n = apply_exclusions(vowels, table)
    assert n == 2 and kept.index.tolist() == [1, 3]  # 1.0494 s rounds to the listed 1.049 s; 1.0496 s does not
    assert remove_exclusion(tmp_path, "r1", 1.049, "ɪ") and not remove_exclusion(tmp_path, "r1", 1.049, "ɪ")
    assert read_exclusions(tmp_path).phone.tolist() == ["a"]


def test_exclusions_file_errors(tmp_path):
    path = tmp_path / "exclusions.csv"
    path.write_text("recording_id,start,phone\nr1,1.0,a\n")
    with pytest.raises(VoliError, match=r"missing column\(s\) end, word, speaker_id, reason, excluded_at"):
        read_exclusions(tmp_path)
    path.write_text("recording_id,start,end,phone,word,speaker_id,reason,excluded_at\nr1,1.0,,a,,,,\nr1,one,,a,,,,\n")
    with pytest.raises(VoliError, match=r"line 3: start 'one' is not a number"):
        read_exclusions(tmp_path)
    with pytest.raises(VoliError, match="without phone"):
        add_exclusion(tmp_path, {"recording_id": "r1", "start": 1.0})


def test_mahalanobis_finds_the_odd_token():
    rng = np.random.default_rng(0)
    rows = []
    for phone, (f1, f2) in {"i": (300, 2300), "a": (750, 1400), "u": (320, 800)}.items():
        for _ in range(12):
            rows.append({"speaker_id": "S1", "phone": phone, "f1_50_hz": f1 + rng.normal(0, 30),
                         "f2_50_hz": f2 + rng.normal(0, 80)})
    rows[5]["f1_50_hz"] = 600.0  # an /i/ measured like an /a/
    rows.append({"speaker_id": "S1", "phone": "o", "f1_50_hz": 450.0, "f2_50_hz": 900.0})  # one token: no distance
    rows.append({"speaker_id": "S2", "phone": "i", "f1_50_hz": 300.0, "f2_50_hz": 2300.0})  # too few tokens
    d = mahalanobis(pd.DataFrame(rows))
    assert np.nanargmax(d) == 5 and d[5] > 4 and d[5] > 2 * np.sort(d[np.isfinite(d)])[-2]
    assert np.isnan(d[-1]) and np.isnan(d[-2]) and np.isfinite(d[:-2]).all()


# -- the server, without a browser ------------------------------------------------------------------


def tiny_workdir(root: Path) -> Path:
    """A work directory over one stereo recording: 200 Hz on channel 1 (the interviewer), 500 Hz on
    channel 2 (S1); three /a/ and three /i/ tokens of S1."""
    corpus, w = root / "corpus", root / "exp"
    (corpus / "audio").mkdir(parents=True)
    sr = 16000
    t = np.arange(3 * sr) / sr
    sf.write(corpus / "audio" / "r1.wav", np.stack([0.3 * np.sin(2 * np.pi * 200 * t), 0.3 * np.sin(2 * np.pi * 500 * t)], 1), sr)
    Workdir(w).stage("prepare").mkdir(parents=True)
    Workdir(w).config("prepare").write_text(f"stage: prepare\ncorpus: {corpus}\n")
    pd.DataFrame({"recording_id": ["r1"], "audio_path": [str(corpus / "audio" / "r1.wav")], "sample_rate": [sr],
                  "channels": [2], "duration_s": [3.0]}).to_parquet(Workdir(w).table("prepare", "recordings"))
    pd.DataFrame({"recording_id": ["r1", "r1"], "speaker_id": ["INT", "S1"], "role": ["interviewer", "interviewee"],
                  "channel": [1.0, 2.0]}).to_parquet(Workdir(w).table("prepare", "recording_speakers"))
    pd.DataFrame({"speaker_id": ["INT", "S1"], "gender": ["man", "woman"]}).to_parquet(Workdir(w).table("prepare", "speakers"))
    Workdir(w).stage("align").mkdir()
    pd.DataFrame({"utterance_id": ["r1-000000"], "recording_id": ["r1"], "speaker_id": ["S1"], "start": [0.1],
                  "end": [2.9], "n_phones": [12], "log_likelihood": [-50.0], "status": ["aligned"]}
                 ).to_parquet(Workdir(w).table("align", "utterances"))
    starts = [0.2, 0.6, 1.0, 1.4, 1.8, 2.2]
    pd.DataFrame({"recording_id": "r1", "utterance_id": "r1-000000", "speaker_id": "S1", "word_index": [i for i in range(6) for _ in (0, 1)],
                  "start": [s for s in starts for s in (s - 0.1, s)], "end": [s for s in starts for s in (s, s + 0.1)],
                  "phone": [p for p in "aiaiai" for p in ("t", p)]}).to_parquet(Workdir(w).table("align", "phones"))
    Workdir(w).stage("features").mkdir()
    pd.DataFrame({"recording_id": "r1", "utterance_id": "r1-000000", "speaker_id": "S1", "role": "interviewee",
                  "language": "xx", "word_index": range(6), "word": ["ta", "ti"] * 3, "phone": list("aiaiai"),
                  "previous_phone": "t", "next_phone": None, "is_filler": False, "start": starts,
                  "end": [s + 0.1 for s in starts], "duration_s": 0.1, "f1_50_hz": [700, 300, 720, 310, 760, 290],
                  "f2_50_hz": [1400, 2300, 1350, 2250, 1450, 2350], "word_probability": 0.9, "log_likelihood": -50.0,
                  "ceiling_hz": 5500.0, "checked": [True, True, False, False, False, False]}
                 ).to_parquet(Workdir(w).table("features", "vowels"))
    return w


@pytest.fixture
def served(tmp_path):
    server = make_server(tiny_workdir(tmp_path), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def get(server, path: str):
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type"), err.read()


def send(server, path: str, body: dict | None = None, method: str = "POST", headers: dict | None = None):
    """(status, text) of a request as the page sends it: JSON, the session's token, the server's own
    origin; ``headers`` replaces or (with None as the value) leaves out any of those headers."""
    base = server.url.rstrip("/")
    sent = {"Content-Type": "application/json", "X-Voli-Token": server.token, "Origin": base}
    sent.update(headers or {})
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={k: v for k, v in sent.items() if v is not None})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def post(server, path: str, body: dict):
    status, text = send(server, path, body)
    assert status == 200, text
    return json.loads(text)


def test_audio_is_the_span_of_the_speakers_channel(served):
    status, kind, body = get(served, "/audio?recording=r1&start=1.0&end=1.25&speaker=S1")
    assert status == 200 and kind == "audio/wav"
    import io

    samples, sr = sf.read(io.BytesIO(body))
    assert sr == 16000 and samples.ndim == 1 and len(samples) == 4000  # 0.25 s
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * sr / len(samples) - 500) < 10  # S1's channel (2), not the interviewer's
    _, _, body = get(served, "/audio?recording=r1&start=1.0&end=1.25&speaker=INT")
    samples, _ = sf.read(io.BytesIO(body))
    assert abs(np.argmax(np.abs(np.fft.rfft(samples))) * sr / len(samples) - 200) < 10


def test_bad_requests_say_what_is_wrong(served):
    status, _, body = get(served, "/audio?recording=r9&start=1&end=2")
    assert status == 400 and b"unknown recording 'r9'; the work directory has r1" in body
    status, _, body = get(served, "/audio?recording=r1&start=2&end=1")
    assert status == 400 and b"give start < end" in body
    status, _, body = get(served, "/audio?recording=r1&start=5&end=6")
    assert status == 400 and b"past the recording's end" in body
    assert get(served, "/static/../../etc/passwd")[0] == 404


def test_page_data_spectrogram_and_exclusions(served):
    status, _, body = get(served, "/api/data")
    data = json.loads(body)
    assert status == 200 and len(data["tokens"]) == 6 and data["excluded"] == []
    token = data["tokens"][2]
    assert (token["word_start"], token["word_end"], token["utt_start"]) == (0.9, 1.1, 0.1)
    assert [t["checked"] for t in data["tokens"]] == [True, True, False, False, False, False]  # corrected by hand
    assert data["recordings"]["r1"]["praat"] is None  # no TextGrid in this work directory
    status, kind, png = get(served, "/spectrogram.png?recording=r1&start=0.8&end=1.3&speaker=S1&mark_start=1&mark_end=1.1")
    assert status == 200 and kind == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"  # tracks measured through Praat
    assert post(served, "/api/exclude", {"token_id": 2, "reason": "noise"})["excluded"] == [2]
    table = read_exclusions(served.data.path)
    assert table[["recording_id", "start", "phone", "word", "speaker_id", "reason"]].values.tolist() == \
        [["r1", 1.0, "a", "ta", "S1", "noise"]]
    assert post(served, "/api/include", {"token_id": 2})["excluded"] == []
    assert read_exclusions(served.data.path).empty


def test_a_tokens_trajectory_is_drawn_on_its_spectrogram(served):
    """With the features stage's vowel_tracks, the token's 11 points (F1 and F2) are drawn over the
    spectrogram: the same request gives another image, and the server found the token's 11 rows."""
    query = "/spectrogram.png?recording=r1&start=0.8&end=1.3&speaker=S1&mark_start=1&mark_end=1.1"
    _, _, without = get(served, query)
    points = np.arange(0, 101, 10)
    pd.DataFrame({"recording_id": "r1", "utterance_id": "r1-000000", "speaker_id": "S1", "role": "interviewee",
                  "language": "xx", "phone": "a", "word": "ta", "start": 1.0, "end": 1.1, "point": points,
                  "time_s": 1.0 + points / 1000, "f1_hz": 700.0, "f2_hz": 1200.0 + 4 * points, "f3_hz": 2500.0,
                  "reliable": points < 100, "problem": None, "ceiling_hz": 5500.0}
                 ).to_parquet(Workdir(served.data.path).table("features", "vowel_tracks"))
    track = served.data.vowel_track("r1", 1.0, "S1")
    assert list(track.point) == list(points) and served.data.vowel_track("r1", 1.4, "S1") is None
    status, kind, with_track = get(served, query)
    assert status == 200 and kind == "image/png" and with_track != without


def test_the_page_carries_the_session_token(served):
    status, kind, page = get(served, "/")
    assert status == 200 and kind.startswith("text/html") and len(served.token) >= 40
    assert f'<meta name="voli-token" content="{served.token}">'.encode() in page and b"__VOLI_TOKEN__" not in page
    assert get(served, "/static/index.html")[2] == page
    other = make_server(served.data.path, port=0)
    assert other.token != served.token  # drawn afresh for each server
    other.server_close()


def test_changes_need_the_token_and_the_servers_own_origin(served):
    """CSRF: a page of another site may send a POST to 127.0.0.1 but can neither read the token nor
    set its own Origin; DNS rebinding: it reaches the server under its own name in Host."""
    base = served.url.rstrip("/")
    exclude = {"token_id": 2, "reason": "forged"}
    refused = [  # (headers, what the 403 names)
        ({"Origin": "http://evil.example"}, "Origin 'http://evil.example' is not this server's"),
        ({"Origin": "null"}, "Origin 'null'"),
        ({"Origin": base.replace("127.0.0.1", "localhost")}, "is not this server's"),  # another origin
        ({"Origin": None, "Referer": "http://evil.example/page.html"}, "Referer 'http://evil.example/page.html'"),
        ({"X-Voli-Token": None}, "no X-Voli-Token header"),
        ({"X-Voli-Token": served.token[:-1] + "x"}, "wrong X-Voli-Token"),
        ({"X-Voli-Token": ""}, "no X-Voli-Token header"),
        ({"Host": f"evil.example:{served.server_address[1]}", "Origin": f"http://evil.example:{served.server_address[1]}"},
         "Host 'evil.example:"),
        ({"Host": "127.0.0.1:1"}, "Host '127.0.0.1:1' is not this server"),
    ]
    for headers, message in refused:
        for path in ("/api/exclude", "/api/include"):
            status, text = send(served, path, exclude, headers=headers)
            assert status == 403 and message in text and text.startswith("voli browse refused this request: "), \
                (headers, path, status, text)
    status, text = send(served, "/api/exclude", exclude, method="DELETE", headers={"X-Voli-Token": None})
    assert status == 403 and "no X-Voli-Token header" in text
    assert not (served.data.path / "exclusions.csv").exists()  # nothing was written
    # the page's own requests: same origin (127.0.0.1 or localhost, as the browser opened it), or no Origin
    assert post(served, "/api/exclude", exclude)["excluded"] == [2]
    status, text = send(served, "/api/include", {"token_id": 2}, headers={
        "Host": f"localhost:{served.server_address[1]}", "Origin": base.replace("127.0.0.1", "localhost")})
    assert status == 200 and json.loads(text)["excluded"] == []
    status, text = send(served, "/api/exclude", exclude, headers={"Origin": None, "Referer": base + "/"})
    assert status == 200 and json.loads(text)["excluded"] == [2]
    assert read_exclusions(served.data.path).reason.tolist() == ["forged"]


def test_reading_needs_the_servers_own_host(served):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reads nothing."""
    for path in ("/", "/api/data", "/audio?recording=r1&start=1&end=1.2", "/static/app.js"):
        req = urllib.request.Request(served.url.rstrip("/") + path, headers={"Host": f"evil.example:{served.server_address[1]}"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert err.value.code == 403 and b"Host 'evil.example:" in err.value.read()
    assert get(served, "/api/data")[0] == 200  # its own Host: read without a token


def test_a_moved_corpus_is_found_with_corpus(tmp_path):
    w = tiny_workdir(tmp_path)
    shutil.move(tmp_path / "corpus", tmp_path / "moved")
    server = make_server(w, port=0)
    with pytest.raises(VoliError, match="--corpus NEW_CORPUS_DIR"):
        server.data.audio_path("r1")
    server.server_close()
    server = make_server(w, port=0, corpus=tmp_path / "moved")
    assert server.data.audio_path("r1") == tmp_path / "moved" / "audio" / "r1.wav"
    server.server_close()


# -- the page in Chromium ---------------------------------------------------------------------------


def chrome_driver(user_data: Path):
    """Headless Chromium through chromedriver (tests that call it are marked needs("chromium"))."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (requirements.lock)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1250", f"--user-data-dir={user_data}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def wait_for(condition, timeout: float = 10.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.needs("chromium")
def test_clicking_a_vowel_plays_it_and_exclude_writes_it(profiled, tmp_path):
    """On corpora_sample: hover and click a token of the chart; the page asks the server for that
    token's span of its recording; "Exclude" writes it to exclusions.csv. Screenshot: /tmp/browse.png."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _, work, _ = profiled
    copy = tmp_path / "exp"  # exclusions.csv goes into a copy, not into the session's work directory
    shutil.copytree(work, copy, ignore=shutil.ignore_patterns("parts", "model"))
    vowels = pd.read_parquet(Workdir(copy).table("features", "vowels"))
    driver = chrome_driver(Path(tempfile.mkdtemp(dir=tmp_path)))
    server = make_server(copy, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        driver.get(server.url)
        wait_for(lambda: driver.execute_script("return document.body.dataset.ready === 'true'"), what="the page")
        # a point nothing else covers, so that the click lands on it
        circle = driver.execute_script("""
            for (const c of document.querySelectorAll('#chart circle.token')) {
              const r = c.getBoundingClientRect();
              if (document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === c) return c;
            }""")
        token_id = int(circle.get_attribute("data-id"))
        token = vowels.iloc[token_id]
        ActionChains(driver).move_to_element(circle).perform()
        tooltip = wait_for(lambda: driver.find_element(By.ID, "tooltip").text, what="the tooltip")
        assert token.word in tooltip and token.speaker_id in tooltip and f"F1 {token.f1_50_hz:.0f} Hz" in tooltip
        ActionChains(driver).click(circle).perform()
        asked = wait_for(lambda: [p for p in server.requests if p.startswith("/audio?")], what="an /audio request")
        query = parse_qs(urlsplit(asked[0]).query)
        assert query["recording"] == [token.recording_id] and query["speaker"] == [token.speaker_id]
        assert float(query["start"][0]) == pytest.approx(token.start, abs=1e-9)
        assert float(query["end"][0]) == pytest.approx(token.end, abs=1e-9)
        wait_for(lambda: any(p.startswith("/spectrogram.png?") for p in server.requests), what="the spectrogram")
        assert driver.find_element(By.ID, "praat-command").text.startswith("praat --open ")
        assert rel("align", "textgrids", f"{token.recording_id}.TextGrid") in driver.find_element(By.ID, "textgrid-path").text
        driver.find_element(By.ID, "reason").send_keys("checked by ear")
        driver.find_element(By.ID, "exclude").click()
        wait_for(lambda: (copy / "exclusions.csv").is_file(), what="exclusions.csv")
        table = read_exclusions(copy)
        assert table[["recording_id", "phone", "word", "speaker_id", "reason"]].values.tolist() == \
            [[token.recording_id, token.phone, token.word, token.speaker_id, "checked by ear"]]
        kept, n = apply_exclusions(vowels, table)
        assert n == 1 and len(kept) == len(vowels) - 1
        point = f'#chart circle[data-id="{token_id}"]'  # the chart is redrawn: find the point again
        wait_for(lambda: "excluded" in driver.find_element(By.CSS_SELECTOR, point).get_attribute("class"),
                 what="the point to show it is excluded")
        assert driver.find_element(By.ID, "exclude").text == "Include again"
        # "checked by hand only": no recording of the sample was corrected, so the chart empties, then fills again
        count = "return document.querySelectorAll('#chart circle.token').length"
        shown = driver.execute_script(count)
        driver.find_element(By.ID, "checked-only").click()
        wait_for(lambda: driver.execute_script(count) == 0, what="the chart without unchecked tokens")
        driver.find_element(By.ID, "checked-only").click()
        wait_for(lambda: driver.execute_script(count) == shown, what="the chart with every token again")
        duration = wait_for(lambda: driver.execute_script(
            "const a = document.getElementById('player'); return a.readyState >= 1 && a.duration"), what="the audio")
        assert duration == pytest.approx(token.end - token.start, abs=0.002)  # the player holds the token's span
        wait_for(lambda: driver.execute_script(
            "const i = document.getElementById('spectrogram'); return i.complete && i.naturalWidth > 0"),
            timeout=20, what="the spectrogram image")
        driver.save_screenshot("/tmp/browse.png")
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
