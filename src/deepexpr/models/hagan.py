"""HA-GAN (Ali, Isler & Hughes 2019): human-to-animated-character expression translation.

Generator G: an encoder of the aligned human face -> expression code; the code, a one-hot
of the target character and a noise vector z -> a decoder that draws the character with
the human's expression. Discriminator D: four shared conv blocks (16, 32, 64, 128 channels)
and an FC (1024 in the paper), then two heads: D^R (FC -> one real/fake logit) and D^e (two FC ->
expression logits). After training, D^e on G's images is the expression recognizer.

    >>> from deepexpr.models import create_model
    >>> g = create_model("test_hagan_g", num_characters=2)
    >>> d = create_model("test_hagan_d")

**The default generator since issue 18 is a RIG code** (`hagan_rig_g`, preset "default"):
G = encoder(face) -> rig head r_hat (the 23 rig controls of `deepexpr.characters.rig`,
normalised by `deepexpr.data.hagan.rig_targets`: 18 AU intensities, head yaw/pitch, roll 0,
gaze) -> decoder(r_hat, character one-hot) -> drawing. Departures from the paper in it, and why:
- *Rig head, supervised* (MSE to the stand-in face's known rig) besides the expression head
  (cross-entropy). Session 3's code carried only the class: the drawings were one template
  per class (the decoder moved pixels by 0.002; RESULTS.md). A rig code carries *how much*
  and *where* (intensity, head pose, gaze) by construction.
- *The decoder draws from r_hat and the character only* (no code, no class softmax, no z):
  it is a small neural renderer of the target characters driven by a continuous rig, so it
  can be trained on unlimited (rig, character) -> render pairs from the project's renderer
  (`deepexpr.train.hagan_data.RenderPool`: rigs at every intensity), not only on the rigs
  of the labelled faces.
- *Warp decoder* (`warp=True`): the decoder outputs, at half size, a flow that moves a learned
  picture of the character (`character_base`, started from its neutral render), a painted
  residual and a mask that blends the two. Moving pixels keeps lines sharp; measured on
  held-out (rig, character) pairs, the warp decoder's L1 after 200 updates (0.048) was below
  what a pixel decoder reached after 800 (0.059).
- *Full-size head* (`full_res`, preset "fullres", session 5): the half-size flow, paint
  and mask blurred the thin brow, lid and mouth lines the judge reads; a two-conv head at
  full size over the upsampled features *and the character's base picture* places them per
  pixel (the judge read 59% of the decoder's drawings of true rigs after 1000 updates,
  RESULTS.md, against 44-57% for the half-size decoder after 1200 + 300).
- *Landmark stage* (`landmark_maps`, preset "landmarks", session 6): the rig first places the
  49 landmarks (an MLP, supervised with the render pool's exact landmarks), the neutral picture
  is moved there and the landmarks are drawn as maps for the full-size head
  (`deepexpr.models.hagan_landmarks`): the convolutions paint what is already placed.
- *No templates* (per-class images) and *no z*: z changed session 3's drawings by 0.00003 in
  L1 (RESULTS.md), and a renderer driven by the rig has nothing left for it to vary; `z_dim`
  can be set again.
The paper's design stays available: preset "paper" (`hagan_g_paper` without heads or
templates, `hagan_d_paper`: 75 px, FC 1024, z 32); session 3's templated model is preset
"templated" (`hagan_g`).

Choices the paper leaves open, and session 3's model (preset "templated"), as DESIGN.md asks:
- Sizes: the paper crops 75x75 (`hagan_g_paper`/`hagan_d_paper`); the CPU default is 64 px.
  The decoder starts at ceil(size / 2**blocks) and center-crops its output to `image_size`,
  so any size works (75 -> 80 -> crop 75).
- Conv blocks: 4x4 stride-2 convolutions (DCGAN), BatchNorm + ReLU in G, LeakyReLU(0.2) in
  D. D has no normalisation by default: D^e must give the same answer for one image at
  test time as in a training batch, which BatchNorm's batch statistics would not.
- Hidden widths of the heads (256), the code/noise sizes and G's widths (16-128, mirroring
  D's blocks; 2.2x faster on 2 CPU cores than 32-256 at the same quality here) are ours.
- D sees the character image only (not the human image beside it, unlike the cGAN form of
  Eq. 5): D^e must recognise expressions from the generated character image alone, which
  is the whole point of the method (FER on the "purer" character images).
- Classes: the project's seven (six basic expressions + neutral), not the paper's six.
- Decoder blocks upsample by nearest-neighbour x2 + 3x3 conv (`upsample="resize"`): 4x4 stride-2
  transposed convs (`"transpose"`) left a checkerboard speckle after thousands of CPU steps.
- The encoder has an auxiliary expression head (`expr_head`; its softmax also conditions the
  decoder with `expr_condition`): in the paper the code learns expression only through D^e,
  which on CPU budgets left it carrying mostly identity and the drawings' expressions faint.
- Session 3's decoder (preset "templated") draws on learned per-(character, expression)
  images (`templates`, started from renders by `set_templates`): tanh(decoder + sum_e p_e
  T[character, e]), p the encoder head's probabilities. The decoder (code + z) then added
  almost nothing (RESULTS.md); without templates Adam's small steps left the CPU-budget
  drawings noisy (the judge read 19.8%; with a neutral base only 45.6%).
- D's shared FC is 256 wide in the CPU default (`hagan_d`), 1024 as in the paper in
  `hagan_d_paper`: at 1024 the FC alone holds 2M of D's 2.9M weights (a 5.6 MB bundled
  file, where bundled files must stay under 3 MiB).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from deepexpr.expressions import NUM_CLASSES
from deepexpr.models.hagan_landmarks import (
    NUM_MAPS,
    LandmarkHead,
    landmark_flow,
    landmark_maps,
    pixels_to_grid,
)
from deepexpr.models.registry import Preprocess, register_model


@dataclass
class HaganGConfig:
    image_size: int = 64  # side of the human input and of the generated character image
    in_channels: int = 3  # human image channels (1 for grey data sets such as FER2013)
    out_channels: int = 3  # generated character image channels (RGB)
    num_characters: int = 4  # size of the character one-hot (target identities)
    z_dim: int = 32  # noise vector size (models pose and other free variation)
    code_dim: int = 128  # expression code from the encoder
    enc_channels: tuple[int, ...] = (16, 32, 64, 128)  # encoder conv blocks, each halves the side
    dec_channels: tuple[int, ...] = (128, 64, 32, 16)  # decoder blocks, each doubles the side
    upsample: str = "resize"  # decoder blocks: "resize" (nearest x2 + 3x3 conv) or "transpose" (4x4 stride 2)
    expr_head: bool = True  # encoder also predicts the expression (auxiliary loss in training)
    expr_condition: bool = True  # the decoder also gets that prediction (softmax) at the bottleneck
    templates: bool = True  # the decoder draws on learned per-(character, expression) images (set_templates)
    rig_dim: int = 0  # size of the encoder's rig head (normalised rig vector, deepexpr.data.hagan.rig_targets); 0: none
    rig_code: bool = False  # the decoder draws from the predicted rig + character (+ z) only, not the code
    character_base: bool = False  # a learned picture per character (set_base; neutral render) under the decoder
    light_top: bool = False  # the last decoder block only upsamples (no conv + norm at full size: ~3x cheaper)
    warp: bool = False  # with character_base: the decoder moves the base (flow) and paints over it (residual, mask)
    full_res: int = 0  # warp: channels of a full-size head that sees the base picture (0: half-size outputs)
    landmark_maps: int = 0  # full_res: hidden width of a rig -> landmarks MLP whose flow and maps feed the head (0: off)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class HaganDConfig:
    image_size: int = 64  # side of the character images D judges
    in_channels: int = 3  # character image channels
    channels: tuple[int, ...] = (16, 32, 64, 128)  # the four shared conv blocks (paper)
    fc_dim: int = 256  # shared FC after the conv blocks (paper: 1024, `hagan_d_paper`; 256 keeps the CPU default small)
    real_hidden: int = 256  # D^R: one FC of this width, then the real/fake logit
    expr_hidden: tuple[int, ...] = (256, 256)  # D^e: two FC layers, then the class logits
    num_expressions: int = NUM_CLASSES  # expression classes (EXPRESSIONS order)
    norm: str = "none"  # "none", "group" (per image) or "batch" normalisation in blocks 2-4
    dropout: float = 0.3  # dropout before the heads (D^e generalises to unseen faces)

    def to_dict(self) -> dict:
        return asdict(self)


def _down(c_in: int, c_out: int, norm: bool | str, act: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm == "group":  # per-image (LayerNorm over C, H, W): no batch dependence at test time
        layers.append(nn.GroupNorm(1, c_out))
    elif norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(act)
    return nn.Sequential(*layers)


def _up(c_in: int, c_out: int, mode: str = "resize") -> nn.Sequential:
    """One decoder block that doubles the side: (N, c_in, r, r) -> (N, c_out, 2r, 2r).

    "resize" = nearest-neighbour x2 then a 3x3 conv (Odena et al. 2016, "Deconvolution and
    checkerboard artifacts"): every output pixel sees the same number of inputs, so no
    checkerboard speckle; "transpose" = the DCGAN 4x4 stride-2 transposed convolution.
    """
    if mode == "resize":
        conv: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)]
    elif mode == "transpose":
        conv = [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
    else:
        raise ValueError(f"upsample {mode!r}: expected 'resize' or 'transpose'")
    return nn.Sequential(*conv, nn.BatchNorm2d(c_out), nn.ReLU(True))


def _full_res_head(c_in: int, width: int, c_out: int) -> nn.Sequential:
    """The warp decoder's full-size head (issue 18, session 5): (N, c_in, S, S) -> (N, c_out, S, S).

    Its input is the decoder's half-size features upsampled *and the character's base
    picture*, so it can put the flow, paint and mask where the base's features are, one
    pixel at a time: with half-size outputs the thin lines the judge reads came out soft.
    Two 3x3 convs + ReLU (no norm: per-pixel work), then the output conv (the last layer,
    the one `decoder_ablation` zeroes).
    """
    return nn.Sequential(nn.Conv2d(c_in, width, 3, 1, 1), nn.ReLU(True),
                         nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(True), nn.Conv2d(width, c_out, 3, 1, 1))


def _sample(image: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """(N, C, S, S) image sampled at the pixel grid + (N, S, S, 2) offset (grid units, border)."""
    ident = torch.eye(2, 3, device=image.device, dtype=image.dtype).expand(len(image), 2, 3)
    grid = nn.functional.affine_grid(ident, list(image.shape), align_corners=False)
    return nn.functional.grid_sample(image, grid + offset, mode="bilinear", padding_mode="border",
                                     align_corners=False)


def _checked(cfg: HaganGConfig) -> HaganGConfig:
    """`cfg`, or a ValueError naming the first option that lacks what it builds on."""
    for bad, message in ((cfg.rig_code and not cfg.rig_dim, "rig_code needs rig_dim > 0 (the rig head)"),
                         (cfg.warp and not cfg.character_base, "warp needs character_base (what it moves)"),
                         (cfg.full_res and not cfg.warp, "full_res needs warp (it outputs flow, paint, mask)"),
                         (cfg.landmark_maps and not (cfg.full_res and cfg.rig_code),
                          "landmark_maps needs full_res and rig_code (its maps feed the full-size head)")):
        if bad:
            raise ValueError(message)
    return cfg


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Crop (N, C, H, W) to (N, C, size, size) around the center."""
    top = (x.shape[-2] - size) // 2
    left = (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


class HaganGenerator(nn.Module):
    """G(human, character, z) -> character image in [-1, 1].

    Args (forward):
        human: (N, in_channels, S, S) float, normalised as `preprocess` says ([-1, 1]).
        character: (N,) long character indices, or (N, num_characters) one-hot/soft.
        z: (N, z_dim) noise; drawn from N(0, 1) when None.

    Returns:
        (N, out_channels, S, S) generated character images, tanh range [-1, 1].
    """

    def __init__(self, cfg: HaganGConfig):
        super().__init__()
        self.cfg = _checked(cfg)
        chans = (cfg.in_channels, *cfg.enc_channels)
        self.encoder = nn.Sequential(
            *[_down(a, b, i > 0, nn.LeakyReLU(0.2, True)) for i, (a, b) in enumerate(zip(chans, chans[1:]))],
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(cfg.enc_channels[-1] * 16, cfg.code_dim),
            nn.LeakyReLU(0.2, True),
        )
        # Auxiliary expression classifier on the code (not in the paper, see module docstring).
        self.expr_head = (nn.Linear(cfg.code_dim, NUM_CLASSES)
                          if cfg.expr_head or cfg.expr_condition or cfg.templates else None)
        # The rig head: AU intensities, head yaw/pitch, gaze of the face (see module docstring).
        self.rig_head = nn.Linear(cfg.code_dim, cfg.rig_dim) if cfg.rig_dim else None
        self.start = math.ceil(cfg.image_size / 2 ** len(cfg.dec_channels))
        c0 = cfg.dec_channels[0]
        n_cond = NUM_CLASSES if cfg.expr_condition and not cfg.rig_code else 0
        n_in = cfg.rig_dim if cfg.rig_code else cfg.code_dim + n_cond
        self.project = nn.Sequential(
            nn.Linear(n_in + cfg.num_characters + cfg.z_dim, c0 * self.start**2, bias=False),
            nn.BatchNorm1d(c0 * self.start**2),
            nn.ReLU(True),
        )
        dec = (*cfg.dec_channels, cfg.dec_channels[-1])
        self.ups = nn.ModuleList([_up(a, b, cfg.upsample) for a, b in zip(dec[:-1], dec[1:])])
        if cfg.warp:  # flow, paint and mask at half size, upsampled (see `_warp`)
            self.ups[-1] = nn.Identity()
        elif cfg.light_top:  # full-size work left to `to_image` alone (a 3x3 conv)
            self.ups[-1] = nn.Upsample(scale_factor=2, mode="nearest")
        n_out = 2 + cfg.out_channels + 1 if cfg.warp else cfg.out_channels
        self.to_image = nn.Sequential(nn.Conv2d(cfg.dec_channels[-1], n_out, 3, 1, 1))
        # rig -> landmarks -> flow + maps (session 6, `deepexpr.models.hagan_landmarks`); set_landmarks
        self.landmark_head = LandmarkHead(cfg.rig_dim, cfg.num_characters, cfg.landmark_maps) if cfg.landmark_maps else None
        if cfg.landmark_maps:
            self.register_buffer("landmark_base", torch.zeros(cfg.num_characters, 49, 2))
        if cfg.full_res:  # see `_full_res_head`
            n_in = cfg.dec_channels[-1] + cfg.out_channels + (NUM_MAPS if cfg.landmark_maps else 0)
            self.to_image = _full_res_head(n_in, cfg.full_res, n_out)
        # Per-(character, expression) images, pre-tanh (zeros = grey until `set_templates`).
        self.templates = nn.Parameter(torch.zeros(cfg.num_characters, NUM_CLASSES, cfg.out_channels,
                                                  cfg.image_size, cfg.image_size)) if cfg.templates else None
        # One picture per character (pre-tanh; set_base), no expression in it: the decoder
        # draws every change of the face on top of it.
        self.base = nn.Parameter(torch.zeros(cfg.num_characters, cfg.out_channels, cfg.image_size,
                                             cfg.image_size)) if cfg.character_base else None

    def encode(self, human: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) human faces -> (N, code_dim) expression codes."""
        if human.ndim != 4 or human.shape[1] != self.cfg.in_channels:
            raise ValueError(f"human must be (N, {self.cfg.in_channels}, S, S), got {tuple(human.shape)}")
        return self.encoder(human)

    def expression(self, code: torch.Tensor) -> torch.Tensor:
        """(N, code_dim) codes -> (N, 7) expression logits of the encoder's auxiliary head."""
        if self.expr_head is None:
            raise ValueError("this generator has no expression head (expr_head, expr_condition, templates all off)")
        return self.expr_head(code)

    def rig(self, code: torch.Tensor) -> torch.Tensor:
        """(N, code_dim) codes -> (N, rig_dim) predicted normalised rig vectors."""
        if self.rig_head is None:
            raise ValueError("this generator has no rig head (rig_dim=0)")
        return self.rig_head(code)

    def draw(self, rig: torch.Tensor, character: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder as a renderer: (N, rig_dim) normalised rigs + characters (+ noise) ->
        (N, out_channels, S, S) images in [-1, 1] (rig_code generators only)."""
        if not self.cfg.rig_code:
            raise ValueError("draw() needs a rig-code generator (rig_code=True)")
        if rig.ndim != 2 or rig.shape[1] != self.cfg.rig_dim:
            raise ValueError(f"rig must be (N, {self.cfg.rig_dim}), got {tuple(rig.shape)}")
        return self._render([rig], None, character, z)

    # The encoder and its expression head read as a human-face classifier (the registry's
    # interface). No reset_classifier: the decoder is conditioned on the seven classes.
    def forward_features(self, human: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) human faces -> (N, code_dim) expression codes (`encode`)."""
        return self.encode(human)

    def forward_head(self, code: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """(N, code_dim) codes -> (N, 7) expression logits, or the codes when `pre_logits`."""
        return code if pre_logits else self.expression(code)

    @property
    def num_features(self) -> int:
        return self.cfg.code_dim

    def get_classifier(self) -> nn.Module | None:
        """The encoder's expression head (`nn.Linear(code_dim, 7)`), or None."""
        return self.expr_head

    def one_hot(self, character: torch.Tensor) -> torch.Tensor:
        if character.ndim == 1:
            return nn.functional.one_hot(character.long(), self.cfg.num_characters).float()
        return character.float()

    def decode(self, code: torch.Tensor, character: torch.Tensor, z: torch.Tensor | None = None):
        """Codes (N, code_dim) + characters + noise -> (N, out_channels, S, S) images.

        A rig-code generator draws from the code's rig (`draw(rig(code), ...)`)."""
        if self.cfg.rig_code:
            return self.draw(self.rig(code), character, z)
        probs = torch.softmax(self.expr_head(code), dim=1) if self.expr_head is not None else None
        parts = [code, probs] if self.cfg.expr_condition else [code]
        return self._render(parts, probs, character, z)

    def _render(self, parts: list, probs, character: torch.Tensor, z: torch.Tensor | None):
        """The decoder: the conditioning vectors + one-hot + z -> tanh(conv stack [+ base] [+ templates])."""
        n = parts[0].shape[0]
        ref = parts[0]
        if z is None:
            z = torch.randn(n, self.cfg.z_dim, device=ref.device)
        onehot = self.one_hot(character).to(ref)
        h = self.project(torch.cat([*parts, onehot, z.to(ref)], dim=1))
        h = h.view(n, self.cfg.dec_channels[0], self.start, self.start)
        for up in self.ups:
            h = up(h)
        flow = None
        if self.cfg.warp and self.cfg.full_res:  # the half-size features + the base picture, at full size
            size = (self.cfg.image_size, self.cfg.image_size)
            h = nn.functional.interpolate(h, size=size, mode="bilinear", align_corners=False)
            base, maps = torch.tanh(torch.einsum("nc,cshw->nshw", onehot, self.base)), []
            if self.landmark_head is not None:  # the base moved to the rig's landmarks + the landmarks drawn
                neutral = torch.einsum("nc,ckd->nkd", onehot, self.landmark_base)
                points = self.landmark_head(parts[0], onehot, neutral)
                flow = landmark_flow(points, neutral, size[0])
                base, maps = _sample(base, flow), [landmark_maps(points, size[0])]
            h = torch.cat([h, base, *maps], dim=1)
        if self.cfg.warp:
            return self._warp(self.to_image(h), onehot, flow)
        h = center_crop(self.to_image(h), self.cfg.image_size)
        if self.base is not None:
            h = h + torch.einsum("nc,cshw->nshw", onehot, self.base)
        if self.templates is not None:
            # The character's picture for each expression, mixed by the encoder's probabilities.
            h = h + torch.einsum("nc,ne,ceshw->nshw", onehot, probs, self.templates)
        return torch.tanh(h)

    @torch.no_grad()
    def set_templates(self, images: torch.Tensor) -> None:
        """Start the (character, expression) images from pictures (e.g. medoid renders).

        Args:
            images: (num_characters, 7, out_channels, S, S) in [-1, 1]; stored pre-tanh.
        """
        if self.templates is None:
            raise ValueError("this generator has no templates (templates=False)")
        if images.shape != self.templates.shape:
            raise ValueError(f"templates must be {tuple(self.templates.shape)}, got {tuple(images.shape)}")
        self.templates.copy_(torch.atanh(images.float().clamp(-0.98, 0.98)))

    def landmarks(self, rig: torch.Tensor, character: torch.Tensor) -> torch.Tensor:
        """(N, rig_dim) rigs + characters -> (N, 49, 2) the landmarks the decoder places, in pixels."""
        if self.landmark_head is None:
            raise ValueError("this generator has no landmark stage (landmark_maps=0)")
        onehot = self.one_hot(character).to(rig)
        points = self.landmark_head(rig, onehot, torch.einsum("nc,ckd->nkd", onehot, self.landmark_base))
        return (points + 1.0) * (self.cfg.image_size / 2.0)

    @torch.no_grad()
    def set_landmarks(self, points: torch.Tensor) -> None:
        """The characters' neutral landmarks (num_characters, 49, 2), in pixels (render_face's)."""
        if self.landmark_head is None:
            raise ValueError("this generator has no landmark stage (landmark_maps=0)")
        self.landmark_base.copy_(pixels_to_grid(points.float(), self.cfg.image_size))

    def _warp(self, out: torch.Tensor, onehot: torch.Tensor, moved_by: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 2 + C + 1, S/2, S/2) decoder output -> (N, C, S, S) image in [-1, 1]: the
        character's base picture moved by the flow (2 channels, in grid units / 8), then
        blended with the painted residual by the mask (sigmoid, biased towards the moved base).

        Moving pixels keeps features sharp (brows, lid lines, mouth corners, the head turn);
        the paint covers what no motion can make (an open mouth, teeth, wrinkles). `moved_by`
        (N, S, S, 2), the landmark stage's flow, is added to the decoder's.
        """
        size = self.cfg.image_size
        if out.shape[-1] != size:
            out = nn.functional.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
        flow, paint, mask = out[:, :2], out[:, 2:-1], out[:, -1:]
        base = torch.tanh(torch.einsum("nc,cshw->nshw", onehot, self.base))
        offset = flow.permute(0, 2, 3, 1) / 8.0 + (0 if moved_by is None else moved_by)
        moved = _sample(base, offset)
        alpha = torch.sigmoid(mask - 2.0)
        return (1 - alpha) * moved + alpha * torch.tanh(paint)

    @torch.no_grad()
    def set_base(self, images: torch.Tensor) -> None:
        """Start the per-character pictures from images (e.g. the neutral renders).

        Args:
            images: (num_characters, out_channels, S, S) in [-1, 1]; stored pre-tanh.
        """
        if self.base is None:
            raise ValueError("this generator has no character base (character_base=False)")
        if images.shape != self.base.shape:
            raise ValueError(f"base must be {tuple(self.base.shape)}, got {tuple(images.shape)}")
        self.base.copy_(torch.atanh(images.float().clamp(-0.98, 0.98)))

    def forward(self, human, character, z=None):
        return self.decode(self.encode(human), character, z)


class HaganDiscriminator(nn.Module):
    """D(image) -> (real/fake logit (N,), expression logits (N, num_expressions)).

    `forward_features` gives the shared vector (N, fc_dim); `expression` runs D^e
    alone (what recognition uses: the D^R leg is discarded at test time).
    """

    def __init__(self, cfg: HaganDConfig):
        super().__init__()
        self.cfg = cfg
        chans = (cfg.in_channels, *cfg.channels)
        norm = cfg.norm if cfg.norm in ("batch", "group") else False
        self.trunk = nn.Sequential(
            *[_down(a, b, norm if i > 0 else False, nn.LeakyReLU(0.2, True)) for i, (a, b) in enumerate(zip(chans, chans[1:]))],
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(cfg.channels[-1] * 16, cfg.fc_dim),
            nn.LeakyReLU(0.2, True),
            nn.Dropout(cfg.dropout),
        )
        self.real_head = nn.Sequential(
            nn.Linear(cfg.fc_dim, cfg.real_hidden), nn.LeakyReLU(0.2, True), nn.Linear(cfg.real_hidden, 1)
        )
        widths = (cfg.fc_dim, *cfg.expr_hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, True)]
        self.expr_head = nn.Sequential(*layers, nn.Linear(widths[-1], cfg.num_expressions))

    def forward_features(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != self.cfg.in_channels:
            raise ValueError(f"image must be (N, {self.cfg.in_channels}, S, S), got {tuple(image.shape)}")
        return self.trunk(image)

    def expression(self, image: torch.Tensor) -> torch.Tensor:
        """D^e logits (N, num_expressions)."""
        return self.expr_head(self.forward_features(image))

    def forward_head(self, h: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """(N, fc_dim) shared features -> D^e logits (N, num_expressions), or with
        `pre_logits` the (N, expr_hidden[-1]) input of D^e's last layer."""
        return self.expr_head[:-1](h) if pre_logits else self.expr_head(h)

    def features_and_logits(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass: ((N, fc_dim) shared features, (N, num_expressions) D^e logits)."""
        h = self.forward_features(image)
        return h, self.expr_head(h)

    @property
    def num_features(self) -> int:
        return self.cfg.fc_dim

    def get_classifier(self) -> nn.Module:
        """D^e's last layer, `nn.Linear(expr_hidden[-1], num_expressions)`."""
        return self.expr_head[-1]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace D^e's last layer by a new one with `num_classes` outputs (He init, as
        `init_discriminator`)."""
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.cfg = replace(self.cfg, num_expressions=int(num_classes))
        last = nn.Linear(self.expr_head[-1].in_features, int(num_classes))
        init_discriminator(last)
        self.expr_head[-1] = last

    def forward(self, image):
        h = self.forward_features(image)
        return self.real_head(h).squeeze(1), self.expr_head(h)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), norm weights N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _tuples(overrides: dict) -> dict:
    # JSON configs bring tuples back as lists.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}


def _g(base: dict, overrides: dict) -> HaganGenerator:
    model = HaganGenerator(HaganGConfig(**{**base, **_tuples(overrides)}))
    init_weights(model)
    return model


def init_discriminator(module: nn.Module) -> None:
    """He (Kaiming-normal, LeakyReLU 0.2) init of D's convs and FCs, zero biases.

    Without normalisation in D, DCGAN's N(0, 0.02) shrinks the signal ~7x per block, and
    even PyTorch's default leaves D^e's three FC layers with near-constant logits: the
    real/fake task then takes over the shared trunk and D^e's loss sits at log(7) for
    hundreds of steps. With He init D^e reads real character images (75% at step 200).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, a=0.2)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _d(base: dict, overrides: dict) -> HaganDiscriminator:
    cfg = HaganDConfig(**{**base, **_tuples(overrides)})
    model = HaganDiscriminator(cfg)
    init_discriminator(model)
    return model


@register_model(preprocess=Preprocess(size=64))
def hagan_g(**overrides) -> HaganGenerator:
    """CPU default generator: 64 px."""
    return _g({}, overrides)


@register_model(preprocess=Preprocess(size=64))
def hagan_d(**overrides) -> HaganDiscriminator:
    """CPU default discriminator: 64 px, the paper's 16-32-64-128 blocks, FC 256 (paper 1024)."""
    return _d({}, overrides)


@register_model(preprocess=Preprocess(size=75))
def hagan_g_paper(**overrides) -> HaganGenerator:
    """The paper's size: 75x75 crops."""
    return _g({"image_size": 75}, overrides)


@register_model(preprocess=Preprocess(size=75))
def hagan_d_paper(**overrides) -> HaganDiscriminator:
    """The paper's size: 75x75 crops, FC 1024."""
    return _d({"image_size": 75, "fc_dim": 1024}, overrides)


@register_model(preprocess=Preprocess(size=16))
def test_hagan_g(**overrides) -> HaganGenerator:
    """Tiny generator for tests: 16 px, few channels."""
    return _g({"image_size": 16, "num_characters": 2, "z_dim": 4, "code_dim": 8,
               "enc_channels": (4, 8), "dec_channels": (8, 4)}, overrides)


@register_model(preprocess=Preprocess(size=16))
def test_hagan_d(**overrides) -> HaganDiscriminator:
    """Tiny discriminator for tests: 16 px."""
    return _d({"image_size": 16, "channels": (4, 4, 8, 8), "fc_dim": 16, "real_hidden": 8,
               "expr_hidden": (8, 8), "dropout": 0.0}, overrides)


# The rig-code generator (the default since issue 18): RIG_DIM = len(RIG_CONTROLS).
RIG_DIM = 23
RIG_G = {"rig_dim": RIG_DIM, "rig_code": True, "templates": False, "expr_condition": False,
         "character_base": True, "z_dim": 0, "warp": True}


@register_model(preprocess=Preprocess(size=64))
def hagan_rig_g(**overrides) -> HaganGenerator:
    """CPU default generator since issue 18: face -> rig -> (rig, character) renderer, 64 px."""
    return _g(RIG_G, overrides)


@register_model(preprocess=Preprocess(size=16))
def test_hagan_rig_g(**overrides) -> HaganGenerator:
    """Tiny rig-code generator for tests: 16 px."""
    return _g({**RIG_G, "image_size": 16, "num_characters": 2, "code_dim": 8,
               "enc_channels": (4, 8), "dec_channels": (8, 4)}, overrides)


# The presets (G + D variants by name) live beside: `deepexpr.models.hagan_presets`.
from deepexpr.models.hagan_presets import PAPER_G as PAPER_G  # noqa: E402  (re-exported)
from deepexpr.models.hagan_presets import PRESETS as PRESETS  # noqa: E402
from deepexpr.models.hagan_presets import HaganPair as HaganPair  # noqa: E402
