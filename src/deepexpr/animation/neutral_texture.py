"""A smile-free texture for the rendered ground truth: the source photo's skin repainted.

The renders (`deepexpr.animation.render_truth`) take their texture from one photo of a
smiling person (skimage's astronaut). Undoing the smile on the mesh (`base="neutral"`)
moves the lips and corners but leaves the smile in the texture itself: nasolabial folds,
raised cheeks and lower lids, dimples. `painted_texture` repaints the skin between the
features with a smooth version of the photo's own skin (a normalised Gaussian blur that
reads skin only), so those folds and bulges are gone while the eyes, brows, nose and lips
keep the photo's detail; the renderer's Lambert shading puts back the face's large shape.

    >>> texture = painted_texture(photo, uv)  # (H, W, 3) uint8, same size as the photo
"""

from __future__ import annotations

import numpy as np

# mediapipe face mesh outlines (indices of the 468-point mesh)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 48, 278, 64, 294, 129, 358, 102, 331, 219, 439,
        240, 460, 75, 305, 122, 351)
# what stays the photo's own: (outline, grow by this share of the eye-corner width)
KEPT = ((LIPS_OUTER, 0.03), (RIGHT_EYE, 0.04), (LEFT_EYE, 0.04), (RIGHT_BROW, 0.05), (LEFT_BROW, 0.05),
        (NOSE, 0.0))
SKIN_BLUR = 0.12  # Gaussian sigma of the skin's repaint, share of the eye-corner width
EDGE_BLUR = 0.025  # feather of the repainted region's edges, same unit


def painted_texture(photo: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """The photo with the skin between the face's features repainted smooth.

    Args:
        photo: (H, W, 3) uint8 source photo.
        uv: (468, 2) mesh points in the photo's pixels (x, y).

    Returns:
        (H, W, 3) uint8: inside the face oval, everything but the eyes, brows, nose and lips
        (each grown a little) replaced by the skin's normalised blur; the rest unchanged.
    """
    import cv2

    h, w = photo.shape[:2]
    unit = float(np.linalg.norm(uv[33] - uv[263]))
    skin = np.zeros((h, w), np.float32)
    cv2.fillPoly(skin, [np.round(uv[list(FACE_OVAL)]).astype(np.int32)], 1.0)
    kept = np.zeros((h, w), np.uint8)
    for outline, grow in KEPT:
        hull = cv2.convexHull(np.round(uv[list(outline)]).astype(np.int32))
        cv2.fillPoly(kept, [hull], 1)
        if grow > 0:
            cv2.polylines(kept, [hull], True, 1, max(1, int(round(2 * grow * unit))))
    skin[kept > 0] = 0.0
    sigma = SKIN_BLUR * unit
    img = photo.astype(np.float32)
    num = cv2.GaussianBlur(img * skin[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(skin, (0, 0), sigma)[..., None]
    smooth = num / np.maximum(den, 1e-6)
    alpha = cv2.GaussianBlur(skin, (0, 0), EDGE_BLUR * unit)[..., None] * skin[..., None]
    out = img + alpha * (smooth - img)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
