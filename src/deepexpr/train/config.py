"""The training configuration: one typed dataclass, saved into every checkpoint's JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainConfig:
    # model
    model: str = "cnn_small"  # registered architecture name
    overrides: dict = field(default_factory=dict)  # config overrides passed to create_model
    # input (becomes the checkpoint's "preprocess" for prepare_batch)
    size: int = 64  # square input side in pixels; images are resized to it once and cached
    grayscale: bool = False  # one luminance channel instead of RGB
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per-channel mean, [0,1] units
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])  # per-channel std
    # optimisation: the paper's SGD schedule by default
    epochs: int = 30  # passes over the training set
    batch_size: int = 50  # the paper's batch size
    lr: float = 0.01  # base learning rate (paper: 0.01 from scratch, 0.001 for transfer)
    optimizer: str = "sgd"  # "sgd" (the paper's) or "adam" (faster start on small CPU runs)
    momentum: float = 0.9  # SGD momentum (Adam: beta1)
    weight_decay: float = 5e-4  # L2 weight decay
    lr_step: int = 10  # divide the rate by 1/lr_gamma every lr_step epochs
    lr_gamma: float = 0.1  # factor applied every lr_step epochs
    schedule: str = "step"  # "step" (the paper's, lr_step/lr_gamma) or "cosine" (per-step annealing to 0)
    label_smoothing: float = 0.0  # cross-entropy label smoothing (0: the paper's plain loss)
    head_lr_mult: float = 10.0  # transfer: rate multiplier of the newly initialised last layer
    new_head: bool = True  # transfer: re-initialise the last layer (False: keep it, continue training)
    unfreeze: int = 1  # transfer: how many layers before the new head are fine-tuned (0: head only, -1: all)
    # data
    augment: str = "random"  # "fivecrop" (paper: 5 crops 227/256 + mirrors), "random" (shift+flip),
    #   "mild" (small rotation/scale/shift + brightness/contrast/saturation + flip), "flip", "none"
    balance: str = "loss"  # "loss" (inverse-frequency class weights), "sampler" (balanced sampling), "none"
    val_fraction: float = 0.1  # part of the training identities' images held out for per-epoch validation
    test_fraction: float = 0.1  # "random" protocol: part of all images held out for the final test
    # run
    seed: int = 0  # seeds splits, sampling, augmentation and initialisation
    threads: int = 0  # torch threads (0: leave torch's default)
    channels_last: bool = True  # memory format for conv nets (faster on CPU for small nets)
    max_steps_per_epoch: int = 0  # >0: cut epochs short (smoke tests, benchmarks)
    cache_features: bool = True  # transfer: precompute the frozen layers' output once (train/cached.py)
    feature_views: int = 4  # cached views per training image (original, mirror, augmented ones)

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
