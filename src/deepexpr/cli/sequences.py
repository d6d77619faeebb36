"""CLI of 3D expression sequences (paper 003).

    deepexpr sequences make --out data/sequences                 # SYNTHETIC corpus
    deepexpr train sequences --data data/sequences --expression all --out runs/seq
    deepexpr animate --expression surprise --format mp4 --out out/surprise
    deepexpr evaluate sequences --data data/sequences --models runs/seq
"""

from __future__ import annotations

import sys

from deepexpr.cli.options import (
    REQUIRED,
    SHARED_HELP,
    add_function_options,
    add_options,
    add_shared,
    config_from_args,
)
from deepexpr.cli.outputs import declare_outputs


def register(commands, groups) -> None:
    p = commands.add_parser("sequences", help="3D landmark sequence data (synthetic corpus)")
    sub = p.add_subparsers(dest="sequences_command", metavar="WHAT")
    p.set_defaults(func=lambda _a: (p.print_help(sys.stderr), 2)[1])
    m = sub.add_parser("make", help="write the SYNTHETIC 83-landmark corpus (not BU-4DFE)",
                       description="AU-driven sequences of one real face shape (mediapipe mesh "
                       "of skimage's astronaut photo), clearly labelled synthetic.")
    add_shared(m, out=REQUIRED, quiet=False)
    add_options(m, "deepexpr.data.synthetic_sequences:SynthConfig")
    declare_outputs(m, out="folder")
    m.set_defaults(func=run_make)

    t = groups["train"].add_parser("sequences", help="train per-expression landmark LSTMs")
    add_options(t, "deepexpr.train.sequences:SeqTrainConfig", required=("data",))
    t.add_argument("--export", default=None, metavar="DIR",
                   help="after training, write fp16 copies to DIR (e.g. src/deepexpr/weights)")
    declare_outputs(t, _sequence_run_files, overwrite=True, out="folder", export="folder")
    t.set_defaults(func=run_train)

    a = commands.add_parser("animate", help="animate a face mesh with a generated expression",
                            description="Generate a landmark sequence with the expression's LSTM "
                            "and carry it to every vertex with the RBF warp.")
    add_options(a, "deepexpr.animation.animate:AnimateConfig", required=("expression",), defaults={"out": None})
    declare_outputs(a, out="folder")
    a.set_defaults(func=run_animate)

    e = groups["evaluate"].add_parser("sequences", help="held-out error, baselines, classifier accuracy")
    e.add_argument("--data", required=True, help="corpus folder")
    e.add_argument("--models", default=None, help="folder of seq_<expr>.safetensors (default: bundled)")
    add_shared(e, out=None, quiet=False)
    declare_outputs(e, out="folder")
    add_function_options(e, "deepexpr.evaluation.sequences:evaluate_sequences", ("threads",),
                         helps={"threads": SHARED_HELP["threads"]})
    e.set_defaults(func=run_evaluate)


def _sequence_run_files(args) -> tuple[str, ...]:
    """The files of the expressions this `train sequences` would write (others may stay)."""
    from deepexpr.expressions import canonical

    try:
        names = [canonical(e) for e in args.expression.split(",") if e.strip() and e.strip() != "all"]
    except ValueError:
        names = []  # the trainer reports the unknown name
    names = names or ["*"]
    return tuple(f"seq_{e}{end}" for e in names for end in (".safetensors", ".state.safetensors"))


def run_make(args) -> int:
    from deepexpr.data.synthetic_sequences import SynthConfig, make_corpus

    m = make_corpus(args.out, config_from_args(SynthConfig, args), show_progress=not args.quiet)
    print(f"wrote {m['subjects']} SYNTHETIC subjects x {len(m['expressions'])} expressions "
          f"({m['frames_min']}-{m['frames_max']} frames) to {args.out}")
    return 0


def run_train(args) -> int:
    from deepexpr.train.sequences import SeqTrainConfig, train_sequences

    cfg = config_from_args(SeqTrainConfig, args)
    for r in train_sequences(cfg):
        val = "" if r["final_val"] is None else f", val {r['final_val']:.4f}"
        conv = ", converged at " + ", ".join(f"{k} epoch {v}" for k, v in r["converged"].items()) \
            if r["converged"] else ""
        print(f"{r['expression']}: {r['epochs']} epochs on {r['train_sequences']} sequences, "
              f"loss {r['final_mse']:.4f} (normalised){val}{conv}; {r['seconds']} s wall, "
              f"{r['cpu_seconds']} s CPU -> {r['weights']}")
    if args.export:
        from deepexpr.train.sequences import export_fp16

        for path in export_fp16(args.out, args.export):
            print(f"exported {path}")
    return 0


def run_animate(args) -> int:
    from deepexpr.animation.animate import AnimateConfig, animate

    cfg = config_from_args(AnimateConfig, args, out=args.out or f"animate_{args.expression}",
                           weights=_sequence_weights(args.weights, args.expression))
    for path in animate(cfg):
        print(path)
    return 0


def _sequence_weights(ref: str | None, expression: str) -> str | None:
    """`--weights` through the model resolver: a run folder gives its seq_<expression> file."""
    from deepexpr.expressions import canonical
    from deepexpr.models.resolve import weights_file

    try:
        expression = canonical(expression)
    except ValueError:
        return ref  # animate reports the unknown expression
    return weights_file(ref, run_file=f"seq_{expression}.safetensors", option="--weights")


def run_evaluate(args) -> int:
    from deepexpr.evaluation.sequences import evaluate_sequences, format_table

    report = evaluate_sequences(args.data, args.models, out=args.out, threads=args.threads,
                                show_progress=not args.quiet)
    print(format_table(report))
    return 0
