"""`imu` alone prints help; subcommand help lists the choices."""

from __future__ import annotations

import pytest

from imu.cli import build_parser, main


def test_imu_alone_prints_help(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: imu") and "report" in out and "live" in out


@pytest.mark.parametrize("command, expected", [
    ("simulate", ["desk", "carries_breakdown", "run_drift"]),
    ("annotate", ["carry_farmer", "carry_suitcase_left", "plank", "calibrate_neutral"]),
    ("decode", ["Custom mode 5", "Extended (Quaternion)"]),
    ("export", ["samples", "angles", "events"]),
])
def test_subcommand_help_lists_the_choices(command, expected, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for word in expected:
        assert word in out, word
