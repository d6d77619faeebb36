"""HA-GAN presets: a matching generator and discriminator variant by name (`--preset`).

Split from `deepexpr.models.hagan` (file size); the registered variants live there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The paper's generator: encoder code + one-hot + z -> decoder; no heads, no templates.
PAPER_G = {"expr_head": False, "expr_condition": False, "templates": False}


@dataclass
class HaganPair:
    """Names of a matching G and D variant (used by training and presets)."""

    generator: str = "hagan_g"  # registered generator
    discriminator: str = "hagan_d"  # registered discriminator
    g_overrides: dict = field(default_factory=dict)  # HaganGConfig fields to change
    d_overrides: dict = field(default_factory=dict)  # HaganDConfig fields to change


PRESETS = {
    "default": HaganPair("hagan_rig_g", "hagan_d"),  # the rig code (issue 18)
    "fullres": HaganPair("hagan_rig_g", "hagan_d", {"full_res": 16}),  # + the full-size head (session 5)
    "paper": HaganPair("hagan_g_paper", "hagan_d_paper", PAPER_G),  # the paper's G and D, 75 px
    "templated": HaganPair("hagan_g", "hagan_d"),  # session 3's model: code + templates per expression
    "test": HaganPair("test_hagan_rig_g", "test_hagan_d"),
    "test_fullres": HaganPair("test_hagan_rig_g", "test_hagan_d", {"full_res": 4}),
    "landmarks": HaganPair("hagan_rig_g", "hagan_d", {"full_res": 16, "landmark_maps": 256}),  # session 6
    "test_landmarks": HaganPair("test_hagan_rig_g", "test_hagan_d", {"full_res": 4, "landmark_maps": 8}),
    "test_templated": HaganPair("test_hagan_g", "test_hagan_d"),
}
