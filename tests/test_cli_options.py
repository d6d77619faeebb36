"""CLI options generated from the config dataclasses, the model-reference resolver, and the
CLI's error path (exit codes, one line, --debug)."""

from __future__ import annotations

import argparse
import dataclasses
import errno

import pytest

from deepexpr.cli import build_parser, main
from deepexpr.cli.options import field_default
from deepexpr.errors import DataError, InputError
from deepexpr.models.resolve import WEIGHTS_DIR, resolve_model, weights_file


def _walk(parser, path=()):
    """(command path, parser) of every parser, its deferred config options added."""
    parser.materialize()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


def test_every_generated_default_is_the_config_default():
    checked = 0
    for path, parser in _walk(build_parser()):
        for action in parser._actions:
            source = getattr(action, "config_field", None)
            if source is None:
                continue
            config_cls, name, command_specific = source
            if command_specific:
                continue
            field = next(f for f in dataclasses.fields(config_cls) if f.name == name)
            shown = action.default
            if isinstance(shown, str) and callable(action.type):
                shown = action.type(shown)
            assert shown == field_default(field), f"deepexpr {' '.join(path)} {action.option_strings}"
            checked += 1
    assert checked > 100


def test_options_from_function_signatures_keep_their_defaults():
    import inspect

    checked = 0
    for path, parser in _walk(build_parser()):
        for action in parser._actions:
            if getattr(action, "function_param", None):
                function, name = action.function_param
                assert action.default == inspect.signature(function).parameters[name].default, path
                checked += 1
    assert checked >= 8  # characters render/sheet, index build, evaluate sequences


def test_every_command_has_generated_options():
    commands = {" ".join(path) for path, parser in _walk(build_parser())
                if any(getattr(a, "config_field", None) for a in parser._actions)}
    for command in ("train hagan", "train human", "train transfer", "train sequences", "evaluate hagan",
                    "sequences make", "animate", "retrieve", "evaluate ranking", "demo"):
        assert command in commands


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "hagan", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    from deepexpr.train.hagan import HaganTrainConfig

    defaults = HaganTrainConfig()
    assert "--batch-size BATCH_SIZE" in out
    for value in (defaults.batch_size, defaults.encoder_pretrain):
        assert f"(default: {value})" in out


# ---- bad values: exit 2, one line, nothing written -------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["train", "character", "--data", "D", "--out", "{out}", "--batch-size", "0"], "--batch-size"),
    (["train", "character", "--data", "D", "--out", "{out}", "--lr", "-1"], "--lr"),
    (["train", "human", "--data", "D", "--out", "{out}", "--epochs", "0"], "--epochs"),
    (["train", "sequences", "--data", "D", "--out", "{out}", "--epochs", "0"], "--epochs"),
    (["train", "hagan", "--out", "{out}", "--batch-size", "0"], "--batch-size"),
    (["animate", "--expression", "joy", "--out", "{out}", "--size", "0"], "--size"),
    (["animate", "--expression", "joy", "--out", "{out}", "--frames", "50000"], "--frames"),
    (["demo", "--out", "{out}", "--top", "0"], "--top"),
    (["retrieve", "x.png", "--index", "{out}", "--top", "0"], "--top"),
    (["characters", "new", "--seed", "1", "--out", "{out}.json", "--index", "100000000"], "--index"),
    (["evaluate", "recognition", "--model", "no_such_model", "--data", "D", "--out", "{out}"], "--model"),
])
def test_bad_values_are_one_line_exit_2(argv, option, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([a.replace("{out}", str(out)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option in err[0] and "Traceback" not in err[0]
    assert not list(tmp_path.iterdir())


# ---- the resolver ------------------------------------------------------------------------------

def test_resolver_kinds(tmp_path):
    assert resolve_model("test_cnn_small", kinds=("architecture",)).kind == "architecture"
    bundled = resolve_model("character_cnn")
    assert (bundled.kind, bundled.path) == ("bundled", WEIGHTS_DIR / "character_cnn.safetensors")
    ckpt = tmp_path / "mine.safetensors"
    ckpt.write_bytes(b"")
    assert resolve_model(ckpt).kind == "file" and weights_file(str(ckpt)) == str(ckpt)
    run = tmp_path / "run"
    run.mkdir()
    (run / "seq_joy.safetensors").write_bytes(b"")
    ref = resolve_model(run, run_file="seq_joy.safetensors")
    assert (ref.kind, ref.path) == ("run", run / "seq_joy.safetensors")
    (run / "hagan_g.safetensors").write_bytes(b"")
    (run / "hagan_g_ema.safetensors").write_bytes(b"")
    assert resolve_model(run, run_file=("hagan_g_ema.safetensors", "hagan_g.safetensors")).path.name == \
        "hagan_g_ema.safetensors"
    assert weights_file(None) is None


def test_resolver_refuses_with_what_is_accepted(tmp_path):
    with pytest.raises(InputError, match="accepted: .*bundled name.*character_cnn.*run folder") as err:
        resolve_model("no_such_thing")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="architecture"):
        resolve_model("character_cnn", kinds=("architecture",))  # weights are not an architecture
    with pytest.raises(InputError, match="folder has no model.safetensors"):
        resolve_model(tmp_path)


def test_animate_weights_from_a_run_folder(tmp_path):
    from deepexpr.cli.sequences import _sequence_weights

    (tmp_path / "seq_joy.safetensors").write_bytes(b"")
    assert _sequence_weights(str(tmp_path), "happy") == str(tmp_path / "seq_joy.safetensors")
    assert _sequence_weights("seq_fear", "fear") == str(WEIGHTS_DIR / "seq_fear.safetensors")


def test_recognizer_model_names_go_through_the_resolver(tmp_path):
    from deepexpr.cli.perception import recognizer_model

    assert recognizer_model("character_cnn") == str(WEIGHTS_DIR / "character_cnn.safetensors")
    assert recognizer_model("hagan") == "hagan"  # a plug-in recognizer, left to its loader
    with pytest.raises(InputError, match="accepted"):
        recognizer_model(str(tmp_path / "missing.safetensors"))


# ---- the error path --------------------------------------------------------------------------

def _failing(monkeypatch, error):
    import deepexpr.cli.perception as perception

    def boom(_args):
        raise error

    monkeypatch.setattr(perception, "cmd_setup", boom)


@pytest.mark.parametrize("error, code, text", [
    (InputError("bad.csv: not a FER2013 file"), 2, "bad.csv: not a FER2013 file"),
    (DataError("data/: 5 images, the protocol needs 14"), 1, "the protocol needs 14"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/out.png"), 1, "/ro/out.png: Read-only file system"),
    (RuntimeError("shape mismatch"), 1, "rerun with --debug for the traceback"),
])
def test_errors_are_one_line_with_their_exit_code(monkeypatch, capsys, error, code, text):
    _failing(monkeypatch, error)
    assert main(["setup"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and text in err[0]


def test_debug_shows_the_traceback(monkeypatch, capsys):
    _failing(monkeypatch, RuntimeError("shape mismatch"))
    assert main(["--debug", "setup"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: shape mismatch" in err
