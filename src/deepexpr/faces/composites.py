"""Test photos with known faces: real faces pasted at chosen sizes onto real backgrounds.

No labelled group photo ships in a package this project can install, so detection is
measured on composites: head-and-shoulders crops of real photographs, scaled so the eyes
are a chosen distance apart, pasted without overlap onto a real photograph, with the ground
truth (eye centres, inter-ocular distance, paste box) recorded.

Face sources (all real photographs that ship inside packages):

* `skimage.data.astronaut()` - Eileen Collins, NASA, public domain (scikit-image, BSD).
* its mirror image (a second pose of the same face).
* any extra `FaceSource` the caller adds (the benchmarks add OpenCV's sample photos from
  the Debian package opencv-doc when installed).

Backgrounds: scikit-image's `coffee`, `rocket`, `chelsea`, `hubble_deep_field`, `gravel`,
`brick`, `grass` (public domain or CC0 per skimage's data README) or a flat grey.

    >>> img, truth = make_group_photo(np.random.default_rng(0), n_faces=5, iod_range=(20, 120))
    >>> truth[0]["eyes"], truth[0]["iod"], truth[0]["box"]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUNDS = ("coffee", "rocket", "chelsea", "hubble_deep_field", "gravel", "brick", "grass", "grey")


@dataclass
class FaceSource:
    """A real face crop and where its eyes are in it."""

    image: np.ndarray  # (h, w, 3) uint8 RGB head-and-shoulders crop
    eyes: np.ndarray  # (2, 2) float eye centres (image-left eye first), crop pixels
    name: str = ""
    max_iod: float = float("inf")  # largest size to paste it at (a low-resolution face blurs)

    @property
    def iod(self) -> float:
        return float(np.linalg.norm(self.eyes[1] - self.eyes[0]))


def astronaut_sources() -> list[FaceSource]:
    """The astronaut's head and shoulders, and its mirror image.

    Eye centres are the ones her face mesh gives at full resolution (measured once,
    written here so the ground truth does not depend on the pipeline under test).
    """
    from skimage import data

    crop = data.astronaut()[10:290, 95:375]  # 280 x 280, face centred
    eyes = np.array([[203.5 - 95, 101.6 - 10], [247.0 - 95, 103.8 - 10]])
    mirror = crop[:, ::-1].copy()
    mirror_eyes = np.array([[crop.shape[1] - 1 - eyes[1, 0], eyes[1, 1]],
                            [crop.shape[1] - 1 - eyes[0, 0], eyes[0, 1]]])
    return [FaceSource(crop, eyes, "astronaut"), FaceSource(mirror, mirror_eyes, "astronaut-mirror")]


def background(name: str, height: int, width: int) -> np.ndarray:
    """A real photograph (or flat grey) resized to (height, width, 3) uint8."""
    import cv2
    from skimage import data

    if name == "grey":
        return np.full((height, width, 3), 128, np.uint8)
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    return cv2.resize(np.ascontiguousarray(img[..., :3]), (width, height), interpolation=cv2.INTER_AREA)


def paste_face(canvas: np.ndarray, source: FaceSource, iod: float, x: int, y: int,
               roll: float = 0.0, gain: float = 1.0) -> dict:
    """Paste `source` scaled to an inter-ocular distance of `iod` px with its top-left at (x, y).

    Args:
        roll: in-plane rotation of the face about its crop centre (degrees, + = clockwise).
        gain: brightness factor (lighting varies between people in a photo).

    Returns:
        truth {"eyes" (2, 2), "iod", "box" [x0, y0, x1, y1] of the pasted crop, "source"}.
    """
    import cv2

    s = iod / source.iod
    h, w = source.image.shape[:2]
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    face = cv2.resize(source.image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    eyes = source.eyes * [nw / w, nh / h]
    if roll:
        m = cv2.getRotationMatrix2D(((nw - 1) / 2, (nh - 1) / 2), -roll, 1.0)
        face = cv2.warpAffine(face, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        eyes = eyes @ m[:, :2].T + m[:, 2]
    if gain != 1.0:
        face = np.clip(face.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    H, W = canvas.shape[:2]
    nh, nw = min(nh, H - y), min(nw, W - x)
    canvas[y:y + nh, x:x + nw] = face[:nh, :nw]
    return {"eyes": eyes + [x, y], "iod": float(iod), "box": [x, y, x + nw, y + nh], "source": source.name}


def make_group_photo(rng: np.random.Generator, n_faces: int = 5, iod_range=(20.0, 200.0),
                     size=(1080, 1920), sources: list[FaceSource] | None = None,
                     backdrop: str | None = None, tries: int = 200, max_roll: float = 0.0,
                     gain_range=(1.0, 1.0)) -> tuple[np.ndarray, list[dict]]:
    """A photo with up to `n_faces` real faces at random sizes and places, no two overlapping.

    Args:
        rng: random generator (the photo is a function of its state).
        iod_range: inter-ocular distances drawn log-uniformly in this range (px).
        size: (height, width) of the photo.
        sources: faces to draw from (default: `astronaut_sources()`).
        backdrop: a name from `BACKGROUNDS` (random when None).
        max_roll: in-plane rotations drawn uniformly in [-max_roll, max_roll] degrees.
        gain_range: brightness factors drawn uniformly in this range.

    Returns:
        (image (H, W, 3) uint8, truth list as `paste_face` returns, left to right). Fewer
        faces than asked when they do not fit.
    """
    sources = sources or astronaut_sources()
    h, w = size
    canvas = background(backdrop or BACKGROUNDS[rng.integers(len(BACKGROUNDS))], h, w)
    placed, truth = [], []
    lo, hi = np.log(iod_range[0]), np.log(iod_range[1])
    for _ in range(n_faces):
        src = sources[rng.integers(len(sources))]
        for _ in range(tries):
            iod = float(np.exp(rng.uniform(lo, min(hi, np.log(src.max_iod)))))
            s = iod / src.iod
            fh, fw = round(src.image.shape[0] * s), round(src.image.shape[1] * s)
            if fh >= h or fw >= w:
                continue
            x, y = int(rng.integers(0, w - fw)), int(rng.integers(0, h - fh))
            box = (x, y, x + fw, y + fh)
            if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in placed):
                placed.append(box)
                truth.append(paste_face(canvas, src, iod, x, y, float(rng.uniform(-max_roll, max_roll)),
                                        float(rng.uniform(*gain_range))))
                break
    return canvas, sorted(truth, key=lambda t: t["eyes"][:, 0].mean())


def match_faces(truth: list[dict], boxes: list) -> tuple[int, int, int]:
    """(true positives, false negatives, false positives) of detected boxes against truth.

    A detection matches a face when the face's eye midpoint lies inside the detected box
    and the box width is between 1.2 and 6 inter-ocular distances; each face and each
    box match at most once.
    """
    used, tp = set(), 0
    for t in truth:
        mid = t["eyes"].mean(0)
        for j, b in enumerate(boxes):
            if j in used:
                continue
            if b[0] <= mid[0] <= b[2] and b[1] <= mid[1] <= b[3] and 1.2 <= (b[2] - b[0]) / t["iod"] <= 6:
                used.add(j)
                tp += 1
                break
    return tp, len(truth) - tp, len(boxes) - len(used)
