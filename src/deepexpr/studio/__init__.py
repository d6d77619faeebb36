"""deepexpr studio: a local web app over the whole toolkit (`deepexpr serve`).

Photos, webcam, a live character puppet, retrieval, HA-GAN drawings and 3D animation in
one page, served by FastAPI from this package (plain HTML/CSS/JS in `static/`, no CDN,
no build step). Needs the `[web]` extra: `pip install -e ".[web]"`.

    from deepexpr.studio import Engine, EngineConfig, StudioConfig, create_app
    app = create_app(Engine(EngineConfig()).load(), StudioConfig())

Modules: engine (the one adapter to deepexpr's models), app (routes), live (the webcam
socket), server (settings, worker pool, limits), uploads (untrusted bytes -> images),
schemas (typed API bodies).
"""

from deepexpr.studio.engine import PUPPET_SOURCE, Engine, EngineConfig
from deepexpr.studio.server import StudioConfig


def create_app(engine, config=None):
    """The FastAPI app (imported lazily: FastAPI is an optional extra)."""
    from deepexpr.studio.app import create_app as _create

    return _create(engine, config)


__all__ = ["PUPPET_SOURCE", "Engine", "EngineConfig", "StudioConfig", "create_app"]
