"""`deepexpr serve`: the local web studio (photos, webcam, puppet, retrieval, animation).

    deepexpr serve                      # http://127.0.0.1:8765
    deepexpr serve --port 9000 --open   # and open the page in the default browser
    deepexpr serve --host 0.0.0.0 --allow-remote   # other machines too (prints a warning)

Needs the `[web]` extra (FastAPI, uvicorn): `pip install -e ".[web]"`.
"""

from __future__ import annotations

import dataclasses
import sys

from deepexpr.errors import InputError

# Options generated from the two config dataclasses (field comments are the help texts).
HELP = {
    "host": "interface to bind (default 127.0.0.1; others need --allow-remote)",
    "port": "TCP port",
    "open": "open the page in the default browser once serving",
    "allow_remote": "allow a non-loopback --host (anyone who can reach it can use the studio)",
    "workers": "CPU worker threads (0: one per core)",
    "max_queue": "requests waiting for a worker before new ones get 503",
    "max_upload_mb": "request body cap in MB (413 above)",
    "max_pixels": "photo pixel cap, checked before decoding (413 above)",
    "live_max_bytes": "one live frame message cap in bytes",
    "live_max_pixels": "one live frame pixel cap",
    "live_max_fps": "live frames per second accepted per socket",
    "puppet_size": "live puppet frame side in pixels",
    "character_model": "character model checkpoint (default: bundled)",
    "index_characters": "characters of the retrieval index",
    "index_per_expression": "index frames per character and expression",
    "index_size": "index image side in pixels",
    "hagan": "load HA-GAN for /api/translate (--no-hagan to skip)",
    "max_faces": "faces per photo",
    "detect_cache": "photos whose detected faces are kept between requests",
}


def _add_options(parser, config_cls) -> None:
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=__import__("argparse").BooleanOptionalAction, default=f.default,
                                help=HELP.get(f.name))
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=f.default, help=HELP.get(f.name))


def register(commands, groups) -> None:
    from deepexpr.studio import EngineConfig, StudioConfig

    p = commands.add_parser("serve", help="the local web studio (photos, webcam, puppet, retrieval, animation)")
    _add_options(p, StudioConfig)
    _add_options(p, EngineConfig)
    p.set_defaults(func=cmd_serve)


def _configs(args):
    from deepexpr.studio import EngineConfig, StudioConfig

    pick = {cls: {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)} for cls in (StudioConfig, EngineConfig)}
    return StudioConfig(**pick[StudioConfig]), EngineConfig(**pick[EngineConfig])


def check_host(config) -> None:
    """Loopback unless --allow-remote; a remote bind prints a warning."""
    from deepexpr.studio.server import LOOPBACK

    if config.host not in LOOPBACK and not config.allow_remote:
        raise InputError(f"--host {config.host}: not a loopback address; the studio has no login, so serving "
                         "other machines needs --allow-remote")
    if config.host not in LOOPBACK:
        print(f"deepexpr serve: WARNING: listening on {config.host}: anyone who can reach this machine "
              "can use the studio and its CPU (no login, no TLS)", file=sys.stderr)
    if not 0 < config.port < 65536:
        raise InputError(f"--port {config.port}: choose 1..65535")


def cmd_serve(args) -> int:
    studio, engine_cfg = _configs(args)
    check_host(studio)
    try:
        import uvicorn

        from deepexpr.studio import Engine, create_app
    except ImportError as err:
        raise InputError(f"deepexpr serve needs the web extra ({err.name} missing); "
                         "install it with: pip install -e \".[web]\"") from err
    engine = Engine(engine_cfg).load(say=lambda line: print(line, file=sys.stderr, flush=True))
    app = create_app(engine, studio)
    host = f"[{studio.host}]" if ":" in studio.host else studio.host
    url = f"http://{host}:{studio.port}/"
    print(f"deepexpr serve: studio at {url} (API reference at {url}docs); Ctrl+C stops", file=sys.stderr, flush=True)
    if studio.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        uvicorn.run(app, host=studio.host, port=studio.port, log_level="warning",
                    ws_max_size=studio.live_max_bytes + 1024, timeout_graceful_shutdown=2)
    finally:
        engine.close()
    return 0
