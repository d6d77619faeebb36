"""Studio load on loopback: `deepexpr serve` in a subprocess, real HTTP and WebSocket clients.

1. Start: process start -> /api/health answers (warm = models converted, index cached).
2. Page load: Chromium (Debian's, if installed) loads `/`: navigation start -> load event.
3. Photo endpoint: N concurrent clients POST a 640x480 face photo to /api/recognize.
4. Live: 1 socket, then M sockets, then the page's Live view in Chromium (fake webcam), sending 640x480 JPEG webcam frames stop-and-wait
   (the next frame leaves when the answer arrived, as the page does). Reported: the
   server-side time per frame (decode, face pipeline, model, puppet drawing, JPEG encoding;
   the `server_ms` field) and the client round trip.
5. Soak: N/2 photo clients + M sockets for --soak seconds; server memory (RSS) sampled.
6. --stages K: the live path's stages in this process (no server), K frames, one thread:
   where the server-side time goes.
All: throughput, p50/p95/p99, errors.

    python benchmarks/bench_studio_load.py [--clients 8] [--sockets 2] [--seconds 20] [--soak 60] [--stages 100]
        [--serve-args="--face-backend solutions"]

Targets (issue 16): live p95 <= 33 ms server-side and in the browser; /api/recognize x8 p95 <=
100 ms with 0 errors; start <= 10 s warm; page load <= 1 s; RSS flat over a 600 s soak. Each
phase also prints the server process's CPU time per request and the load average.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def frames_640x480(count: int = 32) -> list[bytes]:
    """skimage's astronaut (a real face) scaled to 480 px high, padded to 640x480, as JPEG;
    `count` different horizontal shifts, so no request is answered from the server's
    per-upload face cache (every photo request runs the face pipeline)."""
    import cv2
    from PIL import Image
    from skimage import data

    face = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(count):
        dx = int(round(-60 + 120 * i / max(1, count - 1)))
        img = cv2.copyMakeBorder(face, 0, 0, 80 + dx, 80 - dx, cv2.BORDER_REFLECT)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def summary(name: str, lat_ms: list, errors: int, seconds: float) -> dict:
    return {"phase": name, "n": len(lat_ms), "errors": errors, "per_s": len(lat_ms) / seconds,
            "p50": pct(lat_ms, 50), "p95": pct(lat_ms, 95), "p99": pct(lat_ms, 99)}


def start_server(port: int, extra: list[str]) -> tuple[subprocess.Popen, float]:
    import urllib.request

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "deepexpr.cli", "serve", "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1):
                return proc, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server failed:\n{proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.1)


def photo_clients(url: str, clients: int, seconds: float, photos: list[bytes]) -> dict:
    import httpx

    lat, server, errors, stop = [], [], [0], time.perf_counter() + seconds
    lock = threading.Lock()

    def worker(k: int):
        with httpx.Client(base_url=url, timeout=60) as c:
            while time.perf_counter() < stop:
                k += 1
                photo = photos[k % len(photos)]
                t = time.perf_counter()
                try:
                    r = c.post("/api/recognize", files={"image": ("f.jpg", photo, "image/jpeg")})
                    ok = r.status_code == 200 and len(r.json()["faces"]) == 1
                except (httpx.HTTPError, ValueError):
                    ok = False
                with lock:
                    if ok:
                        lat.append(1000 * (time.perf_counter() - t))
                        server.append(r.json()["ms"])
                    else:
                        errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(7 * i,)) for i in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    took = time.perf_counter() - t0
    return (summary(f"/api/recognize x{clients} round trip", lat, errors[0], took),
            summary(f"/api/recognize x{clients} server-side", server, errors[0], took))


LIVE_MAX_FPS = 38.0  # clients stay under the server's --live-max-fps (40), as a webcam (30) does


def live_sockets(url: str, sockets: int, seconds: float, frames: list[bytes]) -> tuple[dict, dict]:
    """Stop-and-wait live sockets (the next frame leaves when the answer arrived), paced to at
    most `LIVE_MAX_FPS` so the server's rate limit (429 answers) is never what is measured."""
    from websockets.sync.client import connect

    rtt, server, errors, stop = [], [], [0], time.perf_counter() + seconds
    lock = threading.Lock()

    def worker():
        try:
            with connect(url.replace("http", "ws") + "/ws/live?character=pip", max_size=2**22) as ws:
                k, last = 0, 0.0
                while time.perf_counter() < stop:
                    k += 1
                    time.sleep(max(0.0, last + 1.0 / LIVE_MAX_FPS - time.perf_counter()))
                    t = last = time.perf_counter()
                    ws.send(frames[k % len(frames)])
                    msg = json.loads(ws.recv())
                    ok = msg.get("type") == "frame" and len(msg["faces"]) == 1 and msg["puppet"]
                    with lock:
                        if ok:
                            rtt.append(1000 * (time.perf_counter() - t))
                            server.append(msg["server_ms"])
                        else:
                            errors[0] += 1
        except Exception as err:  # a dropped socket counts as an error, the others go on
            print(f"socket error: {err}", file=sys.stderr)
            with lock:
                errors[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(sockets)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    took = time.perf_counter() - t0
    return (summary(f"live x{sockets} round trip", rtt, errors[0], took),
            summary(f"live x{sockets} server-side", server, errors[0], took))


def page_load(url: str, repeats: int = 5) -> tuple[float, float] | None:
    """(first load, median of the next `repeats`): navigation start -> load event in Debian's
    headless Chromium (ms), or None without Chromium."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as profile:
        driver = _chromium(profile)
        try:
            times = []
            for _ in range(repeats + 1):  # the first load is cold (empty browser cache)
                driver.get(url + "/?_=" + str(time.time()))
                time.sleep(0.2)
                times.append(driver.execute_script(
                    "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;"))
            return float(times[0]), float(np.median(times[1:]))
        finally:
            driver.quit()


def _chromium(profile: str, extra: tuple = ()):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1280,800", *extra):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))


def browser_live(url: str, seconds: float, query: str = "", server_pid: int | None = None) -> tuple[dict, dict] | None:
    """The Live view in Chromium with a fake webcam (640x480 y4m of the astronaut) for
    `seconds`: the page's own round trips (frame sent -> answer received, in the page's live
    worker, or with `query` "live=page" on its main thread) and server times. `query`: the
    page's URL query ("frames=jpeg": JPEG frames instead of the camera's raw pixels).
    `server_pid`: the server's CPU is read over the same frames (`cpu_ms` of the summaries)."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return None
    import tempfile

    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        y4m = Path(tmp) / "cam.y4m"
        with open(y4m, "wb") as fh:
            fh.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
            for jpg in frames_640x480(30):
                rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                fh.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
        driver = _chromium(str(Path(tmp) / "profile"), ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                                       f"--use-file-for-fake-video-capture={y4m}"))
        try:
            driver.get(url + (f"/?{query}" if query else "/") + "#live")
            deadline = time.time() + 30
            while driver.execute_script("return document.body.dataset.ready") != "1" and time.time() < deadline:
                time.sleep(0.2)
            driver.find_element("id", "live-start").click()
            time.sleep(3)  # camera start and first frames kept out
            driver.execute_script("window.studioLiveStats = {rtt: [], server: [], queue: [], kinds: []};")
            cpu0, server0 = _browser_cpu_s(driver), server_cpu_s(server_pid) if server_pid else 0.0
            time.sleep(seconds)
            stats = driver.execute_script("return window.studioLiveStats;")
            cpu1, frames = _browser_cpu_s(driver), max(len(stats["rtt"]), 1)
            server_ms = 1000 * (server_cpu_s(server_pid) - server0) / frames if server_pid else None
        finally:
            driver.quit()
    split = ", ".join(f"{k} {1000 * (v - cpu0.get(k, 0.0)) / frames:.1f}" for k, v in sorted(cpu1.items()))
    print(f"Chromium's own CPU per live frame: {1000 * (sum(cpu1.values()) - sum(cpu0.values())) / frames:.1f} ms "
          f"({split}; at {frames / seconds:.1f} frames/s, the webcam's own video included; frames sent as "
          f"{stats.get('sent', '?')}, {stats.get('regions', 0)} of {len(stats['rtt'])} as the region the server asked for)")
    rest = np.array(stats["rtt"]) - np.array(stats["server"]) - np.array(stats.get("queue") or 0.0)
    print(f"browser live round trip = waiting for a worker p50 {pct(stats.get('queue') or [0.0], 50):.1f} / p95 "
          f"{pct(stats.get('queue') or [0.0], 95):.1f} ms + server-side + the rest (Chromium, the socket, the event "
          f"loop) p50 {pct(rest, 50):.1f} / p95 {pct(rest, 95):.1f} ms")
    print_by_kind(stats)
    out = (summary("browser live round trip", stats["rtt"], 0, seconds),
           summary("browser live server-side", stats["server"], 0, seconds))
    for r in out if server_ms is not None else ():
        r["cpu_ms"] = server_ms  # over the measured frames only (not the camera's start)
    return out


def print_by_kind(stats: dict) -> None:
    """The page's round trip split by what was sent: the region the server asked for, with the
    whole frame at half size (its periodic detector), or the whole frame (no face, a face lost)."""
    kinds, rtt, server = np.array(stats.get("kinds") or []), np.array(stats["rtt"]), np.array(stats["server"])
    if len(kinds) != len(rtt) or not len(rtt):
        return
    parts = [f"{name} {int(np.sum(kinds == k))} frames p50 {pct(rtt[kinds == k], 50):.1f} / p95 {pct(rtt[kinds == k], 95):.1f}"
             f" (server-side p50 {pct(server[kinds == k], 50):.1f})"
             for k, name in ((1, "regions"), (2, "regions + half-size overview (detector)"), (0, "whole frames"))
             if np.any(kinds == k)]
    print(f"browser live round trip by frame sent (ms): {'; '.join(parts)}")


def _browser_cpu_s(driver) -> dict[str, float]:
    """CPU seconds used so far by the browser per kind of process (chromedriver's children:
    Chromium's browser, renderer, GPU and utility processes)."""
    import psutil

    total: dict[str, float] = {}
    for proc in psutil.Process(driver.service.process.pid).children(recursive=True):
        try:
            t, args = proc.cpu_times(), proc.cmdline()
        except psutil.Error:  # a process that ended meanwhile
            continue
        kind = next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
        kind = next((a.split("=", 1)[1].split(".")[-1] for a in args if a.startswith("--utility-sub-type=")), kind)
        total[kind] = total.get(kind, 0.0) + t.user + t.system
    return total


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the server process has used."""
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def soak(url: str, pid: int, clients: int, sockets: int, seconds: float, photos: list, frames: list) -> dict:
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.perf_counter(), rss_mb(pid)))
            done.wait(5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out = {}
    t = threading.Thread(target=lambda: out.update(photo=photo_clients(url, clients, seconds, photos)[0]))
    t.start()
    out["live"] = live_sockets(url, sockets, seconds, frames)[1]
    t.join()
    done.set()
    sampler.join()
    mem = np.array([m for _, m in samples])
    third = max(1, len(mem) // 3)
    t0 = samples[0][0]
    out["rss_per_minute"] = [round(float(m)) for t, m in samples if int(t - t0) % 60 < 5]
    out["rss"] = {"start": float(mem[0]), "end": float(mem[-1]), "max": float(mem.max()),
                  "first_third_mean": float(mem[:third].mean()), "last_third_mean": float(mem[-third:].mean()),
                  "samples": len(mem)}
    return out


def _engine_settings(serve_args: list[str]) -> dict:
    """The EngineConfig fields of `--serve-args` that change the live path."""
    out = {}
    if "--face-backend" in serve_args:
        out["face_backend"] = serve_args[serve_args.index("--face-backend") + 1]
    if "--live-expression-every" in serve_args:
        out["live_expression_every"] = int(serve_args[serve_args.index("--live-expression-every") + 1])
    if "--no-live-background-detect" in serve_args:
        out["live_background_detect"] = False
    if "--no-live-background-expression" in serve_args:
        out["live_background_expression"] = False
    return out


def stages(count: int, frames: list[bytes], serve_args: list[str]) -> None:
    """Time each stage of one live frame in-process, as a socket runs it (torch on one thread,
    like a worker; the periodic detector and the expression model on a second worker thread,
    as the server's pool): wall clock and the CPU of the frame's own thread per stage
    (decode, the live session's stages: tracking stream, expression, rig, drawing; the JPEG
    answer), and each thread's CPU per frame (the frame's thread, the worker, the rest:
    mediapipe's graph threads)."""
    from concurrent.futures import ThreadPoolExecutor

    import psutil
    import torch

    from deepexpr.studio import Engine, EngineConfig
    from deepexpr.studio.live import AfterAnswer
    from deepexpr.studio.uploads import decode_image, encode_image

    torch.set_num_threads(1)
    settings = _engine_settings(serve_args)
    engine = Engine(EngineConfig(hagan=False, **settings)).load(say=lambda _line: None)
    worker = ThreadPoolExecutor(1)
    worker.submit(engine.warm_worker).result()  # its own TFLite interpreters, as a pool worker
    worker_id = worker.submit(threading.get_native_id).result()
    engine.warm_worker()
    held = AfterAnswer(worker)  # as the socket: background runs start once the frame's answer is made
    session = engine.live_session(background=held)
    names = ("decode", *session.STAGES, "JPEG", "total")
    wall, cpu = {k: [] for k in names}, {k: [] for k in names}
    me, proc = threading.get_native_id(), psutil.Process()
    for i in range(count + 5):
        if i == 5:  # warm-up frames kept out
            threads0, process0 = _thread_cpu(proc), time.process_time()
        t0, c0 = time.perf_counter(), time.thread_time()
        rgb = decode_image(frames[i % len(frames)], 1920 * 1080)
        t1, c1 = time.perf_counter(), time.thread_time()
        faces, puppet = session.frame(rgb, "pip", 256)
        t2, c2 = time.perf_counter(), time.thread_time()
        encode_image(puppet.image, "JPEG", 85)
        t3, c3 = time.perf_counter(), time.thread_time()
        held.release()
        if i < 5 or len(faces) != 1:
            continue
        for out, got, sub in ((wall, (t0, t1, t2, t3), session.stages), (cpu, (c0, c1, c2, c3), session.stages_cpu)):
            out["decode"].append(1000 * (got[1] - got[0]))
            out["JPEG"].append(1000 * (got[3] - got[2]))
            out["total"].append(1000 * (got[3] - got[0]))
            for k, ms in sub.items():
                out[k].append(ms)
    threads1, process1 = _thread_cpu(proc), time.process_time()
    session.close()
    worker.shutdown()
    spent = {t: threads1[t] - threads0.get(t, 0.0) for t in threads1}
    frame_ms, worker_ms = 1000 * spent.get(me, 0) / count, 1000 * spent.get(worker_id, 0) / count
    print(f"engine {settings or '(defaults)'} (live: rig path settings); load average {os.getloadavg()}")
    print(f"| live stage ({count} frames, 640x480, one face) | wall p50 | wall p95 | CPU p50 | CPU p95 |\n"
          "|---|---|---|---|---|")
    for k in names:
        print(f"| {k} | {pct(wall[k], 50):.1f} | {pct(wall[k], 95):.1f} | {pct(cpu[k], 50):.1f} | {pct(cpu[k], 95):.1f} |")
    print(f"CPU per frame (ms): the frame's thread {frame_ms:.1f}, the worker (detector, expression model) "
          f"{worker_ms:.1f}, other threads (mediapipe's graphs) {1000 * sum(spent.values()) / count - frame_ms - worker_ms:.1f}; "
          f"process {1000 * (process1 - process0) / count:.1f}")


def _thread_cpu(proc) -> dict[int, float]:
    """CPU seconds of each thread of a psutil process, by native thread id."""
    return {t.id: t.user_time + t.system_time for t in proc.threads()}


def print_targets(rows: list[dict], start_s: float, page: tuple | None, clients: int) -> None:
    """Each issue-16 target beside the figure that decides it (the VM's speed swings ~40%
    between quiet runs, so a target is met reliably with ~30% to spare: live p95 ~23 ms,
    the photo endpoint's p95 ~70 ms)."""
    by = {r["phase"]: r for r in rows}
    nan = float("nan")
    checks = [("server start, warm (s)", start_s, 10.0),
              ("page load, warm (ms)", page[1] if page else nan, 1000.0),
              ("live x1 server-side p95 (ms)", by.get("live x1 server-side", {}).get("p95", nan), 33.0),
              ("live x1 round trip p95 (ms)", by.get("live x1 round trip", {}).get("p95", nan), 33.0),
              ("browser live round trip p95 (ms)", by.get("browser live round trip", {}).get("p95", nan), 33.0),
              ("browser live server-side p95 (ms)", by.get("browser live server-side", {}).get("p95", nan), 33.0),
              (f"/api/recognize x{clients} server-side p95 (ms)",
               by.get(f"/api/recognize x{clients} server-side", {}).get("p95", nan), 100.0)]
    errors = sum(r["errors"] for r in rows)
    print("| target | figure | limit | met |\n|---|---|---|---|")
    for name, value, limit in checks:
        met = "n/a" if value != value else ("yes" if value <= limit else "NO")
        print(f"| {name} | {value:.1f} | {limit:g} | {met} |")
    print(f"| errors, all phases | {errors} | 0 | {'yes' if errors == 0 else 'NO'} |")


def run_phases(url: str, pid: int, args: argparse.Namespace, photos: list) -> list[dict]:
    """Runs the measured phases (photo x1, photo x N, live sockets, the browser page) and
    prints their table; returns their rows with the server's CPU a request and the load."""
    phases = [lambda: photo_clients(url, 1, args.seconds / 2, photos),
              lambda: photo_clients(url, args.clients, args.seconds, photos),
              lambda: live_sockets(url, 1, args.seconds, photos)]
    if args.sockets > 1:
        phases.append(lambda: live_sockets(url, args.sockets, args.seconds, photos))
    if not args.no_browser:
        phases.append(lambda: browser_live(url, args.seconds, args.page_query, pid) or [])
    rows = []
    for phase in phases:
        cpu0 = server_cpu_s(pid)
        got = list(phase())
        for r in got:
            r["cpu_ms"] = r.get("cpu_ms") or 1000 * (server_cpu_s(pid) - cpu0) / max(r["n"] + r["errors"], 1)
            r["load"] = os.getloadavg()[0]
        rows += got
    print("| phase | n | errors | per s | p50 ms | p95 ms | p99 ms | server CPU ms/request | load |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['phase']} | {r['n']} | {r['errors']} | {r['per_s']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} "
              f"| {r['p99']:.1f} | {r['cpu_ms']:.1f} | {r['load']:.1f} |")
    return rows


def print_soak(s: dict, seconds: float) -> None:
    """Prints the soak's rows (photo: round trip; live: server-side) and its RSS figures."""
    for r in (s["photo"], s["live"]):
        print(f"| soak {r['phase']} | {r['n']} | {r['errors']} | {r['per_s']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} |")
    m = s["rss"]
    print(f"soak {seconds:.0f} s server RSS: start {m['start']:.0f} MB, end {m['end']:.0f} MB, max {m['max']:.0f} MB; "
          f"mean first third {m['first_third_mean']:.0f} MB, last third {m['last_third_mean']:.0f} MB ({m['samples']} samples)")
    print(f"soak RSS each minute (MB): {s['rss_per_minute']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8, help="concurrent /api/recognize clients")
    ap.add_argument("--sockets", type=int, default=2, help="concurrent live sockets")
    ap.add_argument("--seconds", type=float, default=20, help="length of each phase")
    ap.add_argument("--soak", type=float, default=60, help="soak length in seconds (the issue asks 600)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium page-load figure")
    ap.add_argument("--page-query", default="", help="the Live page's URL query: live=page (frames on the main "
                    "thread, the fallback of browsers without MediaStreamTrackProcessor), frames=jpeg (JPEG, not raw), "
                    "regions=off (whole raw frames, not the region the server asks for)")
    ap.add_argument("--stages", type=int, default=0, help="only time the live path's stages in-process (K frames)")
    ap.add_argument("--serve-args", default="", help="extra `deepexpr serve` options, with '=' since they start with '--': "
                    "--serve-args=\"--face-backend solutions\"")
    args = ap.parse_args()
    serve_args = args.serve_args.split()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}, "
          f"{os.cpu_count()} CPUs, serve {' '.join(serve_args) or '(defaults)'}, page query {args.page_query or '(defaults)'}")
    if args.stages:
        return stages(args.stages, frames_640x480(32), serve_args)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    photos = frames_640x480(32)
    proc, start_s = start_server(port, serve_args)
    try:
        print(f"server start (process -> /api/health): {start_s:.2f} s; RSS {rss_mb(proc.pid):.0f} MB")
        load = None if args.no_browser else page_load(url)
        print(f"page load (Chromium): first {load[0]:.0f} ms, then median {load[1]:.0f} ms of 5" if load
              else "page load: no chromium")
        rows = run_phases(url, proc.pid, args, photos)
        print_targets(rows, start_s, load, args.clients)
        if args.soak > 0:
            print_soak(soak(url, proc.pid, max(1, args.clients // 2), args.sockets, args.soak, photos, photos),
                       args.soak)
        print(f"load average at the end {os.getloadavg()}")
        alive = proc.poll() is None
        print(f"server still up after the run: {alive}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
