"""`deepexpr index build`, `retrieve`, `evaluate retrieval|ranking` through main([...]) with tiny fakes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from deepexpr.cli import main
from deepexpr.errors import InputError
from deepexpr.retrieval import embed
from retrieval_fakes import FakeRecognizer, character_image, landmarks_for, make_ferg_tree


@pytest.fixture()
def fakes(monkeypatch, tmp_path):
    """Fake models for both domains and a fake face detector (one face per image, none if blank)."""
    models = {"character": FakeRecognizer(seed=0), "human": FakeRecognizer(seed=0)}
    models["human"].name = "fake-human"
    other = FakeRecognizer(seed=9)

    def load(domain, model=None):
        return other if model == "other" else models[domain]

    def detect(image, source=""):
        image = np.asarray(image)
        if image.std() < 1:
            raise InputError(f"{source or 'image'}: no face found; pass a photo with a visible face")
        return [SimpleNamespace(box=[0, 0, image.shape[1], image.shape[0]], aligned=image,
                                aligned_landmarks=landmarks_for(3, np.random.default_rng(0)))]

    monkeypatch.setattr(embed, "load_recognizer_for", load)
    monkeypatch.setattr(embed, "detect", detect)
    root = tmp_path / "chars"
    make_ferg_tree(root, per_class=2)
    return SimpleNamespace(root=root, tmp=tmp_path, models=models)


def test_index_build_retrieve_and_sheet(fakes, capsys):
    idx = fakes.tmp / "chars.safetensors"
    assert main(["index", "build", "--data", str(fakes.root), "--out", str(idx)]) == 0
    assert "42 images" in capsys.readouterr().out
    assert main(["index", "build", "--data", str(fakes.root), "--out", str(idx)]) == 0  # incremental
    text = capsys.readouterr().out
    assert "0 embedded" in text and "42 reused" in text
    assert main(["index", "info", str(idx)]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 42
    photo = fakes.tmp / "photo.png"
    Image.fromarray(character_image(3, np.random.default_rng(1), size=64)).save(photo)
    out_json, sheet = fakes.tmp / "r.json", fakes.tmp / "r.png"
    code = main(["retrieve", str(photo), "--index", str(idx), "--per-character", "--top", "2",
                 "--json", str(out_json), "--sheet", str(sheet)])
    assert code == 0
    table = capsys.readouterr().out
    assert "matched label joy" in table
    result = json.loads(out_json.read_text())
    by_char = result["queries"][0]["by_character"]
    assert set(by_char) == {"aia", "bob", "cy"} and all(m["label"] == "joy" for v in by_char.values() for m in v)
    assert Image.open(sheet).size[0] > 300
    # the JSON output is itself a precomputed-embedding query
    assert main(["retrieve", str(out_json), "--index", str(idx), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)["queries"][0]
    assert again["matched_label"] == "joy" and again["matches"][0]["row"] == result["queries"][0]["matches"][0]["row"]
    html = fakes.tmp / "r.html"
    assert main(["retrieve", str(photo), "--index", str(idx), "--format", "json", "--sheet", str(html)]) == 0
    assert json.loads(capsys.readouterr().out)["queries"][0]["matched_label"] == "joy"
    assert "data:image/png;base64" in html.read_text()
    # character query (reverse direction machinery: character model embeds the query)
    char_img = next((fakes.root / "bob" / "bob_sadness").glob("*.png"))
    assert main(["retrieve", str(char_img), "--index", str(idx), "--query-domain", "character"]) == 0
    assert "matched label sadness" in capsys.readouterr().out


def test_retrieve_bad_inputs(fakes, capsys):
    idx = fakes.tmp / "chars.safetensors"
    assert main(["index", "build", "--data", str(fakes.root), "--out", str(idx)]) == 0
    blank = fakes.tmp / "blank.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(blank)
    junk = fakes.tmp / "junk.jpg"
    junk.write_text("not an image")
    capsys.readouterr()
    assert main(["retrieve", str(blank), "--index", str(idx)]) == 2
    assert "no face found" in capsys.readouterr().err
    assert main(["retrieve", str(junk), "--index", str(idx)]) == 2
    assert "not a readable image" in capsys.readouterr().err
    good = fakes.tmp / "good.png"
    Image.fromarray(character_image(0, np.random.default_rng(2))).save(good)
    assert main(["retrieve", str(good), str(blank), "--index", str(idx)]) == 1  # one good, one bad
    assert main(["retrieve", str(good), "--index", str(fakes.tmp / "missing.safetensors")]) == 2
    assert "index not found" in capsys.readouterr().err
    # an index built by another model is refused
    assert main(["retrieve", str(good), "--index", str(idx), "--query-domain", "character", "--model", "other"]) == 2
    assert "built with model" in capsys.readouterr().err
    assert main(["retrieve", str(good), "--index", str(idx), "--index-model", "other"]) == 2
    assert main(["index", "build", "--data", str(fakes.tmp / "nope"), "--out", str(idx)]) == 2


def test_evaluate_retrieval_and_ranking(fakes, capsys, tmp_path):
    idx = fakes.tmp / "chars.safetensors"
    assert main(["index", "build", "--data", str(fakes.root), "--out", str(idx)]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", "retrieval", "--index", str(idx), "--queries", str(idx),
                 "--exclude-same-character", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| expression |" in text and "deepexpr[evidence]" in text and "deepexpr[softmax]" in text
    assert (out / "retrieval_scores.csv").is_file() and (out / "retrieval_scores.png").is_file()
    rows = (out / "retrieval_scores.csv").read_text().splitlines()
    avg = dict(zip(rows[0].split(","), rows[-1].split(",")))
    assert float(avg["deepexpr[softmax]"]) < 0.05  # colour-coded toy data is easy
    csv_path = tmp_path / "rank.csv"
    csv_path.write_text("query,ranker,c1,c2,c3,c4,c5\n"
                        "q1,expert,a,b,c,d,e\nq1,deepexpr,a,b,c,e,d\n"
                        "q2,expert,a,b,c,d,e\nq2,deepexpr,e,d,c,b,a\n")
    assert main(["evaluate", "ranking", "--rankings", str(csv_path), "--out", str(tmp_path / "r.csv")]) == 0
    text = capsys.readouterr().out
    assert "expert" in text and "0.500" in text  # same best in one of two queries
    bad = tmp_path / "bad.csv"
    bad.write_text("q1,expert,a\n")
    assert main(["evaluate", "ranking", "--rankings", str(bad)]) == 2


def test_reverse_direction_character_query_against_human_index(fakes, capsys):
    """Human photos in <class>/ folders -> human index; a character image queries it."""
    rng = np.random.default_rng(3)
    photos = fakes.tmp / "humans"
    for label, expr in enumerate(["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]):
        (photos / expr).mkdir(parents=True)
        for n in range(2):
            Image.fromarray(character_image(label, rng, size=48)).save(photos / expr / f"s{n}_{expr}.png")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(photos / "joy" / "blank.png")  # no face: skipped
    idx = fakes.tmp / "humans.safetensors"
    assert main(["index", "build", "--data", str(photos), "--out", str(idx), "--domain", "human"]) == 1
    err = capsys.readouterr().err
    assert "blank.png" in err and "no face" in err
    query = next((fakes.root / "cy" / "cy_surprise").glob("*.png"))
    assert main(["retrieve", str(query), "--index", str(idx), "--query-domain", "character",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["queries"][0]["matches"][0]["label"] == "surprise"


def test_checkpoint_recognizer_builds_an_index(tmp_path, capsys, make_checkpoint):
    """A project checkpoint works as the embedding model (`--model PATH`)."""
    from deepexpr.recognition import from_checkpoint

    ckpt = make_checkpoint(tmp_path / "tiny.safetensors", model="test_cnn_small")
    rec = from_checkpoint(ckpt)
    feats, probs = rec.features_and_probs([np.zeros((40, 40, 3), np.uint8)])
    assert feats.shape[0] == 1 and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert rec.classifier_weight.shape == (7, feats.shape[1])
    root = tmp_path / "chars"
    make_ferg_tree(root, characters=("aia",), per_class=1)
    out = tmp_path / "i.safetensors"
    assert main(["index", "build", "--data", str(root), "--out", str(out), "--model", str(ckpt)]) == 0
    assert "7 images" in capsys.readouterr().out


def test_evaluate_ranking_computes_the_system_order(fakes, capsys, tmp_path):
    idx = fakes.tmp / "chars.safetensors"
    assert main(["index", "build", "--data", str(fakes.root), "--out", str(idx)]) == 0
    query = next((fakes.root / "aia" / "aia_joy").glob("*.png"))
    # a person's order: the two joy frames of bob first, then other expressions
    cands = ["bob_joy_1.png", "bob_joy_2.png", "bob_anger_1.png", "bob_fear_1.png", "bob_sadness_1.png"]
    csv_path = tmp_path / "rank.csv"
    csv_path.write_text("query,ranker,c1,c2,c3,c4,c5\n" + f"{query},expert," + ",".join(cands) + "\n")
    capsys.readouterr()
    assert main(["evaluate", "ranking", "--rankings", str(csv_path), "--index", str(idx),
                 "--query-domain", "character", "--out", str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    assert "| expert | 1 |" in out
    rows = (tmp_path / "r.csv").read_text().splitlines()
    rho = float(rows[1].split(",")[2])
    assert rho > 0.5  # DeepExpr also puts the two joy frames first
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{query},expert,nope.png,bob_joy_1.png\n")
    assert main(["evaluate", "ranking", "--rankings", str(bad), "--index", str(idx),
                 "--query-domain", "character"]) == 2
