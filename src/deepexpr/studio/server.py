"""Server plumbing: settings, the bounded CPU pool, request limits and JSON errors.

Everything here is about serving safely (loopback by default, capped bodies, same-origin
requests, no tracebacks to clients); the routes live in `deepexpr.studio.app`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from deepexpr.errors import check_settings, setting
from deepexpr.studio.uploads import StudioError

LOG = logging.getLogger("deepexpr.studio")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class StudioConfig:
    """Settings of `deepexpr serve` (the command's options are generated from these fields)."""

    host: str = setting("127.0.0.1", "interface to bind (others than loopback need --allow-remote)")
    port: int = setting(8765, "TCP port", min=1, max=65535)
    open: bool = setting(False, "open the page in the default browser once serving")
    allow_remote: bool = setting(False, "allow a non-loopback --host (anyone who can reach it can use the studio)")
    workers: int = setting(0, "CPU worker threads (0: one per core)", min=0, max=256)
    max_queue: int = setting(64, "requests waiting for a worker before new ones get 503", min=0)
    max_upload_mb: float = setting(12.0, "request body cap in MB (413 above)", above=0)
    max_pixels: int = setting(40_000_000, "photo pixel cap, checked before decoding (413 above)", min=1)
    live_max_bytes: int = setting(1_000_000, "one live frame message cap in bytes (the socket closes above)",
                                  min=1024)
    live_max_pixels: int = setting(1920 * 1080, "one live frame pixel cap", min=1)
    live_max_fps: float = setting(40.0, "live frames per second accepted per socket", above=0)
    background_nice: int = setting(0, "niceness added to the thread running live streams' background work "
                                   "(periodic face detector, expression model; Linux): > 0 gives the frames and the "
                                   "browser the CPU first, but that thread holds the GIL for much of its work, so "
                                   "starving it can also hold up a frame", min=0, max=19)
    puppet_size: int = setting(256, "live puppet frame side in pixels", min=32, max=1024)

    def __post_init__(self):
        check_settings(self)


class WorkPool:
    """A thread pool bounded to the cores; torch intra-op threads split between workers.

    Requests queue for a worker; beyond `max_queue` waiting or running, new ones are
    refused with 503 instead of piling up. Work a request starts beside itself (`submit`: a
    live stream's periodic detector and expression runs) goes to one background thread of
    its own (niced by `background_nice`), so a live frame never waits in the queue behind it.
    """

    def __init__(self, workers: int = 0, max_queue: int = 64, background_nice: int = 0):
        cores = os.cpu_count() or 1
        self.workers = max(1, int(workers) or cores)
        self.max_queue = int(max_queue)
        self.pending = 0
        self._threads = max(1, cores // self.workers)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="deepexpr-studio")
        self._background = ThreadPoolExecutor(1, thread_name_prefix="deepexpr-studio-background",
                                              initializer=lower_priority, initargs=(int(background_nice),))
        import torch

        torch.set_num_threads(self._threads)  # process-wide: workers x threads <= cores

    async def run(self, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)` on a worker; StudioError(503) when the queue is full."""
        if self.pending >= self.max_queue:
            raise StudioError(503, f"server busy ({self.pending} requests queued); retry in a moment")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.pending -= 1

    def submit(self, fn, *args, **kwargs):
        """Queue `fn(*args, **kwargs)` on the background thread from any thread: a
        `concurrent.futures` Future (work a request starts beside itself, e.g. a live stream's
        face detector; not counted against `max_queue`: each live stream has at most one
        detector and one model run at a time)."""
        return self._background.submit(fn, *args, **kwargs)

    def on_every_worker(self, fn) -> None:
        """Run `fn()` once in each worker thread and the background thread (and wait):
        per-thread state such as the face pipeline's TFLite interpreters is built before the
        first request."""
        barrier = threading.Barrier(self.workers)

        def once():
            barrier.wait(timeout=60)  # each task holds its thread until all have started
            fn()

        for future in [self._executor.submit(once) for _ in range(self.workers)]:
            future.result()
        # after the workers: graphs shared by all (mediapipe's) are started by a worker, and
        # their threads keep its priority (a thread inherits its creator's niceness)
        self._background.submit(fn).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._background.shutdown(wait=False, cancel_futures=True)


def lower_priority(nice: int) -> None:
    """Raise the calling thread's niceness by `nice` (Linux: per thread; elsewhere nothing)."""
    if nice > 0 and sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
        except OSError:  # not permitted here: the same priority as the frames
            LOG.warning("studio: could not lower the background thread's priority")


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": int(status)}).encode()


class LimitsMiddleware:
    """Pure ASGI guard in front of the app.

    - Host header must be a loopback name (DNS-rebinding guard) unless remote is allowed;
    - a request with an Origin of another host is refused (no cross-site POSTs or sockets);
    - request bodies over `max_bytes` get 413 (from Content-Length, or while streaming);
    - every response gets `headers` (name, value) the app did not set itself (security
      headers; here rather than in a `BaseHTTPMiddleware`, which streams every response
      through extra tasks and queues).
    """

    def __init__(self, app, max_bytes: int, allowed_hosts: set[str] | None, headers: dict[str, str] | None = None):
        self.app = app
        self.max_bytes = int(max_bytes)
        self.allowed_hosts = allowed_hosts  # None: any host (--allow-remote)
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        problem = self._check_origin(host, headers.get("origin"))
        if problem:
            return await _refuse(scope, receive, send, 403, problem)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _refuse(scope, receive, send, 413, f"request body over {self.max_bytes:,} bytes; "
                                                            "send a smaller file")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        return await self._capped(scope, receive, send)

    def _check_origin(self, host: str, origin: str | None) -> str | None:
        name = urlsplit(f"//{host}").hostname or ""
        if self.allowed_hosts is not None and name not in self.allowed_hosts:
            return f"host {host[:60]!r} not served; open the studio at http://127.0.0.1"
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            return "cross-origin request refused; use the studio page itself"
        return None

    async def _capped(self, scope, receive, send):
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                if extra:
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, f"request body over {self.max_bytes:,} bytes; send a smaller file")


class _TooLarge(Exception):
    pass


async def _send_json(send, status: int, message: str) -> None:
    body = error_body(status, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope, receive, send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await receive()  # the websocket.connect event
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    await _send_json(send, status, message)


def allowed_hosts(config: StudioConfig) -> set[str] | None:
    """Host names the server answers to (None = any, with --allow-remote)."""
    if config.allow_remote:
        return None
    return {*LOOPBACK, "[::1]", config.host}
