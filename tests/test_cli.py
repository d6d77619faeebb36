from deepexpr.cli import main


def test_help_lists_groups(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "train" in err and "evaluate" in err


def test_version(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "deepexpr" in capsys.readouterr().out
