"""The studio in a real browser: `deepexpr serve` in a subprocess, Debian's Chromium driven
by Selenium (no browser download), a fake webcam fed from real face frames.

Skipped when chromium / chromedriver / selenium / the web extra are missing (scripts/test.sh
installs them). Screenshots go to the test's temporary folder; with
DEEPEXPR_SCREENSHOTS=DIR they are also written to DIR (the README's come from `docs/`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from studio_helpers import SMALL_INDEX, astronaut, webcam_frames, write_y4m

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                       reason="needs Debian chromium + chromium-driver (scripts/test.sh installs them)"),
]
pytest.importorskip("selenium")
pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`deepexpr serve` on a free loopback port; yields its base URL."""
    port = _free_port()
    opts = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL_INDEX.items()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "deepexpr.cli", "serve", "--port", str(port), *opts],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240  # a fresh cache renders and embeds the small index first
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"deepexpr serve did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder = tmp_path_factory.mktemp("chromium")
    y4m = write_y4m(folder / "webcam.y4m", webcam_frames(30))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={folder / 'profile'}", "--window-size=1280,800",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={y4m}", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, script: str, timeout: float = 90):
    """Poll a JS expression until it is truthy; return its value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for: {script}")


def _shot(driver, tmp_path: Path, name: str, full_page: bool = False) -> Path:
    import base64

    path = tmp_path / f"studio_{name}.png"
    if full_page:  # the whole page, not only the 1280x800 viewport (Chromium's DevTools call)
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
    else:
        driver.save_screenshot(str(path))
    target = os.environ.get("DEEPEXPR_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
    return path


def test_photo_view_shows_faces_labels_matches_drawing_and_puppet(server, browser, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By

    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut()).save(photo)
    browser.get(server + "/#photo")
    _wait(browser, "document.body.dataset.ready === '1'")
    assert "ready" in browser.find_element(By.ID, "health").text
    browser.find_element(By.ID, "photo-input").send_keys(str(photo))
    _wait(browser, "document.querySelectorAll('.face-card').length > 0")
    cards = browser.find_elements(By.CSS_SELECTOR, ".face-card")
    assert len(cards) == 1
    assert cards[0].get_attribute("data-label") == "joy"  # the astronaut smiles
    top = cards[0].find_element(By.CSS_SELECTOR, ".bar.best").get_attribute("data-expression")
    assert top == "joy"
    assert "quality good" in cards[0].text and "between the eyes" in cards[0].text  # the pipeline's fields
    _wait(browser, "document.querySelector('.face-card .puppet').complete && "
                   "document.querySelector('.face-card .puppet').naturalWidth > 0")
    assert "(rig)" in cards[0].find_element(By.CSS_SELECTOR, ".puppet").get_attribute("alt")
    _wait(browser, "[...document.querySelectorAll('.match-char img')].length >= 3 && "
                   "[...document.querySelectorAll('.match-char img')].every(i => i.complete && i.naturalWidth > 0)")
    names = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".match-char > span")}
    assert names == {"pip", "mika", "zorp"}
    _wait(browser, "document.querySelector('.drawing img') && document.querySelector('.drawing img').naturalWidth > 0")
    load_ms = browser.execute_script("const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;")
    assert load_ms > 0
    _shot(browser, tmp_path, "photo", full_page=True)
    # narrow window: the page reflows instead of scrolling sideways
    browser.set_window_size(420, 900)
    time.sleep(0.5)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(browser, tmp_path, "narrow")
    browser.set_window_size(1280, 800)


@pytest.mark.parametrize("query", ["", "?live=page"])  # the live worker (raw frames on loopback); the page-thread loop
def test_live_view_processes_webcam_frames(server, browser, tmp_path, query):
    from selenium.webdriver.common.by import By

    browser.get(server + "/" + query)
    _wait(browser, "document.body.dataset.ready === '1'")
    browser.find_element(By.CSS_SELECTOR, ".tab[data-view=live]").click()
    browser.find_element(By.ID, "live-start").click()
    _wait(browser, "Number(document.getElementById('live-frames').textContent) >= 15", timeout=60)
    label = _wait(browser, "document.querySelector('#live-bars .bar.best') && "
                           "document.querySelector('#live-bars .bar.best').dataset.expression")
    assert label == "joy"
    _wait(browser, "document.getElementById('live-puppet').dataset.shown === '1'")  # a binary puppet frame drawn
    assert browser.execute_script("return document.querySelectorAll('#live-boxes .face-box:not([hidden])').length") == 1
    assert browser.find_element(By.ID, "live-puppet-source").text == "rig"
    assert browser.find_element(By.ID, "live-fps").text != "–"
    assert browser.find_element(By.ID, "live-server").text.endswith("ms")
    sent = browser.execute_script("return window.studioLiveStats.sent")
    assert (sent == "jpeg") == (query == "?live=page"), sent  # the worker sends the camera's own pixels here
    regions, frames = browser.execute_script("const s = window.studioLiveStats; return [s.regions, s.rtt.length];")
    if not query:  # ... and mostly only the region the server asked for (whole frames for its detector)
        assert regions >= 0.6 * frames, (regions, frames)
    else:
        assert regions == 0
    if not query:
        _shot(browser, tmp_path, "live", full_page=True)
    browser.find_element(By.ID, "live-stop").click()
    assert "frames processed" in browser.find_element(By.ID, "live-status").text


def test_characters_and_animate_views(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _wait(browser, "document.body.dataset.ready === '1'")
    browser.find_element(By.CSS_SELECTOR, ".tab[data-view=characters]").click()
    rows = _wait(browser, "document.querySelectorAll('table.chars tbody tr').length")
    assert rows >= 9 and len(browser.find_elements(By.CSS_SELECTOR, "table.chars img")) == rows * 7
    browser.find_element(By.ID, "random-seed").send_keys("7")
    browser.find_element(By.ID, "random-character").click()
    _wait(browser, "document.querySelectorAll('#random-row img').length === 7 && "
                   "[...document.querySelectorAll('#random-row img')].every(i => i.complete && i.naturalWidth > 0)")
    assert browser.find_element(By.ID, "random-json").get_attribute("href").endswith("rand_7_0.json")
    _wait(browser, "[...document.querySelectorAll('table.chars img')].slice(0, 14).every(i => i.complete && i.naturalWidth > 0)")
    _shot(browser, tmp_path, "characters")
    browser.find_element(By.CSS_SELECTOR, ".tab[data-view=animate]").click()
    frames = browser.find_element(By.ID, "animate-frames")
    frames.clear()
    frames.send_keys("12")
    browser.find_element(By.ID, "animate-go").click()
    _wait(browser, "!document.getElementById('animate-strip').hidden && "
                   "document.getElementById('animate-strip').naturalWidth > 0", timeout=240)
    assert browser.find_element(By.ID, "animate-glb").get_attribute("href").endswith("animation.glb")
    _wait(browser, "document.getElementById('animate-video').readyState >= 2", timeout=30)
    _shot(browser, tmp_path, "animate")


def test_server_survives_clients_that_drop_mid_stream(server):
    """Sockets closed mid-frame (politely and abruptly) and an upload cut short: the server
    keeps serving, and its log shows no traceback (checked when the fixture stops it)."""
    import json
    import socket as sock
    from urllib.parse import urlsplit

    from websockets.sync.client import connect

    from studio_helpers import encode

    frame = encode(webcam_frames(1)[0])
    ws_url = server.replace("http", "ws") + "/ws/live"
    for _ in range(3):
        with connect(ws_url) as ws:
            ws.send(frame)  # and leave before the answer
    with connect(ws_url) as ws:
        ws.send(frame)
        ws.socket.close()  # no close frame at all
    host, port = urlsplit(server).hostname, urlsplit(server).port
    with sock.create_connection((host, port)) as raw:
        raw.sendall(b"POST /api/recognize HTTP/1.1\r\nHost: " + f"{host}:{port}".encode()
                    + b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
                    + b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n' + frame[:4000])
    with urllib.request.urlopen(server + "/api/health", timeout=30) as r:
        assert r.status == 200
    with connect(ws_url) as ws:
        ws.send(frame)
        assert [f["label"] for f in json.loads(ws.recv())["faces"]] == ["joy"]


def test_downloads_stay_hidden_until_there_is_something_to_download(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _wait(browser, "document.body.dataset.ready === '1'")
    browser.find_element(By.CSS_SELECTOR, ".tab[data-view=animate]").click()
    for element in ("animate-glb", "animate-obj", "animate-strip"):
        assert not browser.find_element(By.ID, element).is_displayed()
    browser.find_element(By.CSS_SELECTOR, ".tab[data-view=characters]").click()
    assert not browser.find_element(By.ID, "random-json").is_displayed()
