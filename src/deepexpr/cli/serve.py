"""`deepexpr serve`: the local web studio (photos, webcam, puppet, retrieval, animation).

    deepexpr serve                      # http://127.0.0.1:8765
    deepexpr serve --port 9000 --open   # and open the page in the default browser
    deepexpr serve --host 0.0.0.0 --allow-remote   # other machines too (prints a warning)

Needs the `[web]` extra (FastAPI, uvicorn): `pip install -e ".[web]"`.
"""

from __future__ import annotations

import sys

from deepexpr.cli.options import add_options, config_from_args
from deepexpr.errors import InputError


def register(commands, groups) -> None:
    p = commands.add_parser("serve", help="the local web studio (photos, webcam, puppet, retrieval, animation)")
    add_options(p, "deepexpr.studio.server:StudioConfig")
    add_options(p, "deepexpr.studio.engine:EngineConfig")
    p.set_defaults(func=cmd_serve)


def _configs(args):
    from deepexpr.cli.perception import recognizer_model
    from deepexpr.studio import EngineConfig, StudioConfig

    model = recognizer_model(args.character_model, "--character-model")
    return config_from_args(StudioConfig, args), config_from_args(EngineConfig, args, character_model=model)


def check_host(config) -> None:
    """Loopback unless --allow-remote; a remote bind prints a warning."""
    from deepexpr.studio.server import LOOPBACK

    if config.host not in LOOPBACK and not config.allow_remote:
        raise InputError(f"--host {config.host}: not a loopback address; the studio has no login, so serving "
                         "other machines needs --allow-remote")
    if config.host not in LOOPBACK:
        print(f"deepexpr serve: WARNING: listening on {config.host}: anyone who can reach this machine "
              "can use the studio and its CPU (no login, no TLS)", file=sys.stderr)


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
                    ws_max_size=studio.live_max_bytes + 1024, timeout_graceful_shutdown=2,
                    ws_per_message_deflate=False)  # frames are JPEG or raw pixels: deflating them only costs CPU
    finally:
        engine.close()
    return 0
