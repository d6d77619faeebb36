"""Landmark and face-detection metrics for stylized faces, and their held-out protocol.

Conventions:
- NME of one face: the mean over the 49 points of the Euclidean point error, divided by
  the inter-ocular distance, the distance between the outer eye corners (points 19 and 28;
  the 300-W convention). Per region the mean runs over that region's points only
  (`REGIONS`: brows 0-9, nose 10-18, eyes 19-30, mouth 31-48).
- Detection: a prediction is a true positive when its box has IoU >= 0.5 with a ground-truth
  box not matched yet; predictions are matched greedily, best score first. Precision =
  TP / predictions, recall = TP / ground-truth faces.

The protocol (`evaluate_landmarks`) draws never-trained characters (other seeds than the
trainer's) and takes the detector as a callable, so this layer needs no application.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deepexpr.landmarks import check_landmarks

REGIONS = {"brows": list(range(0, 10)), "nose": list(range(10, 19)), "eyes": list(range(19, 31)),
           "mouth": list(range(31, 49))}
OUTER_EYE_CORNERS = (19, 28)
# Character pools: the bundled model's training scenes (101; 103 for the session-9 detector
# fine-tune) and the held-out test scenes; tuning scripts pick validation pools outside both.
TRAINING_POOLS = (101, 103)
TEST_POOL = 9001


def validation_pool_error(seed: int) -> str | None:
    """Why `seed` cannot be a validation pool (a training or the test pool), or None."""
    if seed in TRAINING_POOLS:
        return f"--seed {seed} is a training pool of the bundled model; pick another (e.g. 7001)"
    if seed == TEST_POOL:
        return f"--seed {seed} is the held-out test pool, never tuned on; pick another (e.g. 7001)"
    return None


def nme(pred, gt) -> np.ndarray:
    """Normalised mean error per face.

    Args:
        pred, gt: (N, 49, 2) or (49, 2) landmarks.

    Returns:
        (N,) float64 (a scalar array for one face): mean point error / inter-ocular distance.
    """
    p, g = check_landmarks(pred, "pred").astype(np.float64), check_landmarks(gt, "gt").astype(np.float64)
    iod = np.linalg.norm(g[..., OUTER_EYE_CORNERS[0], :] - g[..., OUTER_EYE_CORNERS[1], :], axis=-1)
    return np.linalg.norm(p - g, axis=-1).mean(-1) / iod


def region_nme(pred, gt) -> dict[str, np.ndarray]:
    """{region: (N,) NME over that region's points} for `REGIONS`."""
    p, g = check_landmarks(pred, "pred").astype(np.float64), check_landmarks(gt, "gt").astype(np.float64)
    iod = np.linalg.norm(g[..., OUTER_EYE_CORNERS[0], :] - g[..., OUTER_EYE_CORNERS[1], :], axis=-1)
    err = np.linalg.norm(p - g, axis=-1)
    return {name: err[..., idx].mean(-1) / iod for name, idx in REGIONS.items()}


def box_iou(a, b) -> np.ndarray:
    """(N, M) IoU of boxes a (N, 4) and b (M, 4), x0 y0 x1 y1."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-12)


def match_detections(pred_boxes, scores, gt_boxes, iou: float = 0.5) -> np.ndarray:
    """Greedy matching, best score first: (P,) index of the matched ground truth, -1 if none."""
    pred_boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
    matched = -np.ones(len(pred_boxes), int)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return matched
    ious = box_iou(pred_boxes, gt_boxes)
    taken = np.zeros(ious.shape[1], bool)
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        cand = np.where(~taken & (ious[i] >= iou))[0]
        if len(cand):
            j = cand[np.argmax(ious[i, cand])]
            matched[i], taken[j] = j, True
    return matched


def detection_counts(pred_boxes, scores, gt_boxes, iou: float = 0.5) -> tuple[int, int, int]:
    """(true positives, predictions, ground-truth faces) of one image."""
    m = match_detections(pred_boxes, scores, gt_boxes, iou)
    return int((m >= 0).sum()), len(m), len(gt_boxes)


def _summary(values: np.ndarray) -> dict:
    return {"mean": float(np.mean(values)) if len(values) else float("nan"),
            "median": float(np.median(values)) if len(values) else float("nan")}


def landmark_protocol(detect: Callable, sizes=(64, 128, 256, 512), per_size: int = 40, seed: int = 9001,
                      characters: int = 60) -> dict:
    """NME on whole renders of never-trained random characters (half classic, half wide)
    with a random expression and head pose, at each render size.

    A face whose landmarks the regressor did not read (`.landmarks_from` "detector": a box
    kept without a landmark reading) counts as not found for the NME; "detector_only" counts
    those renders and "overall_with_detector_only" gives the NME with their (mean-face)
    landmarks included.

    Args:
        detect: image (H, W, 3) uint8 -> list of faces with `.box`, `.score`, `.landmarks`.

    Returns:
        {"sizes": {size: {"nme": {...}, "regions": {...}, "found": rate, "faces": n, "detector_only": n}},
         "overall": ..., "overall_with_detector_only": ...}
    """
    from deepexpr.characters import random_characters, render_face
    from deepexpr.data.face_frame import face_frame, frame_box
    from deepexpr.data.scenes import random_pose

    pools = [random_characters(characters, seed), random_characters(characters, seed, space="wide")]
    rng = np.random.default_rng(seed)
    report, all_pred, all_gt, extra = {"sizes": {}}, [], [], []
    for size in sizes:
        preds, gts, found, detector_only = [], [], 0, 0
        for i in range(per_size):
            style = pools[i % 2][int(rng.integers(characters))]
            rig, _ = random_pose(style, rng)
            image, lm = render_face(style, rig, int(size))
            faces = detect(image)
            gt_box = frame_box(face_frame(lm))
            best = max(faces, key=lambda f: box_iou(f.box, gt_box)[0, 0], default=None)
            if best is None or box_iou(best.box, gt_box)[0, 0] < 0.3:
                continue
            if getattr(best, "landmarks_from", "regressor") == "detector":
                detector_only += 1
                extra.append((best.landmarks, lm))
                continue
            found += 1
            preds.append(best.landmarks)
            gts.append(lm)
        p, g = np.array(preds).reshape(-1, 49, 2), np.array(gts).reshape(-1, 49, 2)
        report["sizes"][int(size)] = _nme_report(p, g) | {"found": found / per_size, "faces": per_size,
                                                           "detector_only": detector_only}
        all_pred.append(p)
        all_gt.append(g)
    report["overall"] = _nme_report(np.concatenate(all_pred), np.concatenate(all_gt))
    more = np.array([e[0] for e in extra]).reshape(-1, 49, 2), np.array([e[1] for e in extra]).reshape(-1, 49, 2)
    report["overall_with_detector_only"] = _nme_report(np.concatenate(all_pred + [more[0]]),
                                                       np.concatenate(all_gt + [more[1]]))
    return report


def _nme_report(p: np.ndarray, g: np.ndarray) -> dict:
    if not len(p):
        return {"nme": _summary(np.array([])), "regions": {}}
    return {"nme": _summary(nme(p, g)), "regions": {k: float(v.mean()) for k, v in region_nme(p, g).items()}}


def detection_protocol(detect: Callable, scenes: int = 100, seed: int = 9001, characters: int = 60,
                       iou: float = 0.5) -> dict:
    """Detection precision and recall (IoU >= `iou`) on composed scenes of never-trained
    characters (`data.scenes`, pool `seed`)."""
    from deepexpr.data.scenes import SceneConfig, compose_scene

    cfg = SceneConfig(seed=seed, characters=characters, builtins=False)
    rng = np.random.default_rng(seed + 1)
    tp = n_pred = n_gt = 0
    for _ in range(scenes):
        scene = compose_scene(cfg, rng)
        faces = detect(scene.image)
        counts = detection_counts([f.box for f in faces], [f.score for f in faces], [f.box for f in scene.faces], iou)
        tp, n_pred, n_gt = tp + counts[0], n_pred + counts[1], n_gt + counts[2]
    return {"precision": tp / max(1, n_pred), "recall": tp / max(1, n_gt), "true_positives": tp,
            "predictions": n_pred, "faces": n_gt, "scenes": scenes, "iou": iou}
