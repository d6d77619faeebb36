"""The studio's FastAPI app: JSON API, the live socket, and the page (package files).

    >>> from deepexpr.studio import create_app, Engine, StudioConfig
    >>> app = create_app(Engine().load(), StudioConfig())      # serve with uvicorn

Routes (typed models in `deepexpr.studio.schemas`, OpenAPI JSON at /openapi.json, a
package-served reference page at /docs):
GET /api/health; POST /api/recognize | /api/retrieve | /api/translate | /api/puppet
(multipart field `image`); POST /api/animate (JSON) + GET /api/animations/{id}/{file};
GET /api/characters, /api/characters/{name}/{expression}.png, /api/characters/{name}.json,
POST /api/characters/random; GET /api/thumbnails/{row}.png; WS /ws/live.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from deepexpr.errors import DeepExprError
from deepexpr.expressions import EXPRESSIONS
from deepexpr.studio import schemas
from deepexpr.studio.engine import ANIMATION_FILES, PUPPET_SOURCE, Engine, probs_dict
from deepexpr.studio.live import add_live_route
from deepexpr.studio.server import LOG, LimitsMiddleware, StudioConfig, WorkPool, allowed_hosts
from deepexpr.studio.uploads import StudioError, data_url, decode_image, encode_image

STATIC = Path(__file__).resolve().parent / "static"
ERRORS = {code: {"model": schemas.ErrorBody} for code in (404, 413, 422, 503)}
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'; object-src 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}
HAGAN_NOTE = ("HA-GAN trained on a drawn human stand-in, not on photos: drawings of real photos "
              "are rough (README, section HA-GAN)")


def create_app(engine: Engine, config: StudioConfig | None = None) -> FastAPI:
    """The app around a loaded `Engine` (models load before, not per request)."""
    config = config or StudioConfig()
    app = FastAPI(title="deepexpr studio", version=_version(), docs_url=None, redoc_url=None,
                  description="Facial expressions of people and characters: photos, webcam, puppet, "
                              "retrieval, HA-GAN drawings, 3D animation. Loopback only by default.")
    app.state.engine = engine
    app.state.config = config
    app.state.pool = WorkPool(config.workers, config.max_queue, config.background_nice)
    app.state.pool.on_every_worker(engine.warm_worker)
    _add_error_handlers(app)
    _add_photo_routes(app)
    _add_character_routes(app)
    _add_animation_routes(app)
    add_live_route(app)
    _add_page_routes(app)
    app.add_middleware(LimitsMiddleware, max_bytes=int(config.max_upload_mb * 1e6),
                       allowed_hosts=allowed_hosts(config), headers=SECURITY_HEADERS)
    return app


def _version() -> str:
    from deepexpr import __version__

    return __version__


def _add_error_handlers(app: FastAPI) -> None:
    def answer(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status)

    @app.exception_handler(StudioError)
    async def studio_error(_request, err: StudioError):
        return answer(err.status, err.message)

    @app.exception_handler(DeepExprError)
    async def deepexpr_error(_request, err: DeepExprError):
        return answer(422, str(err).splitlines()[0][:300])

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return answer(422, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(_request, err: HTTPException):
        return answer(err.status_code, str(err.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception):
        LOG.exception("studio: %s %s failed", request.method, request.url.path)
        return answer(500, "internal error; the server log has the details")



async def _on_upload(request: Request, image: UploadFile, fn, *args) -> tuple[tuple, object]:
    """`fn(rgb, key, *args)` on a worker, the upload decoded there first (one trip through
    the queue per request): (the image's shape, fn's answer). `key` is the content hash,
    the face cache's key."""
    data = await image.read()
    return await request.app.state.pool.run(_decoded_call, data, request.app.state.config.max_pixels, fn, args)


def _decoded_call(data: bytes, max_pixels: int, fn, args: tuple) -> tuple[tuple, object]:
    rgb = decode_image(data, max_pixels)
    return rgb.shape, fn(rgb, hashlib.sha256(data).hexdigest(), *args)


def _add_photo_routes(app: FastAPI) -> None:
    @app.get("/api/health", response_model=schemas.Health)
    async def health(request: Request):
        """Liveness and what was loaded."""
        pool = request.app.state.pool
        return schemas.Health(version=_version(), models=request.app.state.engine.loaded, workers=pool.workers,
                              queued=pool.pending, puppet_source=PUPPET_SOURCE)

    @app.post("/api/recognize", response_model=schemas.RecognizeResponse, responses=ERRORS)
    async def recognize(request: Request, image: UploadFile = File(..., description="a photo (JPEG, PNG, ...)")):
        """Every face: box, expression label and probabilities, quality."""
        t0 = time.perf_counter()
        shape, faces = await _on_upload(request, image, request.app.state.engine.recognize)
        return {"width": shape[1], "height": shape[0], "faces": [r.to_dict() for r in faces],
                "ms": round(1000 * (time.perf_counter() - t0), 2)}

    @app.post("/api/retrieve", response_model=schemas.RetrieveResponse, responses=ERRORS)
    async def retrieve(request: Request, image: UploadFile = File(...), top: int = Form(3, ge=1, le=10)):
        """Per face: the character images that read the same (top per character)."""
        t0 = time.perf_counter()
        engine: Engine = request.app.state.engine
        _shape, found = await _on_upload(request, image, engine.retrieve, top)
        faces = [{"face": r.to_dict(), "matched_label": q.matched_label,
                  "by_character": {c: [_match(m) for m in ms] for c, ms in q.by_character.items()}}
                 for r, q in found]
        return {"faces": faces, "index": engine.loaded.get("index", ""), "ms": round(1000 * (time.perf_counter() - t0), 2)}

    @app.get("/api/thumbnails/{row}.png", responses=ERRORS, response_class=FileResponse)
    async def thumbnail(request: Request, row: int):
        """An index image by its row id (ids come from /api/retrieve)."""
        path = request.app.state.engine.thumbnail_path(row)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/translate", response_model=schemas.TranslateResponse, responses=ERRORS)
    async def translate(request: Request, image: UploadFile = File(...), character: str = Form("pip"),
                        seed: int = Form(0, ge=0, le=2**31 - 1)):
        """HA-GAN: every face redrawn as a character, with the expression D^e reads."""
        t0 = time.perf_counter()
        engine: Engine = request.app.state.engine
        _shape, done = await _on_upload(request, image, lambda rgb, key: engine.translate(rgb, character, key, seed))
        faces = [{"box": box, "image": data_url(img), "label": EXPRESSIONS[int(np.argmax(p))], "probs": probs_dict(p)}
                 for box, img, p in done]
        return {"character": character, "faces": faces, "note": HAGAN_NOTE,
                "ms": round(1000 * (time.perf_counter() - t0), 2)}

    @app.post("/api/puppet", response_model=schemas.PuppetResponse, responses=ERRORS)
    async def puppet(request: Request, image: UploadFile = File(...), character: str = Form("pip"),
                     size: int = Form(256, ge=64, le=512)):
        """The chosen character making each face (the rig estimator on the face's mesh)."""
        t0 = time.perf_counter()
        engine: Engine = request.app.state.engine
        engine.style(character)  # unknown character: 404 before any work
        _shape, faces = await _on_upload(request, image, lambda rgb, key: _puppets(engine, rgb, key, character, size))
        return {"character": character, "puppet_source": PUPPET_SOURCE, "faces": faces,
                "ms": round(1000 * (time.perf_counter() - t0), 2)}


def _puppets(engine: Engine, rgb, key, character: str, size: int) -> list[dict]:
    out = []
    for r in engine.recognize(rgb, key, for_rig=True):
        puppet = engine.drive(r, character, size, supersample=2)
        out.append({"box": r.box, "label": r.label, "probs": probs_dict(r.probs), "quality": r.quality,
                    "rig": {k: round(v, 4) for k, v in puppet.rig.items()}, "puppet_source": puppet.source,
                    "flags": puppet.flags, "image": data_url(puppet.image)})
    return out


def _match(m) -> dict:
    return {"rank": m.rank, "character": m.character, "label": m.label, "js": round(float(m.js), 5),
            "geometry": None if m.geometry is None else round(float(m.geometry), 4),
            "thumbnail": f"/api/thumbnails/{int(m.row)}.png"}


def _add_character_routes(app: FastAPI) -> None:
    @app.get("/api/characters", response_model=schemas.CharacterList)
    async def characters(request: Request):
        """Built-in characters, HA-GAN targets and the seven expressions."""
        engine: Engine = request.app.state.engine
        return {"characters": engine.characters(), "hagan_characters": engine.hagan_characters(),
                "expressions": list(EXPRESSIONS)}

    @app.get("/api/characters/{name}/{expression}.png", responses=ERRORS, response_class=Response)
    async def render(request: Request, name: str, expression: str, size: int = 256):
        """A character (built-in or rand_<seed>_<i>) making an expression, as PNG."""
        if not 32 <= size <= 512:
            raise StudioError(422, f"size {size}: choose 32..512")
        img = await request.app.state.pool.run(request.app.state.engine.render_character, name, expression, size)
        return Response(encode_image(img), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/characters/{name}.json", responses=ERRORS)
    async def character_json(request: Request, name: str):
        """A character's style JSON (load it with `deepexpr` commands as a style file)."""
        style = request.app.state.engine.style(name)
        return JSONResponse(style.to_dict(), headers={"Content-Disposition": f'attachment; filename="{style.name}.json"'})

    @app.post("/api/characters/random", response_model=schemas.RandomCharacter)
    async def random_character(request: Request, seed: int | None = None):
        """Draw a new random character (same seed, same character)."""
        seed = int(np.random.default_rng().integers(0, 10**6)) if seed is None else seed
        if not 0 <= seed < 10**9:
            raise StudioError(422, f"seed {seed}: choose 0..999999999")
        name, style = request.app.state.engine.random_character(seed)
        return {"name": name, "style": style, "image": f"/api/characters/{name}/joy.png"}


def _add_animation_routes(app: FastAPI) -> None:
    @app.post("/api/animate", response_model=schemas.AnimateResponse, responses=ERRORS)
    async def animate(request: Request, body: schemas.AnimateRequest):
        """Generate an expression on the project's 3D face: preview video, GLB, OBJ frames."""
        t0 = time.perf_counter()
        job, _folder = await request.app.state.pool.run(request.app.state.engine.animate, body.expression, body.frames)
        return {"id": job, "expression": body.expression, "frames": body.frames,
                "files": {n: f"/api/animations/{job}/{n}" for n in ANIMATION_FILES},
                "ms": round(1000 * (time.perf_counter() - t0), 2)}

    @app.get("/api/animations/{job}/{name}", responses=ERRORS, response_class=FileResponse)
    async def animation_file(request: Request, job: str, name: str):
        """A generated file by id (names: preview.mp4, strip.png, animation.glb, frames_obj.zip)."""
        path = request.app.state.engine.animation_file(job, name)
        disposition = "inline" if name.endswith((".mp4", ".png")) else "attachment"
        return FileResponse(path, media_type=ANIMATION_FILES[name], content_disposition_type=disposition,
                            filename=f"{job}_{name}")


def _add_page_routes(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(STATIC / "docs.html", media_type="text/html")
