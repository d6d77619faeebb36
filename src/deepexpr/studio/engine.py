"""The studio's one door into deepexpr: every model call the web app makes goes through here.

The rest of the studio (routes, live socket, page) never imports the application modules
directly.

- Faces come from the one face pipeline (`deepexpr.faces`: full-range detector, 478-point
  mesh per face; `face_backend` "tflite": per-thread TFLite interpreters, so the workers
  run photos in parallel without a lock); each face carries the pipeline's quality fields
  (`Face.quality()`: score, iod, yaw/pitch/roll, low_confidence, reason). Faces that drive
  the puppet (live, `/api/puppet`) are meshed with the rig path's settings
  (`deepexpr.faces.rigface.rig_config`: the solutions mesh the rig map was trained on).
- The puppet is the chosen character drawn with the rig the rig estimator reads from the
  face's mesh (`deepexpr.retarget.estimate_rig`: FACS AUs, head pose, gaze;
  `PUPPET_SOURCE = "rig"`). Only a face without a mesh falls back to the expression blend
  (the character's key poses weighted by the face's expression probabilities).
- The Live view keeps a `LiveSession` per socket: the pipeline's tracking stream
  (`RigFaceStream`) and one smoothed rig tracker per face track (`RigTrackers`), the
  building blocks of `deepexpr.retarget.retarget_stream`.

    >>> engine = Engine(EngineConfig()).load()
    >>> faces = engine.recognize(rgb)          # [FaceResult(box, label, probs, quality, ...)]
    >>> puppet = engine.drive(faces[0], "pip", size=192)   # Puppet(rig, image, source, flags)
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.errors import check_settings, setting
from deepexpr.expressions import EXPRESSIONS
from deepexpr.studio.uploads import StudioError

MAX_ANIMATIONS = 12  # generated animation folders kept on disk (oldest removed first)
PUPPET_SOURCE = "rig"  # the rig estimator on the face's mesh
FALLBACK_SOURCE = "expression-blend"  # a face without a mesh: key poses weighted by the probabilities
_GENERATED = re.compile(r"^rand_[0-9]{1,9}_[0-9]{1,3}$")  # random characters, rebuilt from their seed


@dataclass
class EngineConfig:
    """What the studio loads at start (`deepexpr serve` options are generated from these)."""

    character_model: str | None = setting(None, "character model: a bundled name, checkpoint or run folder "
                                          "(default: bundled)")
    index_characters: str = setting("all", "characters of the retrieval index (the demo's default index)")
    index_per_expression: int = setting(40, "index frames per character and expression", min=1, max=10_000)
    index_size: int = setting(128, "index image side in pixels", min=32, max=1024)
    hagan: bool = setting(True, "load HA-GAN for /api/translate (--no-hagan: a faster start, translate answers 503)")
    max_faces: int = setting(8, "faces per photo", min=1, max=256)
    detect_cache: int = setting(16, "photos whose detected faces are kept between requests", min=0)
    face_backend: str = setting("tflite", "face pipeline backend: tflite (mediapipe's model files on a TFLite "
                                "interpreter per worker, no lock) or solutions (mediapipe graphs, one lock); the "
                                "puppet's rig path meshes with solutions either way (its map was trained on it)",
                                choices=("tflite", "solutions"))
    photo_min_iod: float = setting(24.0, "smallest photo face searched for (pixels between the eyes): 24, the "
                                   "pipeline's 'tiny' limit, searches photos up to ~650 px whole; smaller adds "
                                   "pyramid tiles (slower)", above=0)
    live_min_iod: float = setting(30.0, "smallest live face searched for (pixels between the eyes): 30 "
                                  "searches a 640x480 frame whole; smaller adds pyramid tiles (slower)", above=0)
    live_expression_every: int = setting(2, "live: run the expression model on a tracked face every N frames "
                                         "and reuse its last answer in between (the answer's probs_age says how "
                                         "many frames old it is; 1: every frame)", min=1, max=30)
    live_background_detect: bool = setting(True, "live: run the periodic face detector on the background thread "
                                           "while the tracked faces go on (--no-live-background-detect: inside the "
                                           "frame)")
    expression_runtime: str = setting("onnx", "runtime of the human expression model: onnx (ONNX Runtime, ~5x less "
                                      "CPU a face) or torch", choices=("onnx", "torch"))
    live_background_expression: bool = setting(True, "live: run the expression model on the background thread "
                                               "after the frame's answer went out; its answer joins a later frame "
                                               "(probs_age >= 1; a new face is still read at once; "
                                               "--no-live-background-expression: inside the frame)")

    def __post_init__(self):
        check_settings(self)


@dataclass
class FaceResult:
    """One face of a photo or frame, as the studio shows it."""

    box: list[float]  # [x0, y0, x1, y1] photo pixels
    probs: np.ndarray  # (7,) float32 in EXPRESSIONS order
    quality: dict  # the face pipeline's `Face.quality()`: score, iod, yaw, pitch, roll, low_confidence, reason
    features: np.ndarray | None = None  # (D,) human-model features (retrieval)
    face: object = field(default=None, repr=False)  # the face pipeline's Face
    probs_age: int = 0  # live: frames since `probs` were computed (0: on this frame)

    @property
    def label(self) -> str:
        return EXPRESSIONS[int(np.argmax(self.probs))]

    def to_dict(self) -> dict:
        """JSON form sent to clients: box, label, probs {expression: p}, quality."""
        return {"box": self.box, "label": self.label, "probs": probs_dict(self.probs), "quality": self.quality}


def probs_dict(probs) -> dict[str, float]:
    """(7,) probabilities -> {expression: p} rounded for JSON."""
    return {e: round(float(v), 4) for e, v in zip(EXPRESSIONS, probs)}


@dataclass
class Puppet:
    """The character making one face: the rig it was drawn with and where the rig came from."""

    rig: dict[str, float]  # {control: value} over RIG_CONTROLS
    image: np.ndarray  # (size, size, 3) uint8
    source: str  # PUPPET_SOURCE or FALLBACK_SOURCE
    flags: list[str] = field(default_factory=list)  # the rig estimate's flags ("held", "low quality", ...)


class Engine:
    """Loaded models + the studio's operations. Thread-safe: the server calls it from a pool."""

    def __init__(self, config: EngineConfig | None = None):
        self.config = config or EngineConfig()
        self.human = None
        self.character = None
        self.index = None
        self.index_path = None
        self.hagan = None
        self.loaded: dict[str, str] = {}
        self._faces: OrderedDict[str, list] = OrderedDict()
        self._pipelines: dict = {}
        self._lock = threading.Lock()
        self._key_rigs: dict[str, np.ndarray] = {}
        self._animations: dict[str, Path] = {}
        self._anim_lock = threading.Lock()

    # ----------------------------------------------------------------- start-up
    def load(self, say=print) -> Engine:
        """Load every model once (and build the cached character index if missing)."""
        from deepexpr.retrieval.embed import load_recognizer_for

        t0 = time.perf_counter()
        say("deepexpr studio: loading the human and character models ...")
        self.human = load_recognizer_for("human")
        if self.config.expression_runtime == "onnx" and callable(getattr(self.human, "use_onnx", None)):
            self.human.use_onnx()  # the checkpoint recognizer; a net that does not export stays on torch
        self.character = load_recognizer_for("character", self.config.character_model)
        say("deepexpr studio: loading the character index (rendered, embedded and cached on first use) ...")
        from deepexpr.retrieval.default_index import default_index

        cfg = self.config
        self.index, self.index_path = default_index(self.character, cfg.index_characters, cfg.index_per_expression,
                                                    cfg.index_size, say=lambda line: say(f"deepexpr studio: {line}"))
        self.loaded = {"human": getattr(self.human, "name", "human"),
                       "character": getattr(self.character, "name", "character"),
                       "index": f"{Path(self.index_path).name} ({len(self.index)} images)"}
        if self.config.hagan:
            from deepexpr.translate import load_hagan

            self.hagan = load_hagan()
            self.loaded["hagan"] = Path(self.hagan.path).name
        from deepexpr.retarget import load_default_rigmap

        load_default_rigmap()
        self.loaded["puppet"] = f"{PUPPET_SOURCE} (bundled rig map)"
        self._warm_up()
        say(f"deepexpr studio: models ready in {time.perf_counter() - t0:.1f} s ({', '.join(self.loaded)})")
        return self

    def _warm_up(self) -> None:
        """One call through each path so the first request is not the slow one (blank
        inputs: loading a sample photo would cost more than the warm-up saves)."""
        from deepexpr.retrieval.embed import features_and_probs

        self.pipeline().detect(np.zeros((480, 640, 3), np.uint8))
        features_and_probs(self.human, [np.zeros((256, 256, 3), np.uint8)])
        self.puppet(np.full(len(EXPRESSIONS), 1 / len(EXPRESSIONS)), self.characters()[0], 128)

    def pipeline(self, for_rig: bool = False):
        """The photo face pipeline (no state between calls; one thread per request: the
        worker pool already spreads requests over the cores). `for_rig`: the rig path's
        settings (the mesh the rig map was trained on, `deepexpr.faces.rigface.rig_config`)."""
        if for_rig not in self._pipelines:
            from deepexpr.faces import FacePipeline, PipelineConfig
            from deepexpr.faces.rigface import rig_config

            settings = dict(min_iod=self.config.photo_min_iod, threads=1, backend=self.config.face_backend)
            self._pipelines[for_rig] = FacePipeline(rig_config(**settings) if for_rig else PipelineConfig(**settings))
        return self._pipelines[for_rig]

    def warm_worker(self) -> None:
        """Build the calling worker thread's face models (TFLite interpreters are per thread)."""
        self.pipeline().warm()
        self.pipeline(for_rig=True).warm()

    def close(self) -> None:
        """Nothing to release today (generated animations stay cached on disk)."""

    # ------------------------------------------------------------- recognition
    def detect(self, image: np.ndarray, key: str | None = None, for_rig: bool = False) -> list:
        """Faces of an RGB image via the face pipeline (the best `max_faces` detector scores,
        left to right); cached by `key` (the upload's hash). `for_rig`: see `pipeline`."""
        key = None if key is None else f"{key}:rig" if for_rig else key
        if key is not None:
            with self._lock:
                if key in self._faces:
                    self._faces.move_to_end(key)
                    return self._faces[key]
        faces = self.pipeline(for_rig).detect(np.ascontiguousarray(image))
        if len(faces) > self.config.max_faces:
            faces = sorted(sorted(faces, key=lambda f: -f.score)[: self.config.max_faces], key=lambda f: f.box[0])
        if key is not None:
            with self._lock:
                self._faces[key] = faces
                while len(self._faces) > self.config.detect_cache:
                    self._faces.popitem(last=False)
        return faces

    def recognize(self, image: np.ndarray, key: str | None = None, for_rig: bool = False) -> list[FaceResult]:
        """Every face of an RGB image with its expression probabilities and quality (`for_rig`:
        faces meshed for the rig estimator, for `drive`)."""
        return self.results(self.detect(image, key, for_rig))

    def results(self, faces: list) -> list[FaceResult]:
        """Expression probabilities (human model, one batch) and quality of pipeline faces."""
        from deepexpr.retrieval.embed import features_and_probs

        if not faces:
            return []
        feats, probs = features_and_probs(self.human, [np.asarray(f.aligned) for f in faces])
        return [FaceResult([round(float(v), 1) for v in f.box], probs[i], f.quality(),
                           None if feats is None else feats[i], f) for i, f in enumerate(faces)]

    # --------------------------------------------------------------- retrieval
    def retrieve(self, image: np.ndarray, key: str | None = None, top: int = 3) -> list[tuple[FaceResult, object]]:
        """Per face: (FaceResult, retrieval QueryResult with the top matches per character)."""
        from deepexpr.retrieval.embed import Embedding, classifier_weight, safe_geometry
        from deepexpr.retrieval.search import SearchConfig, search

        out = []
        weight = classifier_weight(self.human)
        cfg = SearchConfig(top=top, per_character=True)
        for i, r in enumerate(self.recognize(image, key)):
            lms = np.asarray(r.face.aligned_landmarks, np.float32)
            query = Embedding(r.features, r.probs, safe_geometry(lms), lms, None, "", i, r.box, "human", weight)
            out.append((r, search(query, self.index, cfg)))
        return out

    def thumbnail_path(self, row: int) -> Path:
        """The index image of a row (rows come from our own search results, never paths)."""
        if not 0 <= int(row) < len(self.index):
            raise StudioError(404, f"thumbnail {row}: no such index row (0..{len(self.index) - 1})")
        return Path(self.index.absolute_path(int(row)))

    # --------------------------------------------------------------- translate
    def hagan_characters(self) -> list[str]:
        return list(self.hagan.characters) if self.hagan is not None else []

    def translate(self, image: np.ndarray, character: str, key: str | None = None, seed: int = 0) -> list:
        """HA-GAN drawing of every face as `character`: [(box, drawing (S,S,3), D^e probs (7,))]."""
        from deepexpr.translate import translate

        if self.hagan is None:
            raise StudioError(503, "HA-GAN is not loaded; start the server without --no-hagan")
        if character not in self.hagan.characters:
            raise StudioError(422, f"character {character!r} is not an HA-GAN target; "
                                   f"choose one of {', '.join(self.hagan.characters)}")
        faces = self.detect(image, key)
        if not faces:
            return []
        done = translate(image, character=character, seed=seed, model=self.hagan, faces=faces)
        order = [EXPRESSIONS.index(c) if c in EXPRESSIONS else i for i, c in enumerate(done[0].classes)]
        out = []
        for t in done:
            probs = np.zeros(len(EXPRESSIONS), np.float32)
            probs[order] = t.probs
            out.append((list(map(float, t.box)) if t.box is not None else None, t.image, probs))
        return out

    # ------------------------------------------------------------ characters
    def characters(self) -> list[str]:
        from deepexpr.characters import list_characters

        return list_characters()

    def style(self, name: str):
        """A character by name: a built-in or a generated "rand_<seed>_<i>" (never a path)."""
        from deepexpr.characters import get_character

        name = str(name)
        if name not in self.characters() and not _GENERATED.match(name):
            raise StudioError(404, f"unknown character {name[:40]!r}; known: {', '.join(self.characters())} "
                                   "or rand_<seed>_<i>")
        return get_character(name)

    def render_character(self, name: str, expression: str, size: int = 256) -> np.ndarray:
        """A character making an expression (its key pose 0), (size, size, 3) uint8."""
        from deepexpr.characters import key_poses, render_face

        if expression not in EXPRESSIONS:
            raise StudioError(422, f"expression {expression[:20]!r}: choose one of {', '.join(EXPRESSIONS)}")
        style = self.style(name)
        return render_face(style, key_poses(style, expression)[0], size=int(size))[0]

    def random_character(self, seed: int) -> tuple[str, dict]:
        """A new random character: (name "rand_<seed>_0", its style as a JSON-ready dict)."""
        from deepexpr.characters import random_characters

        style = random_characters(1, seed=int(seed))[0]
        return style.name, style.to_dict()

    # ----------------------------------------------------------------- puppet
    def _rig_table(self, name: str) -> np.ndarray:
        """(7, C) key pose 0 of each expression over RIG_CONTROLS, cached per character."""
        from deepexpr.characters import RIG_CONTROLS, key_poses

        with self._lock:
            table = self._key_rigs.get(name)
        if table is None:
            style = self.style(name)
            table = np.array([[key_poses(style, e)[0].get(c, 0.0) for c in RIG_CONTROLS] for e in EXPRESSIONS])
            with self._lock:
                self._key_rigs[name] = table
        return table

    def puppet_rig(self, probs: np.ndarray, name: str) -> dict[str, float]:
        """The expression-blend rig (the fallback for a face without a mesh): key poses
        weighted by the expression probabilities."""
        from deepexpr.characters import RIG_CONTROLS

        w = np.clip(np.asarray(probs, np.float64).reshape(-1), 0, None)
        w = w / max(w.sum(), 1e-9)
        return {c: float(v) for c, v in zip(RIG_CONTROLS, w @ self._rig_table(name))}

    def rig_for(self, result: FaceResult, name: str) -> tuple[dict[str, float], str, list[str]]:
        """(rig, source, flags) that make character `name` show one face: the rig estimator
        on the face's mesh, or the expression blend when the face has no mesh."""
        from deepexpr.retarget import estimate_rig

        face = result.face
        if face is None or getattr(face, "mesh468", None) is None:
            return self.puppet_rig(result.probs, name), FALLBACK_SOURCE, []
        rig = estimate_rig(face)
        return dict(rig.values), PUPPET_SOURCE, list(rig.flags)

    def drive(self, result: FaceResult, name: str, size: int = 192, supersample: int = 1) -> Puppet:
        """The character making one face (see `rig_for`)."""
        rig, source, flags = self.rig_for(result, name)
        return Puppet(rig, self._draw(rig, name, size, supersample), source, flags)

    def _draw(self, rig: dict, name: str, size: int, supersample: int) -> np.ndarray:
        from deepexpr.characters import render_face

        return render_face(self.style(name), rig, size=int(size), supersample=int(supersample))[0]

    def live_session(self, background=None) -> LiveSession:
        """State for one webcam stream (close it when the stream ends). `background`: an
        executor for the periodic detector and expression runs (the server's worker pool), or
        None (see `EngineConfig.live_background_detect` / `live_background_expression`)."""
        cfg = self.config
        return LiveSession(self, background if cfg.live_background_detect else None,
                           background if cfg.live_background_expression else None)

    def puppet(self, probs: np.ndarray, name: str, size: int = 192, supersample: int = 1) -> np.ndarray:
        """The expression-blend fallback drawn: (size, size, 3) uint8.

        supersample=1 keeps the live loop fast (~2 ms); photos use 2 (smoother lines)."""
        return self._draw(self.puppet_rig(probs, name), name, size, supersample)

    # --------------------------------------------------------------- animate
    def animate(self, expression: str, frames: int = 45) -> tuple[str, Path]:
        """Generate an expression sequence on the project's face mesh: (id, folder with
        preview.mp4, strip.png, animation.glb, frames_obj.zip). Kept on disk per settings
        (generation and the preview take tens of seconds on a busy 2-core machine)."""
        if expression not in EXPRESSIONS or expression == "neutral":
            raise StudioError(422, f"expression {expression[:20]!r}: choose one of "
                                   f"{', '.join(e for e in EXPRESSIONS if e != 'neutral')}")
        from deepexpr import __version__
        from deepexpr.io import cache_dir

        weights = Path(__file__).resolve().parents[1] / "weights" / f"seq_{expression}.safetensors"
        mark = f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}" if weights.is_file() else ""
        stamp = f"{expression}:{int(frames)}:{__version__}:{mark}:v2"  # new weights: new id
        job = hashlib.sha256(stamp.encode()).hexdigest()[:16]
        folder = cache_dir() / "studio" / "animations" / job
        if (folder / "done").is_file():
            self._animations[job] = folder
            return job, folder
        # One generation at a time, and a second request does not park a worker on the lock.
        if not self._anim_lock.acquire(blocking=False):
            raise StudioError(503, "another animation is being generated; retry in a few seconds")
        try:
            if not (folder / "done").is_file():
                _write_animation(expression, int(frames), folder)
                _prune(folder.parent, keep=MAX_ANIMATIONS)
            self._animations[job] = folder
        finally:
            self._anim_lock.release()
        return job, folder

    def animation_file(self, job: str, name: str) -> Path:
        """A generated file by job id and one of the fixed names (never a client path)."""
        if name not in ANIMATION_FILES:
            raise StudioError(404, f"{name[:40]!r}: not an animation file; one of {', '.join(ANIMATION_FILES)}")
        folder = self._animations.get(str(job))
        if folder is None or not (folder / name).is_file():
            raise StudioError(404, f"animation {str(job)[:20]!r}: unknown or expired id; POST /api/animate first")
        return folder / name


class LiveSession:
    """One webcam stream: the face pipeline's tracking stream and a smoothed rig tracker per
    face track (hold the last good rig on a bad frame, then neutral).

    What keeps a frame cheap (benchmarks/RESULTS.md, "Studio, session 7"): the periodic
    detector runs on `background` (the pool's background thread) while tracking goes on; the
    expression model runs on a track every `live_expression_every` frames and its answer is
    reused in between (`FaceResult.probs_age`: frames since the frame it was computed on); with
    `expression_background` the model runs on that executor beside the frames, so no frame
    waits for it: its answer joins the first frame after it finished (a new face is still
    read at once, age 0). `stages` holds the last frame's wall-clock ms per stage and
    `stages_cpu` the CPU ms of the frame's own thread (mediapipe's graph threads and the
    background runs are not in it; the process CPU clock costs ~0.1-0.4 ms a read with this
    many threads).
    """

    STAGES = ("faces", "expression", "rig", "draw")

    def __init__(self, engine: Engine, background=None, expression_background=None):
        from deepexpr.faces import FacePipeline
        from deepexpr.faces.rigface import RigFaceStream, rig_config
        from deepexpr.retarget import RigTrackers

        self.engine = engine
        self.faces = RigFaceStream(FacePipeline(rig_config(min_iod=engine.config.live_min_iod, threads=1,
                                                           backend=engine.config.face_backend)),
                                   background=background)
        self.rigs = RigTrackers()
        self.every = int(engine.config.live_expression_every)
        self.expression_background = expression_background
        self.frame_index = 0
        self._answers: dict = {}  # track id -> (probs, features, frame index they were computed on)
        self._job = None  # (future of engine.results, frame index) of a background model run
        self.stages: dict[str, float] = {}
        self.stages_cpu: dict[str, float] = {}  # the same stages' CPU ms in the frame's thread

    def frame(self, image: np.ndarray, character: str, size: int,
              region: list[int] | None = None) -> tuple[list[FaceResult], Puppet | None]:
        """(faces left to right with probabilities and quality, the puppet of the largest face
        or None when there is no face). `region`: see `RigFaceStream.process`."""
        marks = [_clocks()]
        found = self.faces.process(image, region)
        marks.append(_clocks())
        results = self.expressions([f.face for f in found])
        marks.append(_clocks())
        puppet = None
        if not results:
            self.rigs.update([None], time.monotonic())  # held, then neutral, when the face comes back
        else:
            main = max(range(len(found)), key=lambda k: _area(found[k].box))
            rig = self.rigs.update([found[main]], time.monotonic())[0]
            values = dict(rig.values)
            marks.append(_clocks())
            puppet = Puppet(values, self.engine._draw(values, character, size, 1), PUPPET_SOURCE, list(rig.flags))
        marks.append(_clocks())
        self.stages = {k: 1000 * (b[0] - a[0]) for k, a, b in zip(self.STAGES, marks, marks[1:])}
        self.stages_cpu = {k: 1000 * (b[1] - a[1]) for k, a, b in zip(self.STAGES, marks, marks[1:])}
        return results, puppet

    def expressions(self, faces: list) -> list[FaceResult]:
        """`Engine.results` of the tracked faces of this frame: the model runs on a face that is
        new (at once) or whose last answer is `every` frames old (at once, or on the background
        executor, whose answer a later frame picks up); the others reuse their last answer."""
        self._collect()
        index, self.frame_index = self.frame_index, self.frame_index + 1
        due = [f for f in faces if f.track_id is None or f.track_id not in self._answers
               or index - self._answers[f.track_id][2] >= self.every]
        known = [f.track_id is not None and f.track_id in self._answers for f in due]
        if self.expression_background is None:
            now, later = due, []
        else:  # a known face keeps its answer until the background run's comes (no second run meanwhile)
            now, later = [f for f, k in zip(due, known) if not k], [f for f, k in zip(due, known) if k]
        if later and self._job is None:
            self._job = (self.expression_background.submit(self.engine.results, later), index)
        computed = dict(zip(map(id, now), self.engine.results(now))) if now else {}
        out = []
        for face in faces:
            if id(face) in computed:
                r = computed[id(face)]
                if face.track_id is not None:
                    self._answers[face.track_id] = (r.probs, r.features, index)
            else:
                probs, features, at = self._answers[face.track_id]
                r = FaceResult([round(float(v), 1) for v in face.box], probs, face.quality(), features, face, index - at)
            out.append(r)
        live = {f.track_id for f in faces}
        self._answers = {t: a for t, a in self._answers.items() if t in live}
        return out

    def _collect(self) -> None:
        """Keep the answers of a finished background model run (of tracks still followed)."""
        if self._job is None or not self._job[0].done():
            return
        (future, index), self._job = self._job, None
        try:
            done = future.result()
        except Exception:  # the next due frame runs the model again; the stream goes on
            logging.getLogger("deepexpr.studio").exception("studio: background expression run failed")
            return
        for r in done:
            last = self._answers.get(r.face.track_id)
            if last is not None and last[2] < index:
                self._answers[r.face.track_id] = (r.probs, r.features, index)

    def close(self) -> None:
        if self._job is not None:
            self._job[0].cancel()
            self._job = None
        self.faces.close()


def _clocks() -> tuple[float, float]:
    """(wall clock, this thread's CPU clock) in seconds (the thread's clock is cheap to read;
    the process's, summed over its threads, is not)."""
    return time.perf_counter(), time.thread_time()


def _area(box) -> float:
    return float((box[2] - box[0]) * (box[3] - box[1]))


ANIMATION_FILES = {"preview.mp4": "video/mp4", "strip.png": "image/png",
                   "animation.glb": "model/gltf-binary", "frames_obj.zip": "application/zip"}


def _write_animation(expression: str, frames: int, folder: Path) -> None:
    """Write the four files into a temporary folder, then rename it into place.

    Uses only `animate(AnimateConfig)`, once per format: the generation is deterministic,
    so the three agree, and the studio does not depend on where the sequence model lives.
    """
    from deepexpr.animation.animate import AnimateConfig, animate

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        base = dict(expression=expression, frames=frames, size=224, show_progress=False)
        video, strip = animate(AnimateConfig(**base, out=str(tmp), fmt="mp4"))
        video.rename(tmp / "preview.mp4")
        strip.rename(tmp / "strip.png")
        (glb,) = animate(AnimateConfig(**base, out=str(tmp), fmt="glb"))
        glb.rename(tmp / "animation.glb")
        _zip(animate(AnimateConfig(**base, out=str(tmp / "obj"), fmt="obj")), tmp / "frames_obj.zip")
        shutil.rmtree(tmp / "obj")
        (tmp / "done").write_text(expression)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prune(root: Path, keep: int) -> None:
    """Keep the `keep` newest generated animations (each is several MB)."""
    done = sorted((p for p in root.iterdir() if (p / "done").is_file()), key=lambda p: p.stat().st_mtime)
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _zip(paths: list[Path], out: Path) -> None:
    import zipfile

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for p in paths:
            zf.write(p, arcname=p.name)
