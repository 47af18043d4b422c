"""Figure 2a vs Figure 2b against hand arithmetic from Table 1."""

from __future__ import annotations

import json

from googlenet.analysis.naive import naive_vs_reduced
from googlenet.cli import main

# Table 1 typed again: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
T1 = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
SIZE = {"3": 28, "4": 14, "5": 7}


def naive_macs(hw: int, cin: int, c1: int, c3: int, c5: int) -> int:
    return hw * hw * cin * (c1 + 9 * c3 + 25 * c5)


def naive_params(cin: int, c1: int, c3: int, c5: int) -> int:
    return cin * (c1 + 9 * c3 + 25 * c5) + c1 + c3 + c5  # weights + biases


def test_same_input_and_cumulative_by_hand():
    rows = {r.name: r for r in naive_vs_reduced("googlenet")}
    assert list(rows) == list(T1)
    cin_reduced = 192
    cin_naive = 192
    for name, (c1, c3r, c3, c5r, c5, pp) in T1.items():
        r, hw = rows[name], SIZE[name[0]]
        assert r.reduced.in_channels == cin_reduced and r.reduced.size == hw
        reduced = hw * hw * (cin_reduced * (c1 + c3r + c5r + pp) + 9 * c3r * c3 + 25 * c5r * c5)
        assert r.reduced.macs == reduced
        # Figure 2a on the same input: no reductions, the pool branch passes the input channels through
        assert r.naive_same_input.out_channels == c1 + c3 + c5 + cin_reduced
        assert r.naive_same_input.macs == naive_macs(hw, cin_reduced, c1, c3, c5)
        assert r.naive_same_input.params == naive_params(cin_reduced, c1, c3, c5)
        # in the all-naive network every module's input is the previous module's (grown) output
        assert r.naive_cumulative.in_channels == cin_naive
        assert r.naive_cumulative.macs == naive_macs(hw, cin_naive, c1, c3, c5)
        cin_reduced = c1 + c3 + c5 + pp
        cin_naive = c1 + c3 + c5 + cin_naive
    assert cin_naive == 4944  # 5b's output in the naive network, against 1024
    # 3a: 784 * 192 * (64 + 1152 + 800) = 303,464,448 vs 128,049,152 (Table 1 prints 128M)
    assert rows["3a"].naive_same_input.macs == 303_464_448 and rows["3a"].reduced.macs == 128_049_152
    ratios = [rows[n].ratio_cumulative for n in T1]
    assert ratios[0] < 2.5 and max(ratios) > 19  # the blow-up grows stage by stage


def test_cli_naive_vs_reduced(capsys):
    assert main(["summary", "googlenet", "--naive-vs-reduced"]) == 0
    text = capsys.readouterr().out
    assert "Figure 2a" in text and "192->416" in text and "4048->4944" in text
    assert main(["summary", "googlenet", "--naive-vs-reduced", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["modules"][0]["naive_cumulative"]["out_channels"] == 64 + 128 + 32 + 192


def test_naive_vs_reduced_needs_reduced_modules(capsys):
    assert main(["summary", "googlenet_naive", "--naive-vs-reduced"]) == 2
    assert "no Inception modules with reductions" in capsys.readouterr().err
