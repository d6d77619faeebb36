"""The training configuration: one typed dataclass, saved into every checkpoint's JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from deepexpr.errors import InputError, check_settings, setting

# Each optimizer's rate when none is given: SGD the paper's 0.01 (from scratch), Adam the
# 1e-3 Kingma & Ba suggest (SGD's 0.01 is ten times that).
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3}


@dataclass
class TrainConfig:
    # model
    model: str = setting("cnn_small", "registered architecture")
    overrides: dict = field(default_factory=dict)  # config overrides passed to create_model
    # input (becomes the checkpoint's "preprocess" for prepare_batch)
    size: int = setting(64, "square input side in pixels; images are resized to it once and cached "
                        "(the CLI's default: the model's own)", min=8, max=1024)
    grayscale: bool = False  # one luminance channel instead of RGB
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per-channel mean, [0,1] units
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per-channel std
    # optimisation: the paper's SGD schedule by default
    epochs: int = setting(30, "passes over the training set", min=1, max=100_000)
    batch_size: int = setting(50, "images per step (the paper's 50)", min=1, max=100_000)
    lr: float | None = setting(None, "base learning rate (default: the optimizer's: sgd 0.01 as the paper, "
                               "adam 0.001; transfer 0.001)", above=0)
    optimizer: str = setting("sgd", "sgd: the paper's (momentum 0.9, weight decay 5e-4); adam: faster start",
                             choices=("sgd", "adam"))
    momentum: float = setting(0.9, "SGD momentum (Adam: beta1)", min=0, max=1)
    weight_decay: float = setting(5e-4, "L2 weight decay", min=0)
    lr_step: int = setting(10, "divide the rate by 1/--lr-gamma every N epochs", min=1)
    lr_gamma: float = setting(0.1, "factor applied every --lr-step epochs", above=0, max=1)
    schedule: str = setting("step", "step: the paper's decay (--lr-step); cosine: anneal to 0 over --epochs",
                            choices=("step", "cosine"))
    label_smoothing: float = setting(0.0, "cross-entropy label smoothing (0: the paper's loss)", min=0, max=0.99)
    head_lr_mult: float = setting(10.0, "rate multiplier of the newly initialised last layer", min=0)
    new_head: bool = setting(True, "keep the source's last layer (continue training a character model)",
                             flag="--keep-head")
    unfreeze: int = setting(1, "layers before the new last layer to fine-tune (0: head only, -1: all)", min=-1)
    # data
    augment: str = setting("random", "fivecrop: the paper's 5 crops + mirrors; random: shift + mirror; "
                           "mild: small rotation/zoom/shift + colour jitter + mirror; style: art-style "
                           "changes (framing, hue, grey, blur, JPEG, cutout); stylecue: style with hue "
                           "turns of at most 30 degrees (colour cues of expression kept)",
                           choices=("fivecrop", "random", "mild", "style", "stylecue", "flip", "none"))
    balance: str = setting("loss", "class balancing: loss weights, balanced sampler, or none",
                           choices=("loss", "sampler", "none"))
    val_fraction: float = setting(0.1, "part of the training identities' images held out for per-epoch "
                                  "validation, in [0, 1)", min=0)
    test_fraction: float = setting(0.1, "random protocol: part of all images held out for the final test, "
                                   "in (0, 1)", above=0)
    # run
    seed: int = setting(0, "seeds splits, sampling, augmentation and initialisation")
    threads: int = setting(0, "torch threads (0: torch's default)", min=0)
    channels_last: bool = setting(True, "memory format for conv nets (faster on CPU for small nets)", cli=False)
    max_steps_per_epoch: int = setting(0, "cut epochs short after N steps (0: no cut; smoke tests)", min=0)
    cache_features: bool = setting(True, "transfer: precompute the frozen layers' output once", cli=False)
    feature_views: int = setting(4, "cached views per training image (original, mirror, augmented ones)",
                                 min=1, cli=False)

    def __post_init__(self):
        if self.lr is None and self.optimizer in DEFAULT_LR:
            self.lr = DEFAULT_LR[self.optimizer]
        check_settings(self)
        if self.val_fraction >= 1 or self.test_fraction >= 1:
            raise InputError("--val-fraction must be in [0, 1) and --test-fraction in (0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def preprocess(self) -> dict:
        """The dict `deepexpr.models.preprocess.prepare_batch` takes."""
        c = 1 if self.grayscale else 3
        return {"size": self.size, "grayscale": self.grayscale,
                "mean": list(self.mean)[:c], "std": list(self.std)[:c]}
