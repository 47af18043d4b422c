"""Property-based fuzzing of checkpoint reading: random bytes, truncated safetensors, metadata of wrong types.

The rule every property checks: whatever goes in, the only exception that may come out is one of the
project's own :class:`~googlenet.errors.UserError` subclasses, with a non-empty one-line message (the CLI
prints it as one line and exits 2). Examples are bounded so the file stays well under a minute on 2 cores.
"""

from __future__ import annotations

import functools
import json
import struct
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from _fuzzing import attempt, check_message, fuzz, scratch_dir, scratch_file
from googlenet.errors import UserError
from googlenet.weights import CheckpointError, load_checkpoint, read_checkpoint, save

# ---------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------

TINY = {"width": 0.05, "aux_logits": False}


@functools.cache
def tiny_checkpoint() -> tuple[bytes, bytes]:
    """A real checkpoint of a 3-class GoogLeNet at width 0.05 (16k parameters), saved by the package: the
    .safetensors bytes and its .json sidecar."""
    from googlenet.factory import create_model

    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=3, **TINY)
    meta = {"model": "googlenet", "num_classes": 3, "model_kwargs": TINY, "class_names": ["a", "b", "c"]}
    path = save(scratch_dir() / "tiny" / "best.safetensors", model, meta)
    return path.read_bytes(), path.with_suffix(".json").read_bytes()


@functools.cache
def tiny_tensors() -> dict[str, torch.Tensor]:
    return read_checkpoint(scratch_file(tiny_checkpoint()[0], ".safetensors"))[0]


def test_tiny_checkpoint_round_trip() -> None:
    model, _, meta = load_checkpoint(scratch_file(tiny_checkpoint()[0], ".safetensors"))
    assert meta["model"] == "googlenet" and meta["num_classes"] == 3
    for k, v in model.state_dict().items():
        assert torch.equal(v, tiny_tensors()[k])


def _load_both(path: Path) -> None:
    """read_checkpoint and load_checkpoint: a result or a one-line CheckpointError/UserError."""
    out = attempt(read_checkpoint, path)
    if isinstance(out, UserError):
        assert isinstance(out, CheckpointError)
    attempt(load_checkpoint, path)


@fuzz(150)
@given(
    head=st.one_of(
        st.just(b""),
        st.builds(lambda n: struct.pack("<Q", n), st.integers(0, 2**64 - 1)),
        st.builds(lambda n: struct.pack("<Q", n), st.integers(0, 64)),
    ),
    body=st.binary(max_size=120),
)
@example(head=struct.pack("<Q", 2), body=b"{}")
@example(head=struct.pack("<Q", 2), body=b"[]")
@example(head=struct.pack("<Q", 7), body=b'{"a":1}')
def test_checkpoint_random_bytes(head: bytes, body: bytes) -> None:
    _load_both(scratch_file(head + body, ".safetensors"))


@fuzz(60)
@given(name=st.one_of(st.text(max_size=30), st.text(alphabet="ab/.", min_size=250, max_size=300)))
@example(name="a" * 300)
@example(name="\x00")
@example(name="")
def test_checkpoint_any_path(name: str) -> None:
    _load_both(Path(name))


def test_checkpoint_truncated_everywhere() -> None:
    """Every proper prefix of a real checkpoint is refused (the header's offsets no longer fit the file)."""
    data = tiny_checkpoint()[0]
    (header_len,) = struct.unpack("<Q", data[:8])
    cuts = sorted({*range(0, 8 + header_len + 64), *range(8 + header_len, len(data), 97), len(data) - 1})
    path = scratch_file(b"", ".safetensors")
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path)
        check_message(info.value)


@fuzz(100)
@given(data=st.data())
def test_checkpoint_corrupted_header(data: st.DataObject) -> None:
    """Random bytes overwritten in the length prefix or the JSON header of a real checkpoint."""
    blob = bytearray(tiny_checkpoint()[0])
    (header_len,) = struct.unpack("<Q", blob[:8])
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        blob[data.draw(st.integers(0, 8 + header_len - 1))] = data.draw(st.integers(0, 255))
    _load_both(scratch_file(bytes(blob), ".safetensors"))


# metadata values: the right types, plausible wrong ones, and anything JSON holds (numbers kept small: a
# checkpoint naming 10**9 classes would build that model before its shapes are compared)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=5,
)
small_kwargs = st.dictionaries(
    st.sampled_from(
        ["width", "aux_logits", "in_chans", "lrn", "dropout", "init", "ch5x5_kernel", "pool4_kernel", "bogus", ""]
    ),
    st.one_of(st.none(), st.booleans(), st.integers(-3, 4), st.floats(-1, 0.06), st.text(max_size=6)),
    max_size=3,
).map(lambda kw: {**TINY, **kw} if "width" not in kw else kw)
META_FIELDS = {
    "format": st.one_of(st.just(1), json_values),
    "model": st.one_of(st.just("googlenet"), st.sampled_from(["", "resnet18x", "googlenet\n"]), json_values),
    "num_classes": st.one_of(st.just(3), json_values),
    "model_kwargs": st.one_of(st.just(TINY), small_kwargs, json_values),
    "class_names": st.one_of(st.just(["a", "b", "c"]), st.lists(st.text(max_size=4), max_size=4), json_values),
    "mean": st.one_of(st.just([0.5, 0.5, 0.5]), st.lists(st.floats(), max_size=4), json_values),
    "std": st.one_of(st.just([0.2, 0.2, 0.2]), st.lists(st.floats(), max_size=4), json_values),
    "input_size": st.one_of(st.just(32), json_values),
    "crop_fraction": st.one_of(st.just(0.875), json_values),
    "epoch": json_values,
    "metrics": json_values,
    "config": st.one_of(st.just({"crop_fraction": 0.875}), st.dictionaries(st.just("crop_fraction"), json_values)),
}
metadata = st.fixed_dictionaries({}, optional=META_FIELDS)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: initializing zero-element tensors
@pytest.mark.parametrize(
    "kwargs",
    [{"width": -1}, {"dropout": 2}, {"ch5x5_kernel": 0}, {"a\nb": 1}],
    ids=["width", "dropout", "kernel", "newline"],
)
def test_builder_refusals(kwargs: dict[str, Any]) -> None:
    """Builder options no GoogLeNet can have are refused in one line naming the option, never built."""
    meta = {"model": "googlenet", "num_classes": 3, "model_kwargs": {**TINY, **kwargs}}
    with pytest.raises(UserError) as refused:
        load_checkpoint(_write_checkpoint(json.dumps(meta), None))
    check_message(refused.value)
    assert repr(next(iter(kwargs)))[1:-1] in str(refused.value), str(refused.value)


def _write_checkpoint(header_meta: str | None, sidecar: bytes | None) -> Path:
    from safetensors.torch import save_file

    folder = Path(tempfile.mkdtemp(dir=scratch_dir()))
    path = folder / "best.safetensors"
    save_file(tiny_tensors(), str(path), metadata=None if header_meta is None else {"googlenet": header_meta})
    if sidecar is not None:
        path.with_suffix(".json").write_bytes(sidecar)
    return path


@pytest.mark.filterwarnings("ignore::UserWarning")
@fuzz(150)
@given(meta=st.one_of(metadata, json_values), where=st.sampled_from(["header", "sidecar"]))
@example(meta={"model": "googlenet", "model_kwargs": [1]}, where="header")
@example(meta={"model": 5}, where="header")
@example(meta={"model": None, "num_classes": 3}, where="header")
@example(meta={"model": ["googlenet"]}, where="sidecar")
@example(meta={"model": "googlenet", "num_classes": "3", "model_kwargs": TINY}, where="header")
def test_checkpoint_metadata_wrong_types(meta: Any, where: str) -> None:
    text = json.dumps(meta)
    path = _write_checkpoint(text if where == "header" else None, text.encode() if where == "sidecar" else None)
    _load_both(path)
    out = attempt(load_checkpoint, path.parent)  # a run folder finds best.safetensors
    if not isinstance(out, UserError):
        model, got = out
        assert isinstance(model, torch.nn.Module) and json.dumps(got) == text


@fuzz(100)
@given(
    header=st.one_of(st.none(), st.text(max_size=40), st.just("[" * 5000), st.just('{"a":' * 3000)),
    sidecar=st.one_of(st.none(), st.binary(max_size=40), st.just(b"[" * 100000), st.text(max_size=40).map(str.encode)),
)
@example(header="[" * 100000, sidecar=None)
@example(header=None, sidecar=b"\xff\xfe")
@example(header=None, sidecar=b"NaN")
def test_checkpoint_metadata_not_json(header: str | None, sidecar: bytes | None) -> None:
    _load_both(_write_checkpoint(header, sidecar))
