"""The retrieval index: one versioned safetensors file of embedded, labelled images.

Tensors: ``features`` (N, D) float32 penultimate features, ``probs`` (N, 7) float32 class
probabilities, ``labels`` (N,) int64 (EXPRESSIONS order), ``geometry`` (N, 9) float32 (NaN
rows when an image has no landmarks), ``file_stats`` (N, 2) int64 (size, mtime_ns, for
incremental builds) and, when the model has a linear classifier, ``classifier_weight`` (7, D).
The header's metadata key ``deepexpr_index`` holds JSON: format version, domain, the model
identity (name + SHA-256 of its weights), the data root and manifest hash, per-row paths
(relative to the root) and characters, and the software versions.

Distributions are not stored: they are computed from features/probs on load for whichever
choice (`distributions.METHODS`) is asked, so one index serves every choice.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, canonical
from deepexpr.io import atomic_path, versions
from deepexpr.models.checkpoint import feature_space, state_sha256
from deepexpr.retrieval.distributions import DEFAULT_METHOD, to_distribution
from deepexpr.retrieval.geometry import NUM_FEATURES, geometric_features
from deepexpr.retrieval.index_schema import check_index_file
from deepexpr.retrieval.js import JSIndexTerms

FORMAT = "deepexpr-index"
FORMAT_VERSION = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class RetrievalIndex:
    """Embedded images and what is needed to rank them (see the module docstring)."""

    features: np.ndarray  # (N, D) float32 penultimate features
    probs: np.ndarray  # (N, 7) float32 class probabilities
    labels: np.ndarray  # (N,) int64 expression index, -1 when unknown
    geometry: np.ndarray  # (N, 9) float32 geometric features, NaN rows when no landmarks
    paths: list[str]  # (N,) image paths relative to data["root"] (absolute if outside it)
    characters: list[str]  # (N,) character / subject name ("" when unknown)
    model: dict  # identity of the embedding model: name, sha256, domain, path
    classifier_weight: np.ndarray | None = None  # (7, D) float32 final linear layer
    domain: str = "character"  # "character" or "human": which model embedded the images
    data: dict = field(default_factory=dict)  # root, manifest sha256, image count
    file_stats: np.ndarray | None = None  # (N, 2) int64 size and mtime_ns of each image
    meta: dict = field(default_factory=dict)  # versions and build settings
    _cache: dict = field(default_factory=dict, repr=False)  # derived arrays (distributions, scales)

    def __len__(self) -> int:
        return len(self.paths)

    def distributions(self, method: str = DEFAULT_METHOD) -> np.ndarray:
        """(N, K) distributions for `method` (cached)."""
        return self.js_terms(method).dists

    def js_terms(self, method: str = DEFAULT_METHOD) -> JSIndexTerms:
        """Distributions with their Σ p log p, for fast JS ranking (cached per method)."""
        key = ("js", method)
        if key not in self._cache:
            dists = to_distribution(self.features, self.probs, self.classifier_weight, method)
            self._cache[key] = JSIndexTerms.from_distributions(dists)
        return self._cache[key]

    def absolute_path(self, i: int) -> str:
        """The image path of row `i` as a usable file path."""
        root = self.data.get("root", "")
        return self.paths[i] if os.path.isabs(self.paths[i]) or not root else os.path.join(root, self.paths[i])

    def geometry_scale(self) -> np.ndarray:
        """(9,) per-feature standard deviation over the index (1 where undefined; cached)."""
        if "geometry_scale" not in self._cache:
            g = self.geometry[np.isfinite(self.geometry).all(axis=1)]
            s = g.std(axis=0) if len(g) >= 2 else np.ones(NUM_FEATURES)
            self._cache["geometry_scale"] = np.where(s > 1e-8, s, 1.0).astype(np.float32)
        return self._cache["geometry_scale"]

    def scaled_geometry(self) -> np.ndarray:
        """(N, 9) geometry divided by `geometry_scale()` (cached; NaN rows stay NaN)."""
        if "scaled_geometry" not in self._cache:
            self._cache["scaled_geometry"] = np.ascontiguousarray(self.geometry / self.geometry_scale(), np.float32)
        return self._cache["scaled_geometry"]

    def label_rows(self, label: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows with `label`, their scaled geometry (M, 9)) — cached per label."""
        key = ("label_rows", int(label))
        if key not in self._cache:
            rows = np.flatnonzero(self.labels == label)
            self._cache[key] = (rows, np.ascontiguousarray(self.scaled_geometry()[rows]))
        return self._cache[key]

    def character_codes(self) -> tuple[list[str], np.ndarray]:
        """(sorted character names, (N,) int code of each row) — cached."""
        if "character_codes" not in self._cache:
            names, codes = np.unique(np.asarray(self.characters, dtype=object).astype(str), return_inverse=True)
            self._cache["character_codes"] = ([str(n) for n in names], codes.astype(np.int64))
        return self._cache["character_codes"]

    def character_rows(self) -> dict[str, np.ndarray]:
        """{character: (M,) its row indices}, sorted by name (cached)."""
        if "character_rows" not in self._cache:
            names, codes = self.character_codes()
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
            self._cache["character_rows"] = {n: order[bounds[k]:bounds[k + 1]] for k, n in enumerate(names)}
        return self._cache["character_rows"]

    def subset(self, rows: np.ndarray) -> RetrievalIndex:
        """A new index holding only `rows` (boolean mask or integer array)."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        return RetrievalIndex(
            self.features[rows], self.probs[rows], self.labels[rows], self.geometry[rows],
            [self.paths[i] for i in rows], [self.characters[i] for i in rows], dict(self.model),
            self.classifier_weight, self.domain, dict(self.data),
            None if self.file_stats is None else self.file_stats[rows],
            {**self.meta, **({"geometry_source": [geometry_sources(self)[i] for i in rows]}
                             if "geometry_source" in self.meta else {})})


# ----------------------------------------------------------------------------- save / load

def save_index(index: RetrievalIndex, path: str | Path) -> None:
    """Write `index` to one safetensors file, atomically."""
    from safetensors.numpy import save_file

    n = len(index)
    tensors = {
        "features": np.ascontiguousarray(index.features, dtype=np.float32).reshape(n, -1),
        "probs": np.ascontiguousarray(index.probs, dtype=np.float32).reshape(n, len(EXPRESSIONS)),
        "labels": np.ascontiguousarray(index.labels, dtype=np.int64),
        "geometry": np.ascontiguousarray(index.geometry, dtype=np.float32).reshape(n, NUM_FEATURES),
        "file_stats": np.ascontiguousarray(
            index.file_stats if index.file_stats is not None else np.zeros((n, 2)), dtype=np.int64),
    }
    if index.classifier_weight is not None:
        tensors["classifier_weight"] = np.ascontiguousarray(index.classifier_weight, dtype=np.float32)
    header = {
        "format": FORMAT, "version": FORMAT_VERSION, "domain": index.domain, "model": index.model,
        "data": index.data, "paths": index.paths, "characters": index.characters,
        "classes": list(EXPRESSIONS), "meta": {**index.meta, "versions": versions()},
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"deepexpr_index": json.dumps(header)})


def load_index(path: str | Path, expect_model: dict | None = None) -> RetrievalIndex:
    """Read an index; with `expect_model`, refuse one built by a different model.

    Raises:
        InputError: missing/unreadable file, not a deepexpr index, newer format, or a model
            mismatch (the message names both models and how to rebuild).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: index not found; build one with `deepexpr index build --data DIR --out {path}`")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable index file ({err}); rebuild it with `deepexpr index build`") from err
    try:
        header = json.loads(meta["deepexpr_index"])
    except (KeyError, json.JSONDecodeError, TypeError) as err:
        raise InputError(f"{path}: safetensors file is not a deepexpr index; build one with `deepexpr index build`") from err
    if not isinstance(header, dict):
        raise InputError(f"{path}: index header is not a JSON object; rebuild it with `deepexpr index build`")
    if header.get("format") == FORMAT:  # another format: the line below says so
        check_index_file(path, header, tensors)
    if header.get("format") != FORMAT or int(header.get("version", 0)) > FORMAT_VERSION:
        raise InputError(f"{path}: index format {header.get('format')} v{header.get('version')} is not "
                         f"readable by this deepexpr (v{FORMAT_VERSION}); rebuild it")
    index = RetrievalIndex(
        features=tensors["features"], probs=tensors["probs"], labels=tensors["labels"],
        geometry=tensors["geometry"], paths=list(header["paths"]), characters=list(header["characters"]),
        model=header["model"], classifier_weight=tensors.get("classifier_weight"),
        domain=header.get("domain", "character"), data=header.get("data", {}),
        file_stats=tensors.get("file_stats"), meta=header.get("meta", {}),
    )
    if expect_model is not None:
        check_model(index, expect_model, path)
    return index


def check_model(index: RetrievalIndex, model: dict, path: str | Path = "index") -> None:
    """Raise InputError unless `model` has the same weights hash as the index's model."""
    built, given = index.model.get("sha256"), model.get("sha256")
    if built and given and built != given:
        raise InputError(
            f"{path}: built with model {index.model.get('name')!r} (sha256 {built[:12]}) but the "
            f"query model is {model.get('name')!r} (sha256 {given[:12]}); rebuild the index with "
            f"this model or pass the index's model with --model")


# ----------------------------------------------------------------------------- model identity

def model_identity(recognizer, domain: str) -> dict:
    """Name and weights hash of a recognizer (what an index records and checks).

    The hash covers the model's state-dict tensors (sorted by name), so it identifies the
    weights regardless of where the file lives.
    """
    for attr in ("identity",):
        ident = getattr(recognizer, attr, None)
        if isinstance(ident, dict) and ident.get("sha256"):
            return {"feature_space": ident["sha256"], **ident, "domain": domain}
    module = getattr(recognizer, "model", None)
    sha = state_dict_sha256(module) if module is not None and hasattr(module, "state_dict") else ""
    name = getattr(recognizer, "name", None) or (getattr(recognizer, "config", None) or {}).get("model", "")
    path = getattr(recognizer, "path", None) or getattr(recognizer, "checkpoint", None)
    return {"name": str(name or type(recognizer).__name__), "sha256": sha, "domain": domain,
            "path": str(path) if path else "",
            "feature_space": feature_space(getattr(recognizer, "config", None), sha)}


state_dict_sha256 = state_sha256  # the one definition lives with the checkpoint format


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- data scanning

@dataclass
class ImageRecord:
    """One image to embed."""

    path: str  # absolute path
    label: int  # expression index, -1 when no folder names one
    character: str  # character / subject ("" when unknown)
    landmarks: np.ndarray | None = None  # (49, 2) when known (rig or landmarks file)


def scan_images(root: str | Path) -> list[ImageRecord]:
    """Find the labelled images under `root`.

    The FERG-DB layout (`ROOT/<char>/<char>_<expr>/<char>_<expr>_<N>.png`) is read with
    `deepexpr.data.ferg.FergDataset` when available (it also yields rig landmarks); any other
    tree is walked: the label is the nearest parent folder whose name (or its last
    `_`-separated part) is an expression, the character the first folder under `root`.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: data folder not found; render one with `deepexpr characters render --out {root}`")
    records = _scan_ferg(root)
    if records is None:
        records = _scan_walk(root)
    if not records:
        raise InputError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)}); point --data at an image folder")
    return records


def _scan_ferg(root: Path) -> list[ImageRecord] | None:
    try:
        from deepexpr.data.ferg import FergDataset
    except ImportError:
        return None
    try:
        ds = FergDataset(root)
    except Exception:  # not the FERG layout: fall back to walking the tree
        return None
    out = []
    for rec in ds.records:
        path, label, character, lms = _record_fields(rec)
        out.append(ImageRecord(str(Path(path).resolve()), label, character, lms))
    return out or None


def _record_fields(rec):
    if isinstance(rec, dict):
        get = rec.get
    elif isinstance(rec, tuple) and not hasattr(rec, "_fields"):
        return rec[0], _label_index(rec[1]), str(rec[2]), _maybe_landmarks(rec[3] if len(rec) > 3 else None)
    else:
        def get(k, default=None):
            return getattr(rec, k, default)
    return get("path"), _label_index(get("label")), str(get("character") or ""), _maybe_landmarks(get("landmarks"))


def _label_index(label) -> int:
    if label is None:
        return -1
    if isinstance(label, (int, np.integer)):
        return int(label)
    try:
        return EXPRESSIONS.index(canonical(str(label)))
    except ValueError:
        return -1


def _maybe_landmarks(lms):
    if lms is None:
        return None
    arr = np.asarray(lms, dtype=np.float32)
    return arr if arr.shape == (49, 2) and np.isfinite(arr).all() else None


def _scan_walk(root: Path) -> list[ImageRecord]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        label = -1
        for part in reversed(rel.parts):
            label = _label_index(part)
            if label < 0 and "_" in part:
                label = _label_index(part.rsplit("_", 1)[-1])
            if label >= 0:
                break
        character = rel.parts[0] if len(rel.parts) > 1 else ""
        for name in sorted(filenames):
            if name.lower().endswith(IMAGE_SUFFIXES):
                out.append(ImageRecord(str((Path(dirpath) / name).resolve()), label, character))
    return out


def data_manifest(root: str | Path, n_images: int) -> dict:
    """What an index records about its data: root, manifest hash (if any), image count."""
    root = Path(root).resolve()
    manifest = root / "manifest.json"
    return {"root": str(root), "images": n_images,
            "manifest_sha256": file_sha256(manifest) if manifest.is_file() else ""}


# ----------------------------------------------------------------------------- building

@dataclass
class BuildReport:
    """What `build_index` did."""

    embedded: int = 0  # images run through the model this time
    reused: int = 0  # rows kept from the previous index (unchanged files)
    removed: int = 0  # previous rows whose files are gone or changed
    failed: list = field(default_factory=list)  # (path, reason) of skipped images
    seconds: float = 0.0  # wall time of the embedding step


def build_index(root: str | Path, recognizer, domain: str = "character", previous: RetrievalIndex | None = None,
                batch_size: int = 64, records: list[ImageRecord] | None = None,
                show_progress: bool | None = None) -> tuple[RetrievalIndex, BuildReport]:
    """Embed the images under `root` into a `RetrievalIndex`.

    Args:
        root: data folder (FERG-DB layout or any labelled image tree; see `scan_images`).
        recognizer: the model (`deepexpr.recognition.load_recognizer(domain)`).
        domain: "character" (whole images, rig landmarks) or "human" (each image's largest
            face, aligned, with face-pipeline landmarks).
        previous: an index built earlier from the same data with the same model: rows whose
            files are unchanged are reused, only new or changed images are embedded.
        batch_size: images per model call.
        records: the images to embed (default: `scan_images(root)`).

    Returns:
        (index, report). Images that cannot be read (or have no face) are skipped and listed
        in `report.failed`.
    """
    import time

    from deepexpr.progress import progress

    if domain not in ("character", "human"):
        raise InputError(f"domain {domain!r}: choose 'character' or 'human'")
    root = Path(root).resolve()
    records = records if records is not None else scan_images(root)
    model = model_identity(recognizer, domain)
    report = BuildReport()
    stats = np.array([_file_stat(r.path) for r in records], dtype=np.int64).reshape(-1, 2)
    reuse = _reusable_rows(previous, model, domain, root, records, stats)
    report.reused = sum(1 for v in reuse if v is not None)
    if previous is not None:
        report.removed = len(previous) - report.reused
    todo = [i for i, v in enumerate(reuse) if v is None]
    rows: dict[int, tuple] = {}
    t0 = time.perf_counter()
    bar = progress(total=len(todo), desc=f"embedding {domain} images", disable=show_progress is False or None)
    chunks = [todo[s:s + batch_size] for s in range(0, len(todo), batch_size)]
    # Decoding (and face detection) of the next batch overlaps the model on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_load_chunk, records, chunks[0], domain) if chunks else None
        for k in range(len(chunks)):
            loaded = pending.result()
            pending = pool.submit(_load_chunk, records, chunks[k + 1], domain) if k + 1 < len(chunks) else None
            rows.update(_embed_loaded(loaded, recognizer, report))
            bar.update(len(chunks[k]))
    bar.close()
    report.seconds = time.perf_counter() - t0
    report.embedded = len(rows)
    keep = [i for i in range(len(records)) if reuse[i] is not None or i in rows]
    if not keep:
        raise InputError(f"{root}: none of the {len(records)} images could be embedded; see the errors above")
    index = _assemble(records, keep, reuse, rows, previous, stats, root, model, domain, recognizer)
    return index, report


def _file_stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def _reusable_rows(previous, model, domain, root, records, stats) -> list:
    """For each record, the previous index row to reuse (same file, size, mtime) or None."""
    if previous is None or previous.domain != domain or previous.model.get("sha256") != model.get("sha256"):
        return [None] * len(records)
    prev = {}
    for j in range(len(previous)):
        prev[os.path.normpath(previous.absolute_path(j))] = j
    out = []
    for r, st in zip(records, stats):
        j = prev.get(os.path.normpath(r.path))
        ok = j is not None and previous.file_stats is not None and tuple(previous.file_stats[j]) == tuple(st)
        out.append(j if ok else None)
    return out


def _load_chunk(records, ids, domain) -> tuple:
    """Read a batch of images: (good ids, images, landmarks or None each, failures)."""
    from deepexpr.io import read_image
    from deepexpr.retrieval.embed import detect

    good, images, lms_list, failed = [], [], [], []
    for rid in ids:
        rec = records[rid]
        try:
            img = read_image(rec.path)
            lms = rec.landmarks
            if domain == "character" and lms is None:  # no rig landmarks: detect them
                from deepexpr.stylized import detected_landmarks

                lms = detected_landmarks(img)
            if domain == "human":
                face = max(detect(img, rec.path), key=lambda f: _box_area(f.box))
                img, lms = np.asarray(face.aligned), getattr(face, "aligned_landmarks", None)
        except Exception as err:  # noqa: BLE001 — a bad item is reported, the batch goes on
            failed.append((rec.path, str(err).splitlines()[0] if str(err) else type(err).__name__))
            continue
        good.append(rid)
        images.append(img)
        lms_list.append(lms)
    return good, images, lms_list, failed


def _embed_loaded(loaded, recognizer, report) -> dict:
    """Run the model on a loaded batch: {record id: (features, probs, geometry)}."""
    from deepexpr.retrieval.embed import features_and_probs

    good, images, lms_list, failed = loaded
    report.failed.extend(failed)
    if not images:
        return {}
    feats, probs = features_and_probs(recognizer, images)
    geos = np.full((len(images), NUM_FEATURES), np.nan, dtype=np.float32)
    have = [k for k, lm in enumerate(lms_list) if lm is not None and np.shape(lm) == (49, 2) and np.isfinite(lm).all()]
    if have:  # one vectorised call per batch; a degenerate face falls back to one by one
        stacked = np.stack([np.asarray(lms_list[k], dtype=np.float32) for k in have])
        try:
            geos[have] = geometric_features(stacked)
        except ValueError:
            from deepexpr.retrieval.embed import safe_geometry

            for k in have:
                g = safe_geometry(lms_list[k])
                if g is not None:
                    geos[k] = g
    return {rid: (None if feats is None else feats[k], probs[k], geos[k]) for k, rid in enumerate(good)}


def _box_area(box) -> float:
    b = np.asarray(box, dtype=float).ravel()
    return float((b[2] - b[0]) * (b[3] - b[1])) if b.size >= 4 else 0.0


def _assemble(records, keep, reuse, rows, previous, stats, root, model, domain, recognizer) -> RetrievalIndex:
    feats, probs, geos = [], [], []
    for i in keep:
        if reuse[i] is not None:
            j = reuse[i]
            feats.append(previous.features[j])
            probs.append(previous.probs[j])
            geos.append(previous.geometry[j])
        else:
            f, p, g = rows[i]
            feats.append(np.zeros(0, np.float32) if f is None else f)
            probs.append(p)
            geos.append(g)
    from deepexpr.retrieval.embed import classifier_weight

    weight = classifier_weight(recognizer)
    return RetrievalIndex(
        features=np.stack(feats).astype(np.float32), probs=np.stack(probs).astype(np.float32),
        labels=np.array([records[i].label for i in keep], dtype=np.int64),
        geometry=np.stack(geos).astype(np.float32),
        paths=[_relative(records[i].path, root) for i in keep],
        characters=[records[i].character for i in keep], model=model,
        classifier_weight=None if weight is None else np.asarray(weight, dtype=np.float32),
        domain=domain, data=data_manifest(root, len(keep)), file_stats=stats[keep],
        meta={"geometry_source": [_geometry_source(records[i], reuse[i], previous, geos[k], domain)
                                  for k, i in enumerate(keep)]},
    )


GEOMETRY_SOURCES = ("rig", "detected", "none")  # where a row's landmarks came from


def _geometry_source(record, reused, previous, geometry, domain: str) -> str:
    """"rig" (the data set's landmarks), "detected" (found in the image) or "none"."""
    if reused is not None and "geometry_source" in previous.meta:
        return geometry_sources(previous)[reused]
    if not np.isfinite(geometry).all():
        return "none"
    return "rig" if record.landmarks is not None and domain == "character" else "detected"


def geometry_sources(index: RetrievalIndex) -> list[str]:
    """Per row: where its geometry came from (`GEOMETRY_SOURCES`); indexes built before this
    was recorded give "rig" for rows with geometry, "none" without."""
    known = index.meta.get("geometry_source")
    if isinstance(known, list) and len(known) == len(index):
        return list(known)
    return ["rig" if np.isfinite(g).all() else "none" for g in index.geometry]


def _relative(path: str, root: Path) -> str:
    """`path` relative to `root` (both already resolved by `scan_images`), else absolute."""
    rel = os.path.relpath(path, root)
    return str(Path(path).resolve()) if rel.startswith("..") else rel
