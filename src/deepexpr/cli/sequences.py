"""CLI of 3D expression sequences (paper 003).

    deepexpr sequences make --out data/sequences                 # SYNTHETIC corpus
    deepexpr train sequences --data data/sequences --expression all --out runs/seq
    deepexpr animate --expression surprise --format mp4 --out out/surprise
    deepexpr evaluate sequences --data data/sequences --models runs/seq
"""

from __future__ import annotations

import sys


def register(commands, groups) -> None:
    p = commands.add_parser("sequences", help="3D landmark sequence data (synthetic corpus)")
    sub = p.add_subparsers(dest="sequences_command", metavar="WHAT")
    p.set_defaults(func=lambda _a: (p.print_help(sys.stderr), 2)[1])
    m = sub.add_parser("make", help="write the SYNTHETIC 83-landmark corpus (not BU-4DFE)",
                       description="AU-driven sequences of one real face shape (mediapipe mesh "
                       "of skimage's astronaut photo), clearly labelled synthetic.")
    m.add_argument("--out", required=True, help="output folder")
    m.add_argument("--subjects", type=int, default=100, help="synthetic subjects (default 100)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--format", dest="fmt", choices=["npy", "bnd"], default="npy",
                   help="npy: one (T,83,3) file per sequence; bnd: one text file per frame")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=run_make)

    t = groups["train"].add_parser("sequences", help="train per-expression landmark LSTMs")
    t.add_argument("--data", required=True, help="corpus folder (SUBJECT/EXPRESSION[.npy])")
    t.add_argument("--expression", default="all", help="an expression or 'all' (default)")
    t.add_argument("--out", default="runs/sequences", help="checkpoint folder")
    t.add_argument("--model", default="seqlstm",
                   help="seqlstm (paper 3x128), seqlstm_small (3x64, bundled), test_seqlstm")
    t.add_argument("--epochs", type=int, default=300,
                   help="teacher-forced epochs (the paper's training)")
    t.add_argument("--free-run-epochs", type=int, default=0,
                   help="then epochs of free-running training: the model is unrolled on its own "
                   "outputs, MSE on the whole sequence (fixes exposure bias; default 0)")
    t.add_argument("--early-stop", action="store_true",
                   help="stop each phase at convergence: validation loss not improved by more "
                   "than --min-improvement for --patience epochs; best weights kept")
    t.add_argument("--patience", type=int, default=15)
    t.add_argument("--min-improvement", type=float, default=0.01,
                   help="relative improvement of the validation loss that counts (default 0.01)")
    t.add_argument("--neutral-jitter", type=float, default=0.0, metavar="MM",
                   help="std of noise added to the conditioning neutral face in training (mm; "
                   "regularises against memorising training faces; default 0)")
    t.add_argument("--val-every", type=int, default=8,
                   help="with --early-stop, every N-th training subject validates (default 8)")
    t.add_argument("--batch-size", type=int, default=5, help="paper: 5")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (paper: 1e-3)")
    t.add_argument("--time-limit", type=float, default=0.0,
                   help="seconds per expression, then checkpoint and stop (0: none)")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from checkpoints in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--export", default=None, metavar="DIR",
                   help="after training, write fp16 copies to DIR (e.g. src/deepexpr/weights)")
    t.set_defaults(func=run_train)

    a = commands.add_parser("animate", help="animate a face mesh with a generated expression",
                            description="Generate a landmark sequence with the expression's LSTM "
                            "and carry it to every vertex with the RBF warp.")
    a.add_argument("--expression", required=True, help="anger, disgust, fear, joy, sadness, surprise")
    a.add_argument("--mesh", default=None, help="OBJ/PLY/GLB mesh (default: the project's face, ~10k vertices)")
    a.add_argument("--landmarks", default=None,
                   help="83 landmarks of --mesh: .txt/.bnd with 83 vertex indices or 83 'x y z' lines, or .npy")
    a.add_argument("--frames", type=int, default=None, help="frames to write (default: the generated length)")
    a.add_argument("--weights", default=None, help="a seq_<expr>.safetensors (default: bundled)")
    a.add_argument("--out", default=None, help="output folder (default: animate_<expression>)")
    a.add_argument("--format", default="mp4", choices=["obj", "glb", "mp4", "gif"])
    a.add_argument("--no-falloff", action="store_true", help="plain RBF (no boundary falloff)")
    a.add_argument("--size", type=int, default=320, help="preview video size in pixels (multiple of 16)")
    a.add_argument("--condition", default="face", choices=["face", "mean"],
                   help="neutral shown to the LSTM: the mesh's own landmarks (default) or the "
                   "training mean shape")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=run_animate)

    e = groups["evaluate"].add_parser("sequences", help="held-out error, baselines, classifier accuracy")
    e.add_argument("--data", required=True, help="corpus folder")
    e.add_argument("--models", default=None, help="folder of seq_<expr>.safetensors (default: bundled)")
    e.add_argument("--out", default=None, help="write report.json and report.md here")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=run_evaluate)


def run_make(args) -> int:
    from deepexpr.animation.synth import SynthConfig, make_corpus
    from deepexpr.errors import InputError

    if args.subjects < 1:
        raise InputError("--subjects: must be at least 1")
    m = make_corpus(args.out, SynthConfig(subjects=args.subjects, seed=args.seed, fmt=args.fmt),
                    show_progress=not args.quiet)
    print(f"wrote {m['subjects']} SYNTHETIC subjects x {len(m['expressions'])} expressions "
          f"({m['frames_min']}-{m['frames_max']} frames) to {args.out}")
    return 0


def run_train(args) -> int:
    from deepexpr.train.sequences import SeqTrainConfig, train_sequences

    cfg = SeqTrainConfig(data=args.data, expression=args.expression, out=args.out,
                         model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, time_limit=args.time_limit, threads=args.threads,
                         seed=args.seed, resume=args.resume, show_progress=not args.quiet,
                         free_run_epochs=args.free_run_epochs, early_stop=args.early_stop,
                         patience=args.patience, min_improvement=args.min_improvement,
                         val_every=args.val_every, neutral_jitter=args.neutral_jitter)
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

    cfg = AnimateConfig(expression=args.expression, mesh=args.mesh, landmarks=args.landmarks,
                        frames=args.frames, weights=args.weights,
                        out=args.out or f"animate_{args.expression}", fmt=args.format,
                        falloff=not args.no_falloff, size=args.size, condition=args.condition,
                        show_progress=not args.quiet)
    for path in animate(cfg):
        print(path)
    return 0


def run_evaluate(args) -> int:
    from deepexpr.evaluation.sequences import evaluate_sequences, format_table

    report = evaluate_sequences(args.data, args.models, out=args.out, threads=args.threads,
                                show_progress=not args.quiet)
    print(format_table(report))
    return 0
