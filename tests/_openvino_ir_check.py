"""``googlenet export --format openvino`` and the commands reading the ``.xml``, run as its own process by
test_openvino_ir.py (OpenVINO's threads must not live in the pytest process: see _openvino_check.py).

``python _openvino_ir_check.py WORK CHECKPOINT DATA_ROOT IMAGE...`` exports CHECKPOINT's IR to WORK, runs ``predict``,
``eval`` and ``serve`` on it and every damaged copy of it, and prints what each printed, with its exit status, as
one JSON object; the test compares that with its own float64 reference. Nothing here judges the results.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from googlenet.cli import main
from googlenet.weights import open_model


def run(*argv: str) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return {"rc": code, "out": out.getvalue(), "err": err.getvalue()}


def damaged(xml: Path, folder: Path) -> dict[str, Path]:
    """name -> an ``.xml`` whose pair is broken one way (each beside its own ``.bin``)."""
    folder.mkdir()
    text, weights = xml.read_bytes(), xml.with_suffix(".bin").read_bytes()
    cases = {
        "corrupt xml": (text[: len(text) // 2], weights),
        "missing bin": (text, None),
        "truncated bin": (text, weights[: len(weights) // 2]),
        "longer bin": (text, weights + b"\0" * 16),
        "mismatched bin": (text, weights[:-4] + bytes(b ^ 0xFF for b in weights[-4:])),  # same size, last float flipped
    }
    out = {}
    for name, (xml_bytes, bin_bytes) in cases.items():
        path = folder / f"{name.replace(' ', '_')}.xml"
        path.write_bytes(xml_bytes)
        if bin_bytes is not None:
            path.with_suffix(".bin").write_bytes(bin_bytes)
        out[name] = path
    out["no contract"] = foreign_ir(folder / "foreign.xml")
    return out


def foreign_ir(path: Path) -> Path:
    """An IR written by OpenVINO alone (a 1x1 convolution): no googlenet contract in it."""
    import openvino as ov

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 10, 1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    ov.save_model(ov.convert_model(net, example_input=torch.zeros(1, 3, 32, 32)), str(path), compress_to_fp16=False)
    return path


def serve_probs(xml: Path, image: Path) -> list[dict[str, Any]] | None:
    """``/v1/predict`` of a server running the IR (None without the serve extra)."""
    try:
        from starlette.testclient import TestClient
    except ModuleNotFoundError:
        return None
    from googlenet.serve.app import create_app
    from googlenet.serve.service import Service

    service = Service(xml)
    try:
        with TestClient(create_app(service), raise_server_exceptions=False) as client:
            r = client.post("/v1/predict?topk=10", content=image.read_bytes(), headers={"content-type": "image/jpeg"})
            return r.json()["top"] if r.status_code == 200 else [{"status": r.status_code, "text": r.text}]
    finally:
        service.close()


def main_check(work: Path, checkpoint: Path, root: Path, images: list[str]) -> dict[str, Any]:
    xml = work / "model.xml"
    got: dict[str, Any] = {}
    got["export"] = run(
        "export", "-c", str(checkpoint), "-f", "openvino", "-o", str(xml), "--data", str(root / "test"),
        "--parity-images", "4",
    )  # fmt: skip
    got["files"] = sorted(p.name for p in work.iterdir())
    got["predict"] = run("predict", "--checkpoint", str(xml), "--json", "--topk", "10", *images)
    baked, strict = work / "baked" / "model.xml", work / "strict" / "model.xml"
    export = ["export", "-c", str(checkpoint), "-f", "openvino", "--data", str(root / "test"), "--parity-images", "4"]
    got["baked_export"] = run(*export, "-o", str(baked), "--bake-normalization")
    got["baked_predict"] = run("predict", "--checkpoint", str(baked), "--json", "--topk", "10", *images)
    got["strict_export"] = run(*export, "-o", str(strict), "--tolerance", "0")  # OpenVINO's sums are not torch's
    got["strict_files"] = sorted(p.name for p in strict.parent.iterdir()) if strict.parent.exists() else []
    report = work / "eval.json"
    eval_args = ["eval", "--checkpoint", str(xml), "--data", str(root), "--split", "test", "--crops", "1", "10"]
    got["eval"] = run(*eval_args, "--json", str(report), "--no-progress")
    got["eval_rows"] = json.loads(report.read_text())["rows"] if report.exists() else None
    mf = open_model(xml)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    forward = mf.forward()
    got["logits"] = forward(x).tolist()  # the file as exported: f32
    got["precision"] = forward.precision
    got["meta"] = mf.meta
    got["serve"] = serve_probs(xml, Path(images[2]))
    got["backend"] = run("predict", "--checkpoint", str(xml), "--backend", "channels_last", images[0])
    got["errors"] = {}
    for name, path in damaged(xml, work / "damaged").items():
        got["errors"][name] = {"predict": run("predict", "--checkpoint", str(path), images[0])}
    truncated = work / "damaged" / "truncated_bin.xml"
    got["errors"]["truncated bin"].update(
        eval=run("eval", "--checkpoint", str(truncated), "--data", str(root), "--split", "test"),
        serve=run("serve", "--checkpoint", str(truncated), "--port", "0"),
        card=run("card", str(truncated)),
    )
    return got


if __name__ == "__main__":
    work, checkpoint, root = (Path(a) for a in sys.argv[1:4])
    result = main_check(work, checkpoint, root, sys.argv[4:])
    shutil.rmtree(work / "damaged", ignore_errors=True)
    print(json.dumps(result))
