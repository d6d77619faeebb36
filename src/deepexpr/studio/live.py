"""WS /ws/live: webcam frames in, expression + puppet frame out, one message per frame.

Protocol (server messages are JSON text, except the puppet frame with `?puppet=binary`):
- client -> binary: one JPEG/PNG/WebP frame, or a raw camera frame (`uploads.decode_frame`:
  "DXRF", format, width, height, pixels; the page sends these on loopback), <= live_max_bytes,
  <= live_max_pixels;
- client -> binary: a region of a raw frame ("DXRC", `uploads.decode_live_frame`): what the
  previous answer's "next_region" [x, y, w, h] asked for (null: send the whole frame). Only
  those pixels are read for tracked faces (`liveregion`), so the page sends ~1/4-1/8 of the
  frame; with "next_overview" true ("DXRO") the whole frame at half size follows the region
  (for the periodic detector); the answer's "region" echoes what it got, "region_short" says
  a face read past it;
- client -> text: `{"character": "pip"}` changes the puppet (built-in or rand_<seed>_<i>);
- server -> `{"type": "frame", "seq", "width", "height", "faces": [{box, label, probs,
  quality, probs_age}], "puppet": data URL (JPEG) of the character making the largest face
  (the rig estimator's rig, smoothed per face track) or null, "puppet_source", "rig":
  {control: value} or null, "rig_flags", "server_ms", "queue_ms", "stages_ms"}` — queue_ms: the
  frame's wait for a worker after the socket had it; server_ms covers decode, face pipeline
  (tracking stream; the periodic full detector runs on the pool's background thread once
  the answer is out), rig, drawing and encoding; stages_ms splits the session's part (faces,
  expression, rig, draw); probs_age: frames since the frame the face's expression was
  computed on (the model runs on a tracked face every `live_expression_every` frames, 2 by
  default, on the background thread too: its answer joins a later frame; a new face is read
  at once, 0);
- with `/ws/live?puppet=binary` (the page) the puppet JPEG comes as a binary message just
  before its frame's JSON, whose "puppet" is then "binary" (no base64, no data URL to parse);
- server -> `{"type": "error", "error": "..."}` for a bad message; the socket stays open
  unless the client keeps sending bad messages, floods past the rate limit or sends an
  oversized message (closed with 1008 / 1009).

The client should send the next frame when the previous answer arrived (the page does):
frames are processed one at a time per socket, on the shared worker pool, through the
socket's own `LiveSession` (face tracks and rig smoothing live as long as the socket).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from concurrent.futures import CancelledError, Future

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

try:  # starlette's error for a send after the client closed (newer starlette only)
    from starlette.websockets import WebSocketDisconnected
except ImportError:  # pragma: no cover - older starlette
    WebSocketDisconnected = WebSocketDisconnect

from deepexpr.studio.engine import PUPPET_SOURCE, Engine, LiveSession
from deepexpr.studio.liveregion import RegionPlanner
from deepexpr.studio.server import LOG, StudioConfig
from deepexpr.studio.uploads import StudioError, bytes_data_url, decode_live_frame, encode_image

MAX_BAD_MESSAGES = 20  # consecutive bad messages before the socket is closed
PUPPET_QUALITY = 85  # the puppet frame's JPEG quality


class AfterAnswer:
    """An executor front that holds what a live frame starts beside itself (the periodic face
    detector, the expression model) until `release()`: the socket releases it once the
    frame's answer has gone out, so that work runs while the client is away (receiving,
    sending the next frame) instead of competing with the frame for the CPU and the GIL.
    The frame after learns of it through the returned futures, as before."""

    def __init__(self, executor):
        self.executor = executor
        self._held: list[tuple] = []
        self._lock = threading.Lock()

    def submit(self, fn, *args, **kwargs) -> Future:
        future = Future()
        with self._lock:
            self._held.append((future, fn, args, kwargs))
        return future

    def release(self) -> int:
        """Hand the held work to the executor; how many jobs went (cancelled ones are dropped)."""
        with self._lock:
            held, self._held = self._held, []
        sent = 0
        for future, fn, args, kwargs in held:
            if future.set_running_or_notify_cancel():
                self.executor.submit(fn, *args, **kwargs).add_done_callback(functools.partial(_settle, future))
                sent += 1
        return sent


def _settle(future: Future, done: Future) -> None:
    """Give `future` the outcome of the executor's `done`."""
    if done.cancelled():
        future.set_exception(CancelledError())
    elif done.exception() is not None:
        future.set_exception(done.exception())
    else:
        future.set_result(done.result())


class RateLimit:
    """Token bucket: `rate` messages per second, bursts of up to `rate` messages."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self.tokens = float(rate)
        self.last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def live_frame(session: LiveSession, data: bytes, character: str, config: StudioConfig,
               binary_puppet: bool = False, arrived: float | None = None,
               planner: RegionPlanner | None = None) -> tuple[dict, bytes | None]:
    """One frame through the whole live path: (the JSON message, the puppet JPEG to send as a
    binary message before it when `binary_puppet`, else None: the JSON carries a data URL).
    `arrived`: `time.perf_counter()` when the socket had the frame (its wait for a worker is
    the message's queue_ms). `planner`: the socket's `RegionPlanner` (the answer's
    next_region), None: next_region stays null (send whole frames)."""
    t0 = time.perf_counter()
    rgb, region = decode_live_frame(data, config.live_max_pixels)
    faces, puppet = session.frame(rgb, character, config.puppet_size, region)
    next_region = None if planner is None else planner.plan(faces, rgb.shape, region, session.faces.whole_next,
                                                            session.faces.detection_next)
    jpeg = None if puppet is None else encode_image(puppet.image, "JPEG", PUPPET_QUALITY)
    message = {"type": "frame", "width": rgb.shape[1], "height": rgb.shape[0],
               "faces": [{**r.to_dict(), "probs_age": r.probs_age} for r in faces],
               "puppet": None if jpeg is None else "binary" if binary_puppet else bytes_data_url(jpeg, "image/jpeg"),
               "puppet_source": PUPPET_SOURCE if puppet is None else puppet.source,
               "rig": None if puppet is None else {k: round(v, 4) for k, v in puppet.rig.items()},
               "rig_flags": [] if puppet is None else puppet.flags,
               "character": character, "region": region, "next_region": next_region,
               "next_overview": next_region is not None and planner.overview,
               "region_short": planner is not None and planner.short, "server_ms": round(1000 * (time.perf_counter() - t0), 2),
               "queue_ms": 0.0 if arrived is None else round(1000 * (t0 - arrived), 2),
               "stages_ms": {k: round(ms, 2) for k, ms in session.stages.items()}}
    return message, jpeg if binary_puppet else None


def add_live_route(app: FastAPI) -> None:
    @app.websocket("/ws/live")
    async def live(websocket: WebSocket, character: str = "pip", puppet: str = "url"):
        engine: Engine = websocket.app.state.engine
        config: StudioConfig = websocket.app.state.config
        pool = websocket.app.state.pool
        await websocket.accept()
        try:
            character = engine.style(character).name
        except StudioError as err:
            await websocket.send_json({"type": "error", "error": err.message})
            character = engine.characters()[0]
        held = AfterAnswer(pool)  # its detector and model runs start once a frame's answer is out
        session = engine.live_session(background=held)
        try:
            await _serve(websocket, session, config, pool, character, binary_puppet=puppet == "binary", held=held)
        except (WebSocketDisconnect, WebSocketDisconnected):
            pass  # the client left mid-stream (while we waited or while we sent)
        except _Close as close:
            await websocket.close(code=close.code, reason=close.reason)
        finally:
            session.close()  # its per-track mediapipe graphs (no frame of it is running now)


class _Close(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason[:120]


async def _serve(websocket: WebSocket, session: LiveSession, config: StudioConfig, pool, character: str,
                 binary_puppet: bool = False, held: AfterAnswer | None = None) -> None:
    engine = session.engine
    limit, bad, seq, planner = RateLimit(config.live_max_fps), 0, 0, RegionPlanner()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data, text, jpeg = message.get("bytes"), message.get("text"), None
        try:
            if not limit.allow():
                raise StudioError(429, f"over {config.live_max_fps:g} frames per second; "
                                       "send the next frame when the answer arrives")
            if data is not None:
                if len(data) > config.live_max_bytes:
                    raise _Close(1009, f"frame over {config.live_max_bytes:,} bytes")
                seq += 1
                reply, jpeg = await pool.run(live_frame, session, data, character, config, binary_puppet,
                                             time.perf_counter(), planner)
                reply["seq"] = seq
            else:
                character = _control(engine, text)
                reply = {"type": "character", "character": character}
            bad = 0
        except StudioError as err:
            bad += 1
            if bad >= MAX_BAD_MESSAGES:
                raise _Close(1008, f"{bad} bad messages in a row; last: {err.message}") from err
            reply = {"type": "error", "error": err.message, "status": err.status}
        except _Close:
            raise
        except Exception:  # never a traceback to the client; keep the socket
            LOG.exception("studio: live frame failed")
            bad += 1
            reply = {"type": "error", "error": "internal error on this frame; the server log has the details"}
        # sends stay outside the frame's error handling: a client gone mid-send is a disconnect
        if jpeg is not None:
            await websocket.send_bytes(jpeg)  # the puppet, just before its frame's JSON
        await websocket.send_text(json.dumps(reply))
        if held is not None:
            held.release()  # the frame's background work, now that its answer is out


def _control(engine: Engine, text: str | None) -> str:
    """A text message: `{"character": NAME}` -> the new character name."""
    if not text or len(text) > 2000:
        raise StudioError(422, "control message: send JSON like {\"character\": \"pip\"}")
    try:
        msg = json.loads(text)
    except ValueError as err:
        raise StudioError(422, "control message: not JSON; send {\"character\": \"pip\"}") from err
    if not isinstance(msg, dict) or not isinstance(msg.get("character"), str):
        raise StudioError(422, "control message: expected {\"character\": NAME}")
    return engine.style(msg["character"]).name
