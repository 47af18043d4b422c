"""Tensors of the Open Inference Protocol (KServe v2) over HTTP: the JSON request, its binary extension, replies.

A request body is JSON, or (Triton's binary tensor extension, what ``tritonclient`` sends by default) a JSON
header of ``Inference-Header-Content-Length`` bytes followed by the inputs' raw bytes, in input order, each input
saying its length in ``parameters.binary_data_size``. FP32 data is little-endian float32, row-major; a BYTES
element is a 4-byte little-endian length and that many bytes in binary, a base64 string in JSON (images are not
UTF-8 text). Every mistake is a :class:`V2Error`: an HTTP status and one line.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class V2Error(Exception):
    """A request the protocol refuses: an HTTP status and one line saying why (``{"error": ...}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class InputTensor:
    """One input of a request: its name, datatype, shape and data (float32 array, or a list of byte strings)."""

    name: str
    datatype: str
    shape: list[int]
    data: Any


@dataclass
class OutputRequest:
    """An output a request asks for: binary or JSON, and a top-k (Triton's classification extension) or all."""

    name: str
    binary: bool
    classification: int = 0


@dataclass
class InferRequest:
    id: str | None
    inputs: list[InputTensor]
    outputs: list[OutputRequest] | None  # None: the request named none
    binary_output: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)


def _load_json(text: bytes) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise V2Error(400, f"malformed inference request: not JSON ({' '.join(str(err).split())[:120]})") from None
    if not isinstance(body, dict):
        raise V2Error(400, f"malformed inference request: a JSON object expected, not {type(body).__name__}")
    return body


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in obj:
        if default is ...:
            raise V2Error(400, f"malformed inference request: {where} has no '{key}'")
        return default
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise V2Error(400, f"malformed inference request: {where}'s '{key}' has the wrong JSON type")
    return value


def _shape(raw: list[Any], where: str) -> list[int]:
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in raw):
        raise V2Error(400, f"malformed inference request: {where}'s shape must be a list of integers >= 0")
    return list(raw)


def _flat(data: Any) -> Iterator[Any]:
    if isinstance(data, list):
        for item in data:
            yield from _flat(item)
    else:
        yield data


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """An infer request from its body and its ``Inference-Header-Content-Length`` header (None: JSON only)."""
    if header_length is None:
        head, rest = body, b""
    else:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise V2Error(400, f"Inference-Header-Content-Length {header_length[:20]!r} does not fit the body")
        head, rest = body[: int(header_length)], body[int(header_length) :]
    req = _load_json(head)
    params = _field(req, "parameters", dict, "the request", {})
    raw_inputs = _field(req, "inputs", list, "the request")
    inputs, offset = [], 0
    for i, raw in enumerate(raw_inputs):
        if not isinstance(raw, dict):
            raise V2Error(400, f"malformed inference request: input {i} is not a JSON object")
        where = f"input {i}"
        name = _field(raw, "name", str, where)
        datatype = _field(raw, "datatype", str, where)
        shape = _shape(_field(raw, "shape", list, where), where)
        size = _field(_field(raw, "parameters", dict, where, {}), "binary_data_size", int, where, None)
        if size is not None:
            if size < 0 or offset + size > len(rest):
                raise V2Error(400, f"input {name!r}: binary_data_size {size} runs past the end of the body")
            data: Any = rest[offset : offset + size]
            offset += size
        elif "data" in raw:
            data = raw["data"]
        else:
            raise V2Error(400, f"malformed inference request: input {name!r} has no 'data'")
        inputs.append(InputTensor(name, datatype, shape, data))
    if offset != len(rest):
        raise V2Error(400, f"the body holds {len(rest) - offset} bytes that no input's binary_data_size claims")
    binary_output = params.get("binary_data_output") is True
    outputs = None
    if "outputs" in req:
        outputs = []
        for i, raw in enumerate(_field(req, "outputs", list, "the request")):
            if not isinstance(raw, dict):
                raise V2Error(400, f"malformed inference request: output {i} is not a JSON object")
            oparams = _field(raw, "parameters", dict, f"output {i}", {})
            k = _field(oparams, "classification", int, f"output {i}", 0)
            binary = _field(oparams, "binary_data", bool, f"output {i}", binary_output)
            outputs.append(OutputRequest(_field(raw, "name", str, f"output {i}"), binary, k))
    request_id = req.get("id")
    return InferRequest(str(request_id) if request_id is not None else None, inputs, outputs, binary_output, params)


def fp32_array(t: InputTensor) -> np.ndarray:
    """An FP32 input as a float32 array of its shape (finite values only)."""
    count = math.prod(t.shape)
    if isinstance(t.data, bytes):
        if len(t.data) != 4 * count:
            got = len(t.data)
            raise V2Error(400, f"input {t.name!r}: {got} bytes of data for shape {t.shape} ({4 * count} needed)")
        array = np.frombuffer(t.data, dtype="<f4").astype(np.float32).reshape(t.shape)
    else:
        values = list(_flat(t.data))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise V2Error(400, f"input {t.name!r}: FP32 data must be numbers")
        if len(values) != count:
            raise V2Error(400, f"input {t.name!r}: {len(values)} values of data for shape {t.shape} ({count} needed)")
        with np.errstate(over="ignore"):  # a number beyond float32 becomes inf, refused below
            array = np.asarray(values, dtype=np.float32).reshape(t.shape)
    if not np.isfinite(array).all():
        raise V2Error(400, f"input {t.name!r}: NaN or infinite values (or beyond float32's range)")
    return array


def bytes_elements(t: InputTensor) -> list[bytes]:
    """A BYTES input's elements: length-prefixed in binary, base64 strings in JSON."""
    count = math.prod(t.shape)
    out: list[bytes] = []
    if isinstance(t.data, bytes):
        pos = 0
        while pos < len(t.data):
            if pos + 4 > len(t.data):
                raise V2Error(400, f"input {t.name!r}: truncated BYTES element length")
            (n,) = struct.unpack_from("<I", t.data, pos)
            if pos + 4 + n > len(t.data):
                raise V2Error(400, f"input {t.name!r}: a BYTES element runs past its data")
            out.append(t.data[pos + 4 : pos + 4 + n])
            pos += 4 + n
    else:
        for v in _flat(t.data):
            if not isinstance(v, str):
                raise V2Error(400, f"input {t.name!r}: BYTES data in JSON must be base64 strings")
            try:
                out.append(base64.b64decode(v, validate=True))
            except (binascii.Error, ValueError):
                raise V2Error(400, f"input {t.name!r}: an element is not valid base64") from None
    if len(out) != count:
        raise V2Error(400, f"input {t.name!r}: {len(out)} elements of data for shape {t.shape} ({count} needed)")
    return out


NUMERIC = {"FP32": "<f4", "INT64": "<i8"}  # the numeric datatypes of outputs, little-endian


@dataclass
class OutputTensor:
    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray | list[bytes]
    binary: bool


def _raw(o: OutputTensor) -> bytes:
    if o.datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v)) + v for v in o.values)  # type: ignore[operator]
    return np.ascontiguousarray(o.values, dtype=NUMERIC[o.datatype]).tobytes()


def _json_data(o: OutputTensor) -> list[Any]:
    if o.datatype == "BYTES":
        return [v.decode("utf-8") for v in o.values]  # type: ignore[union-attr]
    return np.asarray(o.values, dtype=NUMERIC[o.datatype]).ravel().tolist()


def encode_response(
    model: str, version: str, request_id: str | None, outputs: Sequence[OutputTensor]
) -> tuple[bytes, int | None]:
    """The reply body and, when an output travels as binary, the length of its JSON header."""
    described, blobs = [], []
    for o in outputs:
        entry: dict[str, Any] = {"name": o.name, "datatype": o.datatype, "shape": o.shape}
        if o.binary:
            blob = _raw(o)
            blobs.append(blob)
            entry["parameters"] = {"binary_data_size": len(blob)}
        else:
            entry["data"] = _json_data(o)
        described.append(entry)
    reply: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": described}
    if request_id is not None:
        reply["id"] = request_id
    head = json.dumps(reply).encode()
    return (head + b"".join(blobs), len(head)) if blobs else (head, None)
