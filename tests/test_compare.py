"""Counts against torchvision's metadata, memory against hand arithmetic, and the compare/explain commands."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from torch import nn

from googlenet import list_models, model_info
from googlenet.analysis.accuracy import project_results, torchvision_accuracy
from googlenet.analysis.compare import model_stats
from googlenet.analysis.explain import stacked_vs_single
from googlenet.analysis.profile import profile_model
from googlenet.analysis.stages import stage_table
from googlenet.cli import main
from googlenet.probe import meta_model

# torchvision's ImageNet weights, typed in from its documentation: registered name -> (torchvision name,
# num_params, GFLOPS as torchvision reports them = multiply-adds / 1e9, IMAGENET1K_V1 top-1 %)
TORCHVISION = {
    "googlenet_bn": ("googlenet", 6_624_904, 1.498, 69.778),
    "resnet50": ("resnet50", 25_557_032, 4.089, 76.13),
    "vgg16": ("vgg16", 138_357_544, 15.47, 71.592),
    "alexnet_tv": ("alexnet", 61_100_840, 0.714, 56.522),
    "densenet121": ("densenet121", 7_978_856, 2.834, 74.434),
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_registered_counts_match_torchvision_metadata(name):
    """``compare``'s figures for the registered model (built on the meta device) against torchvision's."""
    tv, params, gmacs, top1 = TORCHVISION[name]
    meta = torchvision.models.get_model_weights(tv).IMAGENET1K_V1.meta  # offline: no download
    assert (meta["num_params"], meta["_ops"], meta["_metrics"]["ImageNet-1K"]["acc@1"]) == (params, gmacs, top1)
    st = model_stats(name)  # the model's default input: 224 px
    assert st.input_size == 224
    assert st.params == pytest.approx(params, rel=0.01)
    assert st.macs / 1e9 == pytest.approx(gmacs, rel=0.01)
    acc = torchvision_accuracy(name)
    assert (acc.top1, acc.source, acc.input_size) == (top1, "torchvision", 224)
    assert tv in acc.detail and "IMAGENET1K_V1" in acc.detail


def test_paper_models_have_no_published_accuracy():
    # the paper's GoogLeNet (no batch norm) and AlexNet (LRN, 96 filters) are not torchvision's networks
    assert [torchvision_accuracy(n) for n in ("googlenet", "alexnet", "alexnet_grouped", "vgg11_lrn")] == [None] * 4


# compare (counting only, no --measure) on one model of every variant the registry's builders have, beside the
# five above: paper AlexNet with and without groups, LRN + BN VGG, VGG-16 C (1x1 convs), the paper's GoogLeNet,
# its naive and small-input versions, and basic-block ResNets. (All of them at once take ~45 s on 2 busy cores.)
SMOKE = ["alexnet", "alexnet_grouped", "vgg11_lrn_bn", "vgg16_c", "googlenet", "googlenet_naive", "resnet18"]


def test_compare_runs_on_every_kind_of_registered_model(capsys):
    families = {model_info(n).family for n in [*SMOKE, *TORCHVISION]}
    assert families == {model_info(n).family for n in list_models()}  # a new family needs a model here
    assert main(["compare", *SMOKE, "googlenet_small", "--input-size", "64", "--num-classes", "10", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["models"]
    assert [s["model"] for s in stats] == [*SMOKE, "googlenet_small"]
    for s in stats:
        model = meta_model(s["model"], 10)
        main_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux"))
        assert s["input_size"] == 64 and s["params"] == main_params
        assert s["macs"] > 0 and 0 < s["depth"] <= s["weighted_layers"] and s["receptive_field"] > 0
        assert s["peak_forward_bytes"] > 3 * 64 * 64 * 4  # the input image alone


def test_memory_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 4, 3, padding=1))
    prof = profile_model(net, 16, 3)
    img, mid, out = 3 * 16 * 16 * 4, 8 * 16 * 16 * 4, 4 * 16 * 16 * 4  # bytes, float32
    # inference: the in-place ReLU allocates nothing; at the second conv the input, its output and the new output
    # are live
    assert prof.peak_forward_bytes == img + mid + out
    # training: conv 1 keeps its input, ReLU its output (in place: conv 1's output), conv 2 its input (the same)
    assert prof.train_saved_bytes == img + mid
    assert [r.saved_bytes for r in prof.rows] == [img, mid, 0]


def test_googlenet_stage_shares_by_hand():
    from googlenet import create_model

    with torch.device("meta"):
        model = create_model("googlenet")
    stages = {st.name: st for st in stage_table(profile_model(model, 224, memory=False))}
    assert list(stages) == ["stem", "3", "4", "5", "head"]
    stem = 112 * 112 * 49 * 3 * 64 + 56 * 56 * 64 * 64 + 56 * 56 * 9 * 64 * 192
    assert stages["stem"].macs == stem
    assert stages["head"].macs == 1024 * 1000
    assert sum(st.macs_share for st in stages.values()) == pytest.approx(1.0)
    assert stages["3"].rows == ["inception3a", "inception3b", "maxpool3"]


def test_explain_library_by_hand():
    two, three = stacked_vs_single(2, 32), stacked_vs_single(3, 32)
    assert (two.stack_rf, two.single_rf, two.single_kernel) == (5, 5, 5)
    assert (three.stack_rf, three.single_rf, three.single_kernel) == (7, 7, 7)
    # weights without biases: 2 * 9 C^2 = 18 C^2 vs 25 C^2, 3 * 9 C^2 = 27 C^2 vs 49 C^2
    assert (two.stack_params, two.single_params) == (18 * 32 * 32, 25 * 32 * 32)
    assert (three.stack_params, three.single_params) == (27 * 32 * 32, 49 * 32 * 32)
    assert (three.stack_coef, three.single_coef) == (27, 49)


def test_explain_cli(capsys):
    assert main(["explain", "receptive-field", "--channels", "16"]) == 0
    text = capsys.readouterr().out
    assert "27C² instead of 49C²" in text and "18C² instead of 25C²" in text and "7x7 pixels" in text


def test_compare_json_and_table(capsys):
    assert main(["compare", "googlenet", "googlenet_small", "--json"]) == 0
    out = {m["model"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    g = out["googlenet"]
    assert g["input_size"] == 224 and g["params"] == 6_998_552 and g["depth"] == 22 and g["receptive_field"] == 907
    assert out["googlenet_small"]["input_size"] == 32
    assert 0 < g["peak_forward_bytes"] < g["train_saved_bytes"]
    assert main(["compare", "googlenet", "--input-size", "64"]) == 0
    assert "fwd peak MiB" in capsys.readouterr().out


def test_compare_measure(capsys):
    argv = ["compare", "googlenet_small", "--measure", "--threads", "1", "--repeats", "1", "--batch-size", "2"]
    assert main([*argv, "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["models"][0]
    assert m["latency_ms"] > 0 and m["images_per_s"] > 0 and m["batch_size"] == 2 and m["threads"] == 1


def test_compare_plot_from_project_results(tmp_path, capsys):
    results = tmp_path / "results.yaml"
    results.write_text(
        "results:\n"
        "  - {model: googlenet_small, num_classes: 10, dataset: test-set, input_size: 32, top1: 50.0,\n"
        "     command: written by this test}\n"
    )
    (acc,) = project_results(results)
    assert acc.source == "project" and acc.top1 == 50.0
    png = tmp_path / "chart.png"
    assert main(["compare", "googlenet_small", "--plot", str(png), "--results", str(results)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chart written" in capsys.readouterr().out


def test_compare_plot_without_accuracies_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "results.yaml"
    empty.write_text("results: []\n")  # the paper model has no torchvision accuracy, and no run is listed
    assert main(["compare", "googlenet", "--plot", str(tmp_path / "x.png"), "--results", str(empty)]) == 2
    assert "nothing to plot" in capsys.readouterr().err


def test_packaged_results_are_valid():
    for acc in project_results():  # only real runs may be listed; each must name its command
        assert acc.detail and 0 <= acc.top1 <= 100


def test_compare_unknown_model(capsys):
    assert main(["compare", "googlenett"]) == 2
    assert "unknown model" in capsys.readouterr().err
