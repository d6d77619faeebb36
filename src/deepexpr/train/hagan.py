"""Training HA-GAN: the configuration, one G+D step, the loop, resume.

The pieces live beside it: losses (Eqs. 3-5) in `hagan_losses`, augmentation and the pair
sampler in `hagan_data`, sample grids and the fp16 bundle in `hagan_export`; `HaganData`
and the image conversions in `deepexpr.data.hagan` (translation uses them too).

Optimisation (paper Sec. 5.1): Adam lr 2e-4, beta1 0.5 for both networks; G and D updated
one after the other; the losses of Eqs. 3-5 are described in `hagan_losses`.

Choices the paper leaves open: Eq. 5 trains D^e on real character images only; we also
train it on G's images labelled with the human's expression (`d_fake_expr_weight`, AC-GAN:
session 3's D^e, never shown G's images, read 69.8% of them in a k-fold fold); batch 32 on
CPU instead of 130; human-side augmentation is on the fly rather than a 110x larger stored
set. Several target characters share one model through the one-hot.

Departures from the paper's objective (all switchable; the paper's is
`l1_weight=30, match_weight=0, cls_weight=0, expr_weight=1`), because on CPU budgets the
paper's objective left the drawings' expressions faint (22.8% for the independent judge
after 3250 steps, RESULTS.md):
- matched L1 (`match_weight`): L1 between G's image and the target character making the
  same face. With the drawn stand-in (`pairing="rig"`, the default) that is the character
  drawn with the human face's own rig: same AUs at the same intensities, same head yaw and
  pitch and gaze (mirrored with the view), the drawing a perfect G would make. With a real
  labelled set (no rigs) it is a *random real frame of the target character with the same
  expression* (`pairing="expression"`), whose L1 minimiser is the per-pixel median of that
  character's frames of that expression, i.e. a clear expression.
- encoder pretraining (`encoder_pretrain`): G's encoder + expression head alone on the human
  labels before the GAN starts (cheap: no decoder, no D), so the code reads expressions
  from the first GAN step.
- the neutral L1 of Eq. 4 is kept but off by default (`l1_weight` 0; 30 in the paper, 5 in
  session 3's model): pulling every drawing towards the neutral face works against every
  other expression.
- `cls_weight`: cross-entropy of the encoder's expression head on the human labels (see
  `deepexpr.models.hagan`), at `encoder_lr_mult` x the learning rate.
- rig code (issue 18, see `deepexpr.models.hagan`): `rig_weight` (MSE of G's rig head to
  the stand-in face's rig), `decoder_pretrain` + `render_pool` + `render_weight` (G's
  decoder trained as a renderer on (random rig, character) -> render pairs).
- decoder losses that weigh the face's features (issue 18, session 5): `reader_weight` (a
  rig reader trained on the render pool, frozen; the decoder matches its features of the
  render, `hagan_reader`) and `landmark_gain` (the render-pool L1 counts the pixels near
  the landmarks more; `hagan_losses.landmark_weights`).
- the encoder (issue 18, session 9; `hagan_encoder`): `rig_au_weights` (chosen controls count
  more in every rig MSE) and `encoder_finetune` (encoder + heads trained through the frozen
  decoder after its pretraining: the drawing of the predicted rig against that of the true rig).
- after the GAN (issue 18, session 10; `post_decoder`, `post_finetune`, off by default): the
  exported G's decoder again on the render pool (rigs with chosen controls drawn more often,
  stroke-weighted L1) and its encoder through that frozen decoder; resumable on a finished
  run. Measured, no gain (RESULTS "Session 10").
- the landmark stage's loss (issue 18, session 6; `landmark_weight`, preset "landmarks"): the
  mean distance between the landmarks G's decoder places and the render's exact ones.
- `expr_weight` (Eq. 3's D^e term on G's images): with `d_fake_expr_weight` 0 D^e never
  sees G's images, so G can also satisfy it with patterns D^e alone reads (speckle); see HaganTrainConfig.

Resume: every checkpoint writes the one training state (`state.safetensors`,
train/state.py: G, D, the moving average, both optimizers, step, history, every RNG and
the settings) atomically, then the weights for inference and history.csv.

    >>> from deepexpr.train.hagan import HaganTrainConfig, train_hagan
    >>> result = train_hagan(data, HaganTrainConfig(steps=100), out_dir="runs/hagan")
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepexpr.data.hagan import HaganData, human_view, to_tensor, to_uint8
from deepexpr.errors import InputError, check_settings, setting
from deepexpr.expressions import EXPRESSIONS
from deepexpr.io import atomic_path, save_image
from deepexpr.models.checkpoint import save_model
from deepexpr.models.hagan import PRESETS
from deepexpr.models.registry import create_model
from deepexpr.progress import progress
from deepexpr.train.hagan_data import (
    PAPER_ANGLES,
    PairSampler,
    RenderPool,
    augment_human,
    expression_medians,
)
from deepexpr.train.hagan_decoder import pretrain_decoder, render_l1, rig_focus_probabilities
from deepexpr.train.hagan_encoder import (
    finetune_encoder,
    focus_probabilities,
    pretrain_encoder,
    rig_control_weights,
)
from deepexpr.train.hagan_export import export_bundle, generate, sample_grid, tile
from deepexpr.train.hagan_losses import (
    discriminator_loss,
    expression_loss,
    generator_adversarial_loss,
    generator_loss,
    neutral_l1_loss,
    rig_loss,
)
from deepexpr.train.hagan_reader import build_rig_reader, fit_rig_reader, freeze
from deepexpr.train.state import load_state, save_state

# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------


@dataclass
class HaganTrainConfig:
    # Bounds: Adam checks only its default lr, a negative group multiplier would silently ascend.
    preset: str = setting("default", "G and D variants from deepexpr.models.hagan_presets: default (64 px), "
                          "fullres (+ full-size head), landmarks (+ landmark stage), paper (75 px), "
                          "templated (session 3), test* (tiny)", choices=tuple(PRESETS))
    image_size: int | None = setting(None, "override the preset's image side", min=8, max=1024)
    steps: int = setting(300, "G+D updates in total (a resumed run continues up to this number)", min=0)
    batch_size: int = setting(32, "batch size (paper: 130 on a GPU; 32 keeps a step ~0.3 s on 2 CPU cores)",
                              min=1, max=100_000)
    lr: float = setting(2e-4, "Adam learning rate for G and D (paper)", min=0)
    beta1: float = setting(0.5, "Adam beta1 (paper: 'momentum 0.5')", min=0, max=1)
    beta2: float = setting(0.999, "Adam beta2 (PyTorch default)", min=0, max=1)
    l1_weight: float = setting(0.0, "weight of the L1 to the neutral character (Eq. 4; the paper's "
                               "objective: 30; it pulls every drawing towards neutral, so 0 since issue 18)", min=0)
    match_weight: float = setting(100.0, "weight of the L1 to a real frame of the character with the same "
                                  "expression (see --pairing; not in the paper; 0: off)", min=0)
    cls_weight: float = setting(1.0, "weight of the encoder's auxiliary expression loss (not in the paper; "
                                "0: off)", min=0)
    pairing: str = setting("rig", "target of the matched L1: rig = the character drawn making this very face "
                           "(drawn stand-in only; real sets fall back to expression), expression = a random "
                           "frame of the character with the same expression", choices=("rig", "expression"))
    template_init: str = setting("medoid", "G's per-expression templates start from the median image or the "
                                 "medoid frame", choices=("median", "medoid"))
    encoder_lr_mult: float = setting(5.0, "G encoder and expression head learning rate / --lr", min=0)
    decoder_lr_mult: float = setting(1.0, "G decoder learning rate / --lr", min=0)
    template_lr_mult: float = setting(1.0, "G template learning rate / --lr (0: the templates stay the "
                                      "renders they start from)", min=0)
    encoder_pretrain: int = setting(1500, "updates of G's encoder + expression head alone before the GAN "
                                    "(about 2 CPU-minutes; not in the paper; 0: off)", min=0)
    rig_weight: float = setting(10.0, "weight of the MSE of G's rig head against the face's rig (rig-code "
                                "G on the stand-in; not in the paper)", min=0)
    rig_au_weights: str = setting("", "per-control weights of the rig MSE (encoder pretraining, fine-tuning, "
                                  "GAN), e.g. 'AU9=4,AU10=4' (session 9: disgust's own AUs; empty: all 1)")
    encoder_finetune: int = setting(0, "updates of G's encoder + heads through the frozen decoder after its "
                                    "pretraining (hagan_encoder.finetune_encoder; 0: off)", min=0)
    finetune_draw_weight: float = setting(10.0, "--encoder-finetune: weight of the L1 between the decoder's "
                                          "drawings of the predicted and the true rig", min=0)
    finetune_landmark_weight: float = setting(0.05, "--encoder-finetune: weight of the distance (pixels) "
                                              "between the landmarks placed for the predicted and the true "
                                              "rig (landmark-stage decoders)", min=0)
    post_finetune: int = setting(0, "after the GAN: updates of the exported G's (the moving average's) "
                                 "encoder + heads through its frozen decoder, --encoder-finetune's losses "
                                 "(session 10; resuming a finished run adds them; 0: off)", min=0)
    post_focus: str = setting("", "--post-finetune draws faces of these expressions (comma-separated) "
                              "--post-focus-factor times as often (empty: as the data)")
    post_focus_factor: float = setting(1.0, "see --post-focus", min=0)
    post_decoder: int = setting(0, "after the GAN, before --post-finetune: updates of the exported G's decoder "
                                "on the render pool (its pretraining losses, at lr x --post-decoder-lr-mult; session 10; "
                                "resuming a finished run adds them; 0: off)", min=0)
    post_decoder_focus: str = setting("", "--post-decoder draws pool rigs 1 + factor x (largest of these "
                                      "controls, e.g. 'AU9,AU10') times as often (empty: uniform)")
    post_decoder_factor: float = setting(0.0, "see --post-decoder-focus", min=0)
    post_decoder_lr_mult: float = setting(1.0, "--post-decoder learning rate / --lr (the pretraining's: "
                                          "--encoder-lr-mult)", min=0)
    post_decoder_feature_gain: float = setting(0.0, "--post-decoder: pixels where the render differs from the "
                                               "neutral face count 1 + gain x |difference| more, on top of "
                                               "--landmark-gain (disgust's nose-wrinkle strokes; 0: off)", min=0)
    decoder_pretrain: int = setting(1200, "updates of a rig-code G's decoder alone on (rig, character) -> "
                                    "render pairs before the GAN (not in the paper; 0: off)", min=0)
    render_pool: int = setting(1000, "renders per target character for the decoder (random rigs of every "
                               "intensity, drawn once per run)", min=1)
    render_focus: str = setting("", "an expression whose poses the render pool draws --render-focus-factor "
                                "times as often as each other's (session 8: disgust; empty: all alike)",
                                choices=("", *EXPRESSIONS))
    render_focus_factor: float = setting(1.0, "see --render-focus", min=0)
    render_weight: float = setting(100.0, "weight of the L1 on render-pool pairs during the GAN (keeps the "
                                   "decoder a renderer of every rig; 0: off)", min=0)
    feature_gain: float = setting(0.0, "matched and render-pool L1 count a pixel 1 + gain x |target - neutral| "
                                  "times (feature_weighted_l1; 0: plain L1; 20 was measured: no better, RESULTS)",
                                  min=0)
    landmark_gain: float = setting(0.0, "render-pool L1 (decoder pretraining and GAN) counts the pixels near the "
                                   "render's and the neutral face's landmarks 1 + gain times (landmark_weights; "
                                   "0: off)", min=0)
    landmark_weight: float = setting(0.05, "weight of the landmark loss (mean distance in pixels between the "
                                     "landmarks a landmark-stage decoder places and the render's; preset "
                                     "landmarks, decoder pretraining and GAN)", min=0)
    reader_weight: float = setting(0.0, "weight of the rig reader's feature loss on render-pool pairs (decoder "
                                   "pretraining and GAN; hagan_reader; 0: off)", min=0)
    reader_steps: int = setting(1000, "updates of that rig reader on the render pool (before the decoder)", min=0)
    d_fake_expr_weight: float = setting(1.0, "weight of D^e's cross-entropy on G's drawings labelled with the "
                                        "human's expression (AC-GAN; not in Eq. 5; 0: off)", min=0)
    adv_weight: float = setting(0.1, "weight of G's adversarial (D^R) term of Eq. 3 (paper: 1)", min=0)
    expr_weight: float = setting(0.1, "weight of G's expression (D^e) term of Eq. 3 (paper: 1)", min=0)
    d_expr_weight: float = setting(1.0, "weight of D^e's term in Eq. 5", min=0)
    augment: str = setting("light", "human-side augmentation (paper: 5 crops x 11 rotations x flip)",
                           choices=("none", "light", "paper"))
    sample_every: int = setting(250, "write a sample grid every N steps (0: only at the end)", min=0)
    checkpoint_every: int = setting(500, "write checkpoints every N steps (always at the end; 0: only then)", min=0)
    ema_decay: float = setting(0.999, "moving average of G's weights, saved as hagan_g_ema (0: off)",
                               min=0, max=1)
    seed: int = setting(0, "numpy + torch seed")
    threads: int = setting(1, "torch threads (1 on the shared 2-core machine)", min=1)
    g_overrides: dict = field(default_factory=dict)  # HaganGConfig fields to change
    d_overrides: dict = field(default_factory=dict)  # HaganDConfig fields to change

    def __post_init__(self):
        check_settings(self)
        rig_control_weights(self.rig_au_weights)  # InputError now, not after the pretraining
        focus_probabilities(np.arange(len(EXPRESSIONS)), self.post_focus, 2.0)
        rig_focus_probabilities(np.zeros((1, 23), np.float32), self.post_decoder_focus, 1.0)

    def to_dict(self) -> dict:
        return asdict(self)


def build_models(cfg: HaganTrainConfig, num_characters: int):
    """G and D of the preset, sized for `num_characters` and `cfg.image_size`."""
    if cfg.preset not in PRESETS:
        raise InputError(f"preset {cfg.preset!r}: expected one of {', '.join(PRESETS)}")
    pair = PRESETS[cfg.preset]
    g_over = {**pair.g_overrides, **cfg.g_overrides, "num_characters": num_characters}
    d_over = {**pair.d_overrides, **cfg.d_overrides}
    if cfg.image_size:
        g_over["image_size"] = d_over["image_size"] = cfg.image_size
    g = create_model(pair.generator, **g_over)
    d = create_model(pair.discriminator, **d_over)
    return g, d, (pair.generator, g_over), (pair.discriminator, d_over)


def train_step(g, d, opt_g, opt_d, batch: dict, cfg: HaganTrainConfig, pool: RenderPool | None = None,
               reader=None) -> dict[str, float]:
    """One D update then one G update (the paper's alternating scheme). Returns the losses."""
    g.train()
    d.train()
    code = g.encode(batch["human"])
    rig_pred = g.rig(code) if getattr(g, "rig_head", None) is not None else None
    fake = g.draw(rig_pred, batch["character"]) if g.cfg.rig_code else g.decode(code, batch["character"])
    # D: real character images (with their expression) vs G's images; D^e also reads G's
    # images as the human's expression (AC-GAN, ours).
    real_logit, real_expr = d(batch["real"])
    fake_logit, fake_expr_d = d(fake.detach())
    loss_d = discriminator_loss(real_logit, fake_logit, real_expr, batch["label"], cfg.d_expr_weight,
                                fake_expr_d, batch["label"], cfg.d_fake_expr_weight)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    # G: fool D^R, make D^e read the human's expression, stay close to the neutral character
    # (paper); ours: close to the matched drawing, a code that classifies and reads the rig.
    fake_logit, fake_expr = d(fake)
    use_match = cfg.match_weight > 0 and "matched" in batch
    code_logits = g.expression(code) if cfg.cls_weight > 0 and g.expr_head is not None else None
    loss_g, parts = generator_loss(fake_logit, fake_expr, batch["label"], fake, batch["neutral"],
                                   cfg.l1_weight, cfg.expr_weight,
                                   batch["matched"] if use_match else None, cfg.match_weight,
                                   code_logits, cfg.cls_weight, cfg.adv_weight, cfg.feature_gain)
    loss_g = loss_g + _rig_terms(g, rig_pred, batch, pool, cfg, parts, reader)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    acc_real = float((real_expr.argmax(1) == batch["label"]).float().mean())
    acc_fake = float((fake_expr.argmax(1) == batch["label"]).float().mean())
    out = {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()), **parts,
           "de_acc_real": acc_real, "de_acc_fake": acc_fake}
    if code_logits is not None:
        out["code_acc"] = float((code_logits.argmax(1) == batch["label"]).float().mean())
    return out


def _rig_terms(g, rig_pred, batch: dict, pool: RenderPool | None, cfg: HaganTrainConfig,
               parts: dict, reader=None) -> torch.Tensor:
    """G's rig-head MSE and the decoder's L1 on render-pool pairs (0 when not applicable)."""
    total = torch.zeros(())
    if rig_pred is not None and "rig" in batch and cfg.rig_weight > 0:
        rig = rig_loss(rig_pred, batch["rig"], rig_control_weights(cfg.rig_au_weights))
        total = total + cfg.rig_weight * rig
        parts["rig"] = float(rig.detach())
    if pool is not None and g.cfg.rig_code and cfg.render_weight > 0:
        render = render_l1(g, pool, max(1, cfg.batch_size // 2), cfg, reader)
        total = total + cfg.render_weight * render
        parts["render"] = float(render.detach())
    return total


def make_optimizers(g, d, cfg: HaganTrainConfig):
    """Adam for G (three groups: encoder + expression head at lr * encoder_lr_mult, templates
    at lr * template_lr_mult, the decoder at lr * decoder_lr_mult) and for D (lr)."""
    betas = (cfg.beta1, cfg.beta2)
    enc_names = ("encoder.", "expr_head.", "rig_head.")
    named = list(g.named_parameters())
    enc = [p for n, p in named if n.startswith(enc_names)]
    tmpl = [p for n, p in named if n == "templates"]
    rest = [p for n, p in named if not n.startswith(enc_names) and n != "templates"]
    groups = [{"params": enc, "lr": cfg.lr * cfg.encoder_lr_mult},
              {"params": rest, "lr": cfg.lr * cfg.decoder_lr_mult}]
    if tmpl:
        groups.append({"params": tmpl, "lr": cfg.lr * cfg.template_lr_mult})
    return (torch.optim.Adam(groups, lr=cfg.lr, betas=betas),
            torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=betas))


# ---- checkpoints ----------------------------------------------------------------------


def checkpoint_config(name: str, overrides: dict, data: HaganData, cfg: HaganTrainConfig,
                      role: str, step: int, size: int) -> dict:
    """The JSON beside each safetensors file: how to rebuild and how to feed the model."""
    return {
        "model": name,
        "overrides": overrides,
        "role": role,  # "generator" or "discriminator"
        "classes": list(EXPRESSIONS),
        "characters": list(data.characters),
        "preprocess": {"size": size, "grayscale": False, "mean": [0.5] * 3, "std": [0.5] * 3},
        "human_load_size": int(data.human_images.shape[1]),  # faces are resized to this, then center-cropped
        "human_source": data.source,
        "train": cfg.to_dict(),
        "step": step,
    }


@dataclass
class TrainResult:
    generator: Path  # generator checkpoint (.safetensors, config .json beside it)
    discriminator: Path  # discriminator checkpoint
    steps: int  # steps done in total
    seconds: float  # wall-clock of this call's G+D steps
    steps_per_second: float  # G+D updates per second in this call
    history: list[dict]  # per logged step: losses and D^e accuracies
    samples: list[Path]  # sample grids written
    pretrain_seconds: float = 0.0  # wall-clock of the encoder pretraining (not in `seconds`)


# ---- the run ---------------------------------------------------------------------------

# Settings a resumed run may change: more steps, other thread count, other output cadence.
EXTENDABLE = ("steps", "threads", "sample_every", "checkpoint_every", "post_finetune", "post_focus",
              "post_focus_factor", "post_decoder", "post_decoder_focus", "post_decoder_factor",
              "post_decoder_feature_gain", "post_decoder_lr_mult")
G_NAME, D_NAME, EMA_NAME, STATE_NAME = ("hagan_g.safetensors", "hagan_d.safetensors",
                                        "hagan_g_ema.safetensors", "state.safetensors")


def resume_settings(cfg: HaganTrainConfig, data: HaganData) -> dict:
    """What a resumed run must share with the run it continues (checked by `load_state`)."""
    return {**cfg.to_dict(), "characters": list(data.characters),
            "human_images": int(len(data.human_images)), "human_source": data.source}


class HaganRun:
    """G, D (and G's moving average), their optimizers, the sampler and the files of one run."""

    def __init__(self, data: HaganData, cfg: HaganTrainConfig, out: Path):
        self.data, self.cfg, self.out = data, cfg, out
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.g, self.d, self.g_spec, self.d_spec = build_models(cfg, len(data.characters))
        self.size = size = self.g.cfg.image_size
        if data.char_images.shape[1] != size or data.neutral_images.shape[1] != size:
            raise InputError(f"character images are {data.char_images.shape[1]} px but the model "
                             f"draws {size} px; render them at {size}")
        if getattr(self.g, "templates", None) is not None:
            self.g.set_templates(expression_medians(data, cfg.template_init))  # resume loads the learned ones
        if getattr(self.g, "base", None) is not None:
            self.g.set_base(to_tensor(data.neutral_images))
        if max(cfg.encoder_finetune, cfg.post_finetune) > 0 and not (self.g.cfg.rig_code and data.human_rigs is not None):
            raise InputError("--encoder-finetune and --post-finetune need a rig-code preset and faces with "
                             "rigs (the stand-in); drop them for this preset or data")
        self.pool = None  # a rig-code G's render pool (built by `pretrain` or `resume`)
        # the rig reader of the decoder's feature loss (trained by `pretrain`, restored by `resume`)
        self.reader = (build_rig_reader(size, self.g.cfg.rig_dim)
                       if cfg.reader_weight > 0 and self.g.cfg.rig_code else None)
        self.opt_g, self.opt_d = make_optimizers(self.g, self.d, cfg)
        # The moving average of G is what people see: GAN weights jitter step to step and
        # the average draws cleaner images (Karras et al.; Yazici et al. 2019).
        self.g_ema = copy.deepcopy(self.g).eval() if cfg.ema_decay > 0 else None
        self.sampler = PairSampler(data, size, cfg.augment, self.rng, effective_pairing(cfg, data))
        self.grid_humans = _grid_humans(data)
        self.step, self.history, self.running = 0, [], {}
        self.post_done = self.post_decoder_done = 0  # --post-finetune / --post-decoder updates already made
        self.samples: list[Path] = []

    def _state_parts(self):
        modules = {"g": self.g, "d": self.d, **({"g_ema": self.g_ema} if self.g_ema else {}),
                   **({"reader": self.reader} if self.reader is not None else {})}
        # the render pool's rng too: its batches after a resume must be the ones the run would draw
        rngs = {"sampler": self.rng, **({"render_pool": self.pool.rng} if self.pool is not None else {})}
        return modules, {"g": self.opt_g, "d": self.opt_d}, rngs

    def resume(self) -> None:
        """Continue from the run's training state (InputError when there is none)."""
        path = self.out / STATE_NAME
        if not path.is_file():
            raise InputError(f"{self.out}: nothing to resume (no {STATE_NAME}); drop --resume")
        self.pool = self._render_pool()  # the same renders (same seed); its rng comes from the state
        modules, optimizers, generators = self._state_parts()
        restored = load_state(path, modules, optimizers, resume_settings(self.cfg, self.data),
                              EXTENDABLE, generators)
        self.step = int(restored.progress["step"])
        self.history = list(restored.progress["history"])
        self.running = dict(restored.progress["running"])
        self.post_done = int(restored.progress.get("post_done", 0))
        self.post_decoder_done = int(restored.progress.get("post_decoder_done", 0))
        if self.reader is not None:
            freeze(self.reader)

    def save(self, step: int) -> None:
        """The training state first (what resume reads), then the weights and history.csv."""
        modules, optimizers, generators = self._state_parts()
        save_state(self.out / STATE_NAME, modules, optimizers,
                   {"step": step, "history": self.history, "running": self.running, "post_done": self.post_done,
                    "post_decoder_done": self.post_decoder_done},
                   resume_settings(self.cfg, self.data), generators)
        for model, name, (arch, over), role in ((self.g, G_NAME, self.g_spec, "generator"),
                                                (self.g_ema, EMA_NAME, self.g_spec, "generator"),
                                                (self.d, D_NAME, self.d_spec, "discriminator")):
            if model is not None:
                save_model(self.out / name, model, checkpoint_config(
                    arch, over, self.data, self.cfg, role, step, self.size))
        _write_history(self.out / "history.csv", self.history)

    def grid(self, step: int) -> None:
        """Write samples/step_NNNNNN.png (drawn by the moving average when there is one)."""
        path = self.out / "samples" / f"step_{step:06d}.png"
        save_image(path, sample_grid(self.g_ema or self.g, self.grid_humans, self.data.characters,
                                     self.size, seed=self.cfg.seed))
        self.samples.append(path)

    def _render_pool(self) -> RenderPool | None:
        """The (rig, character) -> render pairs of a rig-code G (same seed: same pool on resume)."""
        if (not self.g.cfg.rig_code or self.data.target_styles is None
                or (self.cfg.decoder_pretrain <= 0 and self.cfg.render_weight <= 0)):
            return None
        return RenderPool(self.data.target_styles, self.cfg.render_pool, self.size,
                          np.random.default_rng(self.cfg.seed + 17), self.cfg.render_focus,
                          self.cfg.render_focus_factor)

    def pretrain(self, quiet: bool) -> float:
        """Encoder, then decoder pretraining of a new run; returns their seconds."""
        if self.step:
            return 0.0
        t0 = time.perf_counter()
        if self.cfg.encoder_pretrain > 0 and self.g.expr_head is not None:
            pretrain_encoder(self.g, self.data, self.cfg, self.size, self.rng, quiet)
        self.pool = self._render_pool()
        if self.pool is not None and getattr(self.g, "landmark_head", None) is not None:
            self.g.set_landmarks(torch.from_numpy(self.pool.neutral_landmarks))  # resume: in the state
        if self.pool is not None and self.reader is not None:
            fit_rig_reader(self.pool, self.cfg.reader_steps, self.cfg.batch_size, reader=self.reader, quiet=quiet)
        if self.pool is not None and self.cfg.decoder_pretrain > 0:
            pretrain_decoder(self.g, self.pool, self.cfg, quiet, self.reader)
        if self.cfg.encoder_finetune > 0:
            finetune_encoder(self.g, self.data, self.cfg, self.size, self.rng, quiet)
        if self.g_ema is not None:
            self.g_ema.load_state_dict(self.g.state_dict())
        return time.perf_counter() - t0

    def post_train(self, quiet: bool) -> None:
        """After the GAN, on the exported G (the moving average when there is one): --post-decoder
        updates of its decoder on the render pool, then --post-finetune updates of its encoder +
        heads through the frozen decoder; a resumed finished run makes only the missing updates."""
        g = self.g_ema or self.g
        todo = self.cfg.post_decoder - self.post_decoder_done
        if todo > 0 and self.pool is not None:
            probs = rig_focus_probabilities(self.pool.rigs, self.cfg.post_decoder_focus, self.cfg.post_decoder_factor)
            cfg = dataclasses.replace(self.cfg, feature_gain=self.cfg.post_decoder_feature_gain)
            pretrain_decoder(g, self.pool, cfg, quiet, self.reader, todo, cfg.lr * cfg.post_decoder_lr_mult, probs)
            if g is self.g_ema:
                g.eval()
            self.post_decoder_done = self.cfg.post_decoder
        todo = self.cfg.post_finetune - self.post_done
        if todo <= 0:
            return
        probs = focus_probabilities(self.data.human_labels, self.cfg.post_focus, self.cfg.post_focus_factor)
        finetune_encoder(g, self.data, self.cfg, self.size, self.rng, quiet, todo, probs)
        if self.g_ema is not None:
            self.g_ema.eval()
        self.post_done = self.cfg.post_finetune

    def train_step(self, step: int) -> None:
        """One G+D update, the moving average, the running losses."""
        losses = train_step(self.g, self.d, self.opt_g, self.opt_d,
                            self.sampler.batch(self.cfg.batch_size), self.cfg, self.pool, self.reader)
        if self.g_ema is not None:
            update_ema(self.g_ema, self.g, ema_decay_at(self.cfg.ema_decay, step))
        for k, v in losses.items():
            self.running[k] = 0.9 * self.running.get(k, v) + 0.1 * v


def train_hagan(data: HaganData, cfg: HaganTrainConfig, out_dir: str | Path, resume: bool = False,
                quiet: bool = False, log_every: int = 25) -> TrainResult:
    """Train G and D on `data`; write checkpoints, training state, sample grids, history.csv.

    Files in `out_dir`: state.safetensors (the training state `resume=True` reads),
    hagan_g.safetensors/.json, hagan_g_ema.safetensors/.json, hagan_d.safetensors/.json,
    samples/step_NNNNNN.png, history.csv.
    """
    data.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, cfg.threads))
    run = HaganRun(data, cfg, out)
    if resume:
        run.resume()
    start = run.step
    pretrain_seconds = run.pretrain(quiet)
    t0 = time.perf_counter()
    bar = progress(range(start, cfg.steps), total=cfg.steps, initial=start, desc="hagan",
                   disable=True if quiet else None)
    for step in bar:
        run.train_step(step)
        done = step + 1
        if done % log_every == 0 or done == cfg.steps:
            run.history.append({"step": done, "seconds": round(time.perf_counter() - t0, 2),
                                **{k: round(v, 4) for k, v in run.running.items()}})
            bar.set_postfix(d=f"{run.running['loss_d']:.2f}", g=f"{run.running['loss_g']:.2f}",
                            acc=f"{run.running['de_acc_fake']:.2f}")
        if cfg.sample_every and done % cfg.sample_every == 0 and done != cfg.steps:
            run.grid(done)
        if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done != cfg.steps:
            run.save(done)
    seconds = time.perf_counter() - t0
    run.post_train(quiet)
    final = max(start, cfg.steps)
    run.grid(final)
    run.save(final)
    run.g.eval()
    run.d.eval()
    return TrainResult(out / G_NAME, out / D_NAME, final, seconds,
                       (final - start) / max(seconds, 1e-9), run.history, run.samples,
                       pretrain_seconds)


def _grid_humans(data: HaganData, per_class: int = 1) -> np.ndarray:
    """One face per expression (first occurrence), for a stable sample grid."""
    picks = []
    for e in range(len(EXPRESSIONS)):
        picks.extend(np.flatnonzero(data.human_labels == e)[:per_class].tolist())
    return data.human_images[picks]


def effective_pairing(cfg: HaganTrainConfig, data: HaganData) -> str:
    """cfg.pairing, except "rig" falls back to "expression" for human sets without rigs."""
    return "rig" if cfg.pairing == "rig" and data.can_pair_rigs else "expression"


def ema_decay_at(decay: float, step: int) -> float:
    """The moving average's decay at `step`: min(decay, (1 + step) / (10 + step)).

    A warm-up (TensorFlow's ExponentialMovingAverage with num_updates): with a fixed 0.999,
    after 800 steps 45% of the average would still be the random initial weights, and the
    averaged G of a short run draws noise.
    """
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BN statistics) copied."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p.detach(), 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def _write_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(rows[-1].keys())
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


__all__ = [
    "PAPER_ANGLES", "HaganData", "HaganRun", "HaganTrainConfig", "PairSampler", "TrainResult",
    "augment_human", "discriminator_loss", "expression_loss", "expression_medians", "export_bundle",
    "generate", "generator_adversarial_loss", "generator_loss", "human_view", "neutral_l1_loss",
    "finetune_encoder", "pretrain_decoder", "pretrain_encoder", "render_l1", "rig_loss",
    "sample_grid", "tile", "to_tensor", "to_uint8", "train_hagan", "train_step",
]
