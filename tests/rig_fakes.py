"""Made-up rig ground truth for the rig-map tests (no face pipeline)."""

import numpy as np


def mesh_set(people: int = 6, per_person: int = 4, seed: int = 0):
    """Made-up meshes with known rigs: per person a base mesh (its neutral, the calibration row)
    plus a fixed linear displacement per rig control; no face pipeline involved."""
    from deepexpr.characters import RIG_CONTROLS
    from deepexpr.data.rig_truth import MeshSet

    rng = np.random.default_rng(seed)
    basis = rng.normal(0, 0.01, (len(RIG_CONTROLS), 478, 3))
    meshes, rigs, ids, calib = [], [], [], []
    for p in range(people):
        base = rng.normal(0, 1, (478, 3))
        for k in range(per_person + 1):
            rig = np.zeros(len(RIG_CONTROLS)) if k == 0 else rng.uniform(0, 1, len(RIG_CONTROLS))
            meshes.append(base + np.tensordot(rig, basis, 1))
            rigs.append(rig)
            ids.append(f"p{p}")
            calib.append(k == 0)
    n = len(meshes)
    return MeshSet(np.float32(meshes), np.float32(rigs), np.array(ids), np.array(["random"] * n),
                   np.array(calib), (n, n))
