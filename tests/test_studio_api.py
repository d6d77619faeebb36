"""The studio's JSON API and live socket through FastAPI's TestClient (real models, a small
retrieval index): answers, limits, bad input, and that the server keeps serving."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from studio_helpers import SMALL_INDEX, astronaut, encode

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytestmark = pytest.mark.slow

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def engine():
    from deepexpr.studio import Engine, EngineConfig

    return Engine(EngineConfig(**SMALL_INDEX)).load(say=lambda _line: None)


def client(engine, **settings):
    from fastapi.testclient import TestClient

    from deepexpr.studio import StudioConfig, create_app

    return TestClient(create_app(engine, StudioConfig(**settings)), base_url=BASE, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def api(engine):
    return client(engine)


@pytest.fixture(scope="module")
def photo():
    return encode(astronaut(), "JPEG")


def post_image(api, route, data, name="photo.jpg", **form):
    return api.post(route, files={"image": (name, data, "image/jpeg")}, data=form)


def assert_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert "Traceback" not in body["error"] and "\n" not in body["error"]


def test_health_lists_models(api):
    body = api.get("/api/health").json()
    assert body["status"] == "ok" and body["puppet_source"] == "rig"
    assert {"human", "character", "index", "hagan"} <= set(body["models"])
    assert "84 images" in body["models"]["index"]  # 3 characters x 7 expressions x 4


def test_recognize_reads_the_smiling_astronaut(api, photo):
    body = post_image(api, "/api/recognize", photo).json()
    assert (body["width"], body["height"]) == (512, 512)
    (face,) = body["faces"]
    assert face["label"] == "joy" and face["label"] == max(face["probs"], key=face["probs"].get)
    assert abs(sum(face["probs"].values()) - 1) < 1e-2
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    quality = face["quality"]  # the face pipeline's fields
    assert 0.5 < quality["score"] <= 1 and quality["iod"] > 30 and abs(quality["yaw"]) < 25
    assert quality["low_confidence"] is False and quality["reason"] == ""


def test_content_is_sniffed_not_named(api):
    png = encode(astronaut(), "PNG")
    body = post_image(api, "/api/recognize", png, name="holiday.txt").json()
    assert [f["label"] for f in body["faces"]] == ["joy"]
    blank = post_image(api, "/api/recognize", encode(np.full((64, 64, 3), 128, np.uint8), "PNG")).json()
    assert blank["faces"] == []


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"\xff\xd8\xff\xe0 truncated jpeg", b"\x89PNG\r\n\x1a\n"])
def test_bad_uploads_are_422(api, data):
    assert_error(post_image(api, "/api/recognize", data), 422)


def test_pixel_and_size_caps_are_413(engine, photo):
    small = client(engine, max_pixels=300_000, max_upload_mb=0.2)
    tall = np.concatenate([astronaut(), astronaut()])[:, :320]  # 1024 x 320 = 328k pixels
    assert_error(post_image(small, "/api/recognize", encode(tall, "JPEG")), 413)
    assert_error(post_image(small, "/api/recognize", b"\xff\xd8\xff" + bytes(300_000)), 413)  # 300 kB body
    # a decompression bomb: a tiny PNG that claims 200 megapixels
    import io

    from PIL import Image

    bomb = client(engine)
    buf = io.BytesIO()
    Image.new("1", (20_000, 10_000)).save(buf, "PNG")
    assert len(buf.getvalue()) < 200_000
    assert_error(post_image(bomb, "/api/recognize", buf.getvalue(), name="x.png"), 413)
    assert post_image(small, "/api/recognize", photo).status_code == 200  # and it keeps serving


def test_retrieve_gives_matches_per_character_with_thumbnails_by_id(api, photo):
    body = post_image(api, "/api/retrieve", photo, top=2).json()
    (face,) = body["faces"]
    assert face["matched_label"] == "joy"
    assert set(face["by_character"]) == {"pip", "mika", "zorp"}
    for matches in face["by_character"].values():
        assert [m["rank"] for m in matches] == [1, 2]
        assert all(m["thumbnail"].startswith("/api/thumbnails/") for m in matches)
    thumb = api.get(face["by_character"]["pip"][0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    assert_error(api.get("/api/thumbnails/99999.png"), 404)
    assert api.get("/api/thumbnails/..%2F..%2Fetc%2Fpasswd.png").status_code in (404, 422)


def test_translate_and_puppet(api, photo):
    body = post_image(api, "/api/translate", photo, character="mika").json()
    (drawing,) = body["faces"]
    assert drawing["image"].startswith("data:image/png;base64,") and drawing["label"] in drawing["probs"]
    assert_error(post_image(api, "/api/translate", photo, character="nobody"), 422)
    body = post_image(api, "/api/puppet", photo, character="zorp", size=128).json()
    assert body["puppet_source"] == "rig"
    (face,) = body["faces"]
    assert face["puppet_source"] == "rig" and face["quality"]["low_confidence"] is False
    # the rig estimator on the mesh: the smile's lip corners and cheeks, not a blend of key poses
    assert face["label"] == "joy" and face["rig"]["AU12"] > 0.7 and face["rig"]["AU15"] < 0.2
    assert abs(face["rig"]["head_yaw"]) < 15
    assert face["image"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("name", ["nobody", "../../etc/passwd", "/etc/passwd", "rand_x_1", "pip.json"])
def test_unknown_characters_are_404(api, photo, name):
    assert_error(post_image(api, "/api/puppet", photo, character=name), 404)


def test_characters_render_and_random(api):
    body = api.get("/api/characters").json()
    assert "pip" in body["characters"] and "neutral" in body["expressions"]
    png = api.get("/api/characters/mika/surprise.png?size=64")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert_error(api.get("/api/characters/mika/bored.png"), 422)
    assert_error(api.get("/api/characters/mika/joy.png?size=5000"), 422)
    one, two = (api.post("/api/characters/random?seed=11").json() for _ in range(2))
    assert one["name"] == two["name"] == "rand_11_0" and one["style"] == two["style"]
    style = api.get(f"/api/characters/{one['name']}.json")
    assert style.json() == one["style"] and "attachment" in style.headers["content-disposition"]
    assert api.get(one["image"]).status_code == 200


def test_animate_gives_video_and_downloads_by_id(api):
    body = api.post("/api/animate", json={"expression": "joy", "frames": 3}).json()
    assert set(body["files"]) == {"preview.mp4", "strip.png", "animation.glb", "frames_obj.zip"}
    glb = api.get(body["files"]["animation.glb"])
    assert glb.status_code == 200 and glb.content[:4] == b"glTF"
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(api.get(body["files"]["frames_obj.zip"]).content)).namelist()
    assert len(names) == 3 and all(n.endswith(".obj") for n in names)
    assert_error(api.get(f"/api/animations/{body['id']}/..%2Fsecret"), 404)
    assert_error(api.get("/api/animations/0000/preview.mp4"), 404)
    assert_error(api.post("/api/animate", json={"expression": "neutral"}), 422)
    assert_error(api.post("/api/animate", json={"expression": "joy", "frames": 1000}), 422)


def test_cross_origin_and_foreign_hosts_are_refused(api, photo):
    r = api.post("/api/recognize", files={"image": ("a.jpg", photo)}, headers={"Origin": "http://evil.example"})
    assert_error(r, 403)
    assert_error(api.get("/api/health", headers={"Host": "evil.example"}), 403)
    assert api.get("/api/health", headers={"Origin": BASE}).status_code == 200


def test_internal_errors_hide_the_traceback(engine, photo, monkeypatch):
    api = client(engine)

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(engine, "recognize", broken)
    r = post_image(api, "/api/recognize", photo)
    assert_error(r, 500)
    assert "secret" not in r.text
    monkeypatch.undo()
    assert post_image(api, "/api/recognize", photo).status_code == 200


def test_full_queue_answers_503(engine, photo):
    assert_error(post_image(client(engine, max_queue=0), "/api/recognize", photo), 503)


def test_live_socket_frames_controls_and_bad_messages(api, photo):
    with api.websocket_connect(f"{BASE.replace('http', 'ws')}/ws/live?character=mika") as ws:
        ws.send_bytes(photo)
        frame = ws.receive_json()
        assert frame["type"] == "frame" and frame["seq"] == 1 and frame["character"] == "mika"
        assert [f["label"] for f in frame["faces"]] == ["joy"]
        assert frame["puppet"].startswith("data:image/jpeg;base64,") and frame["server_ms"] > 0
        assert frame["puppet_source"] == "rig" and frame["rig"]["AU12"] > 0.5
        assert frame["faces"][0]["probs_age"] == 0  # a new face: its expression computed on this frame
        assert set(frame["stages_ms"]) == {"faces", "expression", "rig", "draw"}
        for bad in ("not json", json.dumps({"character": "../x"}), json.dumps([1, 2])):
            ws.send_text(bad)
            assert ws.receive_json()["type"] == "error"
        ws.send_bytes(b"garbage bytes")
        assert ws.receive_json()["status"] == 422
        ws.send_text(json.dumps({"character": "zorp"}))
        assert ws.receive_json() == {"type": "character", "character": "zorp"}
        ws.send_bytes(encode(np.full((48, 64, 3), 90, np.uint8)))
        empty = ws.receive_json()
        assert empty["faces"] == [] and empty["puppet"] is None and empty["seq"] == 3  # every binary message counts


def test_live_socket_sends_the_puppet_as_binary_before_its_frame_when_asked(api, photo):
    from PIL import Image

    with api.websocket_connect(f"{BASE.replace('http', 'ws')}/ws/live?character=mika&puppet=binary") as ws:
        ws.send_bytes(photo)
        jpeg = ws.receive_bytes()  # the puppet first, then the frame's JSON
        frame = ws.receive_json()
        assert frame["type"] == "frame" and frame["puppet"] == "binary" and frame["faces"]
        assert Image.open(io.BytesIO(jpeg)).size == (256, 256)
        ws.send_bytes(encode(np.full((48, 64, 3), 90, np.uint8)))
        empty = ws.receive_json()  # no face, no puppet: no binary message either
        assert empty["type"] == "frame" and empty["puppet"] is None


def test_live_socket_limits(engine, photo):
    from starlette.websockets import WebSocketDisconnect

    api = client(engine, live_max_bytes=len(photo) - 1, live_max_fps=2)
    with api.websocket_connect(f"{BASE.replace('http', 'ws')}/ws/live") as ws:
        statuses = []
        for _ in range(4):  # over 2 frames a second: the extra ones are refused, not queued
            ws.send_bytes(b"x")
            statuses.append(ws.receive_json().get("status"))
        assert 429 in statuses
    with api.websocket_connect(f"{BASE.replace('http', 'ws')}/ws/live") as ws:
        ws.send_bytes(photo)  # one byte over the cap: closed with 1009
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009
    with pytest.raises(WebSocketDisconnect):  # another origin may not open the socket
        with api.websocket_connect(f"{BASE.replace('http', 'ws')}/ws/live", headers={"Origin": "http://evil.example"}) as ws:
            ws.receive_json()


def test_serve_refuses_remote_hosts_without_the_flag(capsys):
    from deepexpr.cli import main

    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2


def test_page_docs_and_openapi_are_served_from_the_package(api):
    import re

    page = api.get("/")
    assert page.status_code == 200 and "deepexpr studio" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for response in (page, api.get("/static/studio.js"), api.get("/api/thumbnails/999999.png")):
        assert response.headers["x-content-type-options"] == "nosniff"  # on every answer, errors too
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"].count("default-src") == 1
    for path in ("/", "/docs", "/static/studio.js", "/static/studio.css", "/static/docs.js"):
        text = api.get(path).text
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), f"{path} loads something from elsewhere"
    spec = api.get("/openapi.json").json()
    assert {"/api/recognize", "/api/retrieve", "/api/translate", "/api/puppet", "/api/animate"} <= set(spec["paths"])
    assert "RecognizeResponse" in spec["components"]["schemas"]
    docs = api.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text


def test_concurrent_requests_and_live_sessions_run_without_a_lock(engine):
    """Recognition and live frames from many requests at once on the bounded pool (tflite
    backend: per-worker interpreters, no lock): no error, the same answers as one at a time."""
    import asyncio

    from deepexpr.studio.server import WorkPool

    assert engine.config.face_backend == "tflite"
    base = astronaut()
    photos = [np.ascontiguousarray(np.roll(base, 24 * k, axis=1)) for k in range(4)]
    alone = [engine.recognize(p) for p in photos]
    pool = WorkPool(workers=2, max_queue=64)
    pool.on_every_worker(engine.warm_worker)
    sessions = [engine.live_session() for _ in range(2)]

    async def live(session):  # one socket: frames one at a time, as the live route runs them
        return [await pool.run(session.frame, photos[k % 4], "pip", 96) for k in range(6)]

    async def burst():
        calls = [pool.run(engine.recognize, photos[k % 4]) for k in range(16)]
        out = await asyncio.gather(*calls, *[live(s) for s in sessions])
        return out[:16] + [frame for frames in out[16:] for frame in frames]

    try:
        answers = asyncio.run(burst())
    finally:
        pool.shutdown()
        for s in sessions:
            s.close()
    for k, faces in enumerate(answers[:16]):
        ref = alone[k % 4]
        assert len(faces) == len(ref) == 1
        np.testing.assert_allclose(faces[0].box, ref[0].box, atol=0.11)
        np.testing.assert_allclose(faces[0].probs, ref[0].probs, atol=1e-4)
    for faces, puppet in answers[16:]:
        assert len(faces) == 1 and puppet is not None and puppet.image.shape == (96, 96, 3)


def test_live_socket_takes_raw_camera_frames_like_jpeg_ones(api, photo):
    import cv2

    from deepexpr.studio.uploads import decode_image

    rgb = decode_image(photo, 10**7)
    h, w = rgb.shape[:2]
    raw = b"DXRF" + b"I420" + w.to_bytes(2, "little") + h.to_bytes(2, "little") \
        + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()
    with api.websocket_connect(f"{BASE.replace('http', 'ws')}/ws/live?character=mika") as ws:
        ws.send_bytes(raw)
        frame = ws.receive_json()
        assert frame["type"] == "frame" and (frame["width"], frame["height"]) == (w, h)
        assert [f["label"] for f in frame["faces"]] == ["joy"] and frame["rig"]["AU12"] > 0.5
        ws.send_bytes(raw[:-7])  # cut short: a 422 answer, the socket stays
        assert ws.receive_json()["status"] == 422
        ws.send_bytes(raw)
        assert ws.receive_json()["faces"]
