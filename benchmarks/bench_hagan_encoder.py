"""HA-GAN: G's encoder alone, retrained with other losses under a FIXED decoder (issue 18, session 9).

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/bench_hagan_encoder.py [WEIGHTS] \
        --variant base: --variant au9:rig_au_weights=AU9=4,AU10=4 \
        --variant ft:encoder_finetune=300 [--people-seed 2000] [--out reports/encoder.json]

The decoder of WEIGHTS (default: the bundled G) stays as it is; each variant trains a fresh
encoder + expression and rig heads (same init seed) with `pretrain_encoder` (and
`finetune_encoder` when `encoder_finetune` > 0) on the training data of `deepexpr train
hagan` (64 stand-in people, seed 0), with `HaganTrainConfig` settings overridden by the
variant (`key=value;key=value`). Variants with the same pretraining settings share it.
Then on never-seen people (seed 2000 = validation people to pick on; 1000 = the reported
ones of `deepexpr evaluate hagan --folds 0 --heldout-identities 6 --seed 4242`), 6 people x
4 frames x 7 expressions x every target character: the independent judge's accuracy on G's
drawings (per expression; disgust read as anger and back), the encoder's expression head,
its rig error per AU (MSE, normalised units) and Pearson r for AU4/9/10, the L1 to the ideal
drawing. Row "bundled": the weights' own encoder (pretraining + the GAN's 300 steps).
No GAN steps here: a variant's figures are what its encoder gives this decoder. Stand-in only.
"""
import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from deepexpr.characters import standin_humans
from deepexpr.characters.rig import AUS, RIG_CONTROLS
from deepexpr.data.hagan import rig_targets, to_tensor
from deepexpr.data.standin import (
    StandinConfig,
    build_standin_data,
    render_humans,
    render_paired,
    target_styles,
)
from deepexpr.evaluation.hagan import CharacterJudge
from deepexpr.models.hagan_pair import load_hagan
from deepexpr.models.registry import create_model
from deepexpr.train.hagan import HaganTrainConfig
from deepexpr.train.hagan_encoder import ENCODER_PARTS, finetune_encoder, pretrain_encoder

PRETRAIN_KEYS = ("encoder_pretrain", "rig_au_weights", "rig_weight", "cls_weight", "encoder_lr_mult", "seed")


def parse_variant(text: str, base: dict) -> tuple[str, HaganTrainConfig]:
    name, _, rest = text.partition(":")
    over = {}
    for item in filter(None, rest.split(";")):
        key, _, value = item.partition("=")
        kind = type(base[key])
        over[key] = value if kind is str else kind(float(value)) if kind is int else kind(value)
    return name, HaganTrainConfig(**{**base, **over})


def fresh_encoder(model, seed: int):
    """A copy of model's G whose encoder and heads are newly initialised (seeded)."""
    torch.manual_seed(seed)
    g = create_model(model.config["model"], **model.config["overrides"])
    state = model.generator.state_dict()
    init = g.state_dict()
    g.load_state_dict({k: init[k] if k.startswith(ENCODER_PARTS) else v for k, v in state.items()})
    return g.float()


def evaluate(model, g, judge, held: dict) -> dict:
    m = dataclasses.replace(model, generator=g.eval())
    n = len(model.characters)
    drawn = np.concatenate([m.run(held["faces"], [c] * len(held["faces"]), seed=0)[0] for c in range(n)])
    y = np.tile(held["labels"], n)
    p = judge.probs(drawn).argmax(1)
    cls = model.classes
    out = {"judge": float(np.mean(p == y))}
    out.update({f"judge_{cls[e]}": float(np.mean(p[y == e] == e)) for e in range(7)})
    dis, ang = cls.index("disgust"), cls.index("anger")
    out["disgust_as_anger"] = int(np.sum((y == dis) & (p == ang)))
    out["anger_as_disgust"] = int(np.sum((y == ang) & (p == dis)))
    with torch.inference_mode():
        from deepexpr.data.hagan import human_view

        code = g.encode(to_tensor(human_view(held["faces"], model.image_size)))
        out["head_acc"] = float((g.expression(code).argmax(1).numpy() == held["labels"]).mean())
        rig = g.rig(code).numpy()
    true = held["rig_targets"]
    err = ((rig - true) ** 2).mean(0)
    out["rig_mse_aus"] = float(err[: len(AUS)].mean())
    out.update({f"mse_{c}": float(err[RIG_CONTROLS.index(c)]) for c in ("AU4", "AU9", "AU10", "AU12")})
    for c in ("AU4", "AU9", "AU10"):
        i = RIG_CONTROLS.index(c)
        out[f"r_{c}"] = float(np.corrcoef(rig[:, i], true[:, i])[0, 1])
    out["l1_ideal"] = float(np.abs(drawn.astype(np.float32) - held["ideal"].astype(np.float32)).mean() / 127.5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default=None, help="generator checkpoint or run folder (default: bundled)")
    ap.add_argument("--variant", action="append", default=[], help="NAME:key=value;key=value (HaganTrainConfig)")
    ap.add_argument("--people-seed", type=int, default=2000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_hagan(args.weights)
    train_cfg = dict(model.config["train"])
    defaults = HaganTrainConfig().to_dict()  # settings newer than the weights keep their defaults
    base = {**defaults, **{k: v for k, v in train_cfg.items() if k in defaults}}
    styles = target_styles(model.characters)
    people = standin_humans(6, seed=args.people_seed)
    faces, labels, _, rigs = render_humans(people, 4, model.load_size, 128, seed=args.people_seed, with_rigs=True)
    ideal = np.concatenate([render_paired(styles, rigs, np.full(len(rigs), c), model.image_size)
                            for c in range(len(styles))])
    held = {"faces": faces, "labels": labels, "rig_targets": rig_targets(rigs), "ideal": ideal}
    judge = CharacterJudge()
    results = {"weights": str(model.path), "people_seed": args.people_seed, "variants": {}}
    results["variants"]["bundled"] = evaluate(model, model.generator, judge, held)
    print("bundled", json.dumps({k: round(v, 4) for k, v in results["variants"]["bundled"].items()}), flush=True)
    data = build_standin_data(StandinConfig(characters=tuple(model.characters), identities=64,
                                            image_size=model.image_size, load_size=model.load_size,
                                            seed=int(train_cfg.get("seed", 0))))
    pretrained: dict[tuple, dict] = {}
    for text in args.variant:
        name, cfg = parse_variant(text, base)
        t0 = time.process_time()
        key = tuple(getattr(cfg, k) for k in PRETRAIN_KEYS)
        g = fresh_encoder(model, cfg.seed)
        if key in pretrained:
            g.load_state_dict(pretrained[key])
        else:
            pretrain_encoder(g, data, cfg, model.image_size, np.random.default_rng(cfg.seed))
            pretrained[key] = {k: v.clone() for k, v in g.state_dict().items()}
        if cfg.encoder_finetune > 0:
            finetune_encoder(g, data, cfg, model.image_size, np.random.default_rng(cfg.seed + 1))
        res = evaluate(model, g, judge, held)
        res["cpu_seconds"] = round(time.process_time() - t0, 1)
        results["variants"][name] = {"settings": text, **res}
        print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}), flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
