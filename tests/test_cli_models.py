"""`googlenet models`: every registered model listed, figures checked against torchvision's published ones."""

from __future__ import annotations

import json

from googlenet import list_models
from googlenet.cli import main


def test_lists_every_registered_model(capsys):
    assert main(["models", "--no-macs"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert set(list_models()) <= listed
    assert len(list_models()) >= 28


def test_params_and_macs_equal_torchvision_published(capsys):
    assert main(["models", "resnet*", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(rows) == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]  # natural order
    # torchvision's metadata: num_params and GFLOPS (which count multiply-adds) at 224 px
    published = {
        "resnet18": (11_689_512, 1.814),
        "resnet34": (21_797_672, 3.664),
        "resnet50": (25_557_032, 4.089),
        "resnet101": (44_549_160, 7.801),
        "resnet152": (60_192_808, 11.514),
    }
    for name, (params, gmacs) in published.items():
        assert rows[name]["params"] == params
        assert round(rows[name]["macs"] / 1e9, 3) == gmacs
        assert rows[name]["input_size"] == 224


def test_table_excludes_aux_heads_and_filters_by_family(capsys):
    assert main(["models", "--family", "googlenet", "googlenet_bn"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("googlenet_bn"))
    assert "6,624,904" in row  # torchvision's published googlenet count (auxiliary heads dropped)
    assert "1.5G" in row  # torchvision: 1.498 GFLOPS
    assert "auxiliary" in out
    assert main(["models", "nothing*"]) == 1
