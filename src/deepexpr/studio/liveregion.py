"""Which part of the next live frame the page sends (`/ws/live`: the answer's `next_region`).

The live face pipeline reads a tracked face's frame only in two places: the window its mesh
runs in (1.5x the last mesh's extent, `FacePipeline.refine`) and the face's aligned crop
(the expression model's input and the rig map's patches). So after each frame the server
asks the page for a region of the next frame that holds both with room for the face to
move (`REGION_SCALE` x the mesh's extent), and the page sends only those pixels, at the
camera's full resolution (a 640x480 frame with a face ~100 px wide: ~60 KB of I420 instead of
460 KB). The rest of the picture arrives black (`uploads.decode_live_frame`).

When the next frame runs the periodic full detector (it searches the whole picture), the
page sends the region and the whole frame at half size (the detector reads it at 192 px
anyway; ~175 KB instead of 460). The whole frame is asked for when that detector found a
new face outside the region (it is
meshed on the next whole frame, `RigFaceStream.process`), when this frame has no face or
lost one (the detector ran at once: on a region frame it saw only the region; a face
elsewhere is found on a later whole frame), when this frame's face crops read past
the region it got (a fast move: this frame's numbers may differ from the whole frame's),
and when the region would cover over `MAX_REGION_SHARE` of the frame. Otherwise every pixel
the pipeline reads is the frame's own, so meshes, expression and rig are the same as from
the whole frame (`tests/test_studio_region.py`).

    >>> planner = RegionPlanner()
    >>> rgb, got = decode_live_frame(message, max_pixels)
    >>> faces, puppet = session.frame(rgb, character, size)
    >>> next_region = planner.plan(faces, rgb.shape, got, session.faces.whole_next, session.faces.detection_next)
    >>> planner.overview                  # send the whole frame at half size with it
"""

from __future__ import annotations

import math

import numpy as np

REGION_SCALE = 2.0  # region side / the mesh's extent (the mesh window is 1.5x; the rest: motion)
MAX_REGION_SHARE = 0.7  # a region over this share of the frame: the whole frame instead
READ_MARGIN = 3  # pixels a warp reads past its crop's corners (`faces.align._region_read`: 2 / 3)


class RegionPlanner:
    """The region to ask of the next frame of one live stream (one per socket).

    Args:
        use_overview: a frame that runs the periodic detector comes as the region and the
            whole frame at half size (`uploads.decode_live_frame`); False: as a whole frame.

    Attributes:
        asked: the region [x, y, w, h] asked of the next frame, or None (the whole frame).
        overview: the next frame should carry the whole frame at half size too.
        short: the last frame was a region that missed pixels its face crops read (or not
            the region asked for); its numbers may differ from the whole frame's.
    """

    def __init__(self, use_overview: bool = True):
        self.use_overview = use_overview
        self.asked: list[int] | None = None
        self.overview = False
        self.short = False
        self._faces = 0

    def plan(self, faces: list, shape, got: list[int] | None, whole_next: bool,
             detection_next: bool = False) -> list[int] | None:
        """The region of the next frame to ask for, or None for the whole frame; `overview`
        says whether the whole frame at half size should come with the region.

        Args:
            faces: this frame's results (`FaceResult`, `.face` the pipeline's `Face`) or `Face`s.
            shape: (H, W, ...) of the frame.
            got: the region this frame's pixels covered ([x, y, w, h]), None for a whole frame.
            whole_next: the next frame must be whole (`RigFaceStream.whole_next`: a finished
                detection found a face outside the region).
            detection_next: the next frame runs the periodic detector (`RigFaceStream.detection_next`):
                the region and an overview, or the whole frame without `use_overview`.

        Returns:
            [x, y, w, h] (even x, y, w, h inside the frame) or None.
        """
        faces = [getattr(f, "face", f) for f in faces]
        self.short = got is not None and (self.asked is None or not contains(got, self.asked)
                                          or not all(contains(got, aligned_read_box(f, shape)) for f in faces))
        lost, self._faces = len(faces) < self._faces, len(faces)
        self.asked, self.overview = None, False
        if self.short or lost or not faces or whole_next or any(f is None for f in faces) \
                or (detection_next and not (self.use_overview and shape[0] % 4 == shape[1] % 4 == 0)):
            return None
        boxes = np.array([face_region(f.mesh468, shape) for f in faces])
        x0, y0 = boxes[:, :2].min(0)
        x1, y1 = (boxes[:, :2] + boxes[:, 2:]).max(0)
        if (x1 - x0) * (y1 - y0) > MAX_REGION_SHARE * shape[0] * shape[1]:
            return None
        self.asked, self.overview = [int(x0), int(y0), int(x1 - x0), int(y1 - y0)], detection_next
        return self.asked


def face_region(mesh: np.ndarray, shape) -> list[int]:
    """[x, y, w, h] of the frame a tracked face is read from next: `REGION_SCALE` x the mesh's
    extent around its centre, grown by `READ_MARGIN`, corners on even pixels, clipped.

    Args:
        mesh: (468 or 478, 3) the face's mesh in frame pixels.
        shape: (H, W, ...) of the frame.
    """
    lo, hi = mesh[:468, :2].min(0), mesh[:468, :2].max(0)
    half = REGION_SCALE * float(max(hi - lo)) / 2
    cx, cy = (lo + hi) / 2
    h, w = shape[:2]
    x0 = max(0, 2 * math.floor((cx - half - READ_MARGIN) / 2))
    y0 = max(0, 2 * math.floor((cy - half - READ_MARGIN) / 2))
    x1 = min(w - w % 2, 2 * math.ceil((cx + half + READ_MARGIN) / 2))
    y1 = min(h - h % 2, 2 * math.ceil((cy + half + READ_MARGIN) / 2))
    return [x0, y0, max(x1 - x0, 2), max(y1 - y0, 2)]


def aligned_read_box(face, shape) -> list[int]:
    """[x, y, w, h] of the frame a face's aligned crop reads (its corners through the
    registration, `READ_MARGIN` around, clipped to the frame). Does not make the crop."""
    from deepexpr.faces.align import AlignConfig, invert_affine, registration

    source = face.__dict__.get("_align_from")  # a tracked face's crop not made yet: (image, size, method)
    if source is None:
        m, size = np.asarray(face.affine, np.float64), float(len(face.aligned))
    else:
        m, size = registration(face.landmarks49, AlignConfig(size=int(source[1]), method=source[2])), float(source[1])
    inv = invert_affine(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]]) @ inv[:, :2].T + inv[:, 2]
    h, w = shape[:2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - READ_MARGIN, 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + READ_MARGIN, 0, [w, h])
    return [int(x0), int(y0), int(x1 - x0), int(y1 - y0)]


def contains(outer: list[int], inner: list[int]) -> bool:
    """Whether the [x, y, w, h] box `inner` lies inside `outer`."""
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])
