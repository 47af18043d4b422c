"""The part of BVLC Caffe's ``caffe.proto`` that holds learned weights, as protobuf message types built in Python.

Only the messages and fields a ``.caffemodel`` needs to give up its weights are declared; every other field of a
real file is kept by the parser as an unknown field and ignored. Field numbers are those of
``src/caffe/proto/caffe.proto`` in BVLC's repository (proto2)::

    NetParameter      name = 1, layers = 2 (V1LayerParameter, deprecated), input = 3, input_dim = 4, layer = 100
    LayerParameter    name = 1, type = 2 (string), bottom = 3, top = 4, blobs = 7
    V1LayerParameter  bottom = 2, top = 3, name = 4, type = 5 (enum LayerType), blobs = 6
    BlobProto         num = 1, channels = 2, height = 3, width = 4 (the deprecated 4-D shape),
                      data = 5 (packed float), diff = 6, shape = 7, double_data = 8 (packed double)
    BlobShape         dim = 1 (packed int64)

V1's ``type`` is declared as ``int32``: an enum is a varint on the wire, so the values read and write the same
(``CONVOLUTION = 4``, ``INNER_PRODUCT = 14``...). Files from before the V1 format (a V0 layer under V1's field 1)
are refused with a pointer to Caffe's ``upgrade_net_proto_binary``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory

from ...errors import UserError

FieldProto = descriptor_pb2.FieldDescriptorProto
V1_TYPES = {"Convolution": 4, "InnerProduct": 14}  # V1LayerParameter.LayerType values of the layers with weights


class CaffeFormatError(UserError):
    """A file that is not a readable ``.caffemodel``."""


def _field(
    msg: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    kind: int,
    repeated: bool = False,
    type_name: str | None = None,
    packed: bool = False,
) -> None:
    f = msg.field.add(name=name, number=number, type=kind)
    f.label = FieldProto.LABEL_REPEATED if repeated else FieldProto.LABEL_OPTIONAL
    if type_name:
        f.type_name = type_name
    if packed:
        f.options.packed = True


def _file_proto() -> descriptor_pb2.FileDescriptorProto:
    fp = descriptor_pb2.FileDescriptorProto(name="googlenet/caffe_weights.proto", package="caffe", syntax="proto2")
    T = FieldProto
    shape = fp.message_type.add(name="BlobShape")
    _field(shape, "dim", 1, T.TYPE_INT64, repeated=True, packed=True)

    blob = fp.message_type.add(name="BlobProto")
    _field(blob, "shape", 7, T.TYPE_MESSAGE, type_name=".caffe.BlobShape")
    _field(blob, "data", 5, T.TYPE_FLOAT, repeated=True, packed=True)
    _field(blob, "diff", 6, T.TYPE_FLOAT, repeated=True, packed=True)
    _field(blob, "double_data", 8, T.TYPE_DOUBLE, repeated=True, packed=True)
    for name, number in (("num", 1), ("channels", 2), ("height", 3), ("width", 4)):
        _field(blob, name, number, T.TYPE_INT32)

    layer = fp.message_type.add(name="LayerParameter")
    _field(layer, "name", 1, T.TYPE_STRING)
    _field(layer, "type", 2, T.TYPE_STRING)
    _field(layer, "bottom", 3, T.TYPE_STRING, repeated=True)
    _field(layer, "top", 4, T.TYPE_STRING, repeated=True)
    _field(layer, "blobs", 7, T.TYPE_MESSAGE, repeated=True, type_name=".caffe.BlobProto")

    v1 = fp.message_type.add(name="V1LayerParameter")
    _field(v1, "bottom", 2, T.TYPE_STRING, repeated=True)
    _field(v1, "top", 3, T.TYPE_STRING, repeated=True)
    _field(v1, "name", 4, T.TYPE_STRING)
    _field(v1, "type", 5, T.TYPE_INT32)  # enum LayerType in caffe.proto: the same varint on the wire
    _field(v1, "blobs", 6, T.TYPE_MESSAGE, repeated=True, type_name=".caffe.BlobProto")
    _field(v1, "v0_layer", 1, T.TYPE_BYTES)  # V0LayerParameter layer = 1: only to recognise pre-V1 files

    net = fp.message_type.add(name="NetParameter")
    _field(net, "name", 1, T.TYPE_STRING)
    _field(net, "layers", 2, T.TYPE_MESSAGE, repeated=True, type_name=".caffe.V1LayerParameter")
    _field(net, "input", 3, T.TYPE_STRING, repeated=True)
    _field(net, "input_dim", 4, T.TYPE_INT32, repeated=True)
    _field(net, "layer", 100, T.TYPE_MESSAGE, repeated=True, type_name=".caffe.LayerParameter")
    return fp


@cache
def messages() -> dict[str, type[message.Message]]:
    """The message classes by name: ``NetParameter``, ``LayerParameter``, ``V1LayerParameter``, ``BlobProto``,
    ``BlobShape``."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_proto())
    names = ("NetParameter", "LayerParameter", "V1LayerParameter", "BlobProto", "BlobShape")
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"caffe.{n}")) for n in names}


@dataclass
class CaffeNet:
    """The weights of a ``.caffemodel``: its net name and, per layer with blobs, the blobs as arrays."""

    name: str
    blobs: dict[str, list[np.ndarray]]
    format: str  # "V2" (``layer``) or "V1" (``layers``)


def blob_array(blob: Any) -> np.ndarray:
    """A ``BlobProto`` as a float32 array of its shape (``shape.dim``, else the deprecated 4-D num/channels/...)."""
    if blob.shape.dim:
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = (blob.num, blob.channels, blob.height, blob.width)
    values = blob.data if len(blob.data) else blob.double_data
    array = np.asarray(values, dtype=np.float32)
    if array.size != int(np.prod(shape, dtype=np.int64)):
        raise CaffeFormatError(f"a blob holds {array.size} values for the shape {shape}")
    return array.reshape(shape)


def read_caffemodel(path: str | os.PathLike) -> CaffeNet:
    """Parse ``path`` as a Caffe ``NetParameter`` and return its layers' blobs (one-line error if it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise CaffeFormatError(f"caffemodel not found: {path}")
    net = messages()["NetParameter"]()
    try:
        net.ParseFromString(path.read_bytes())
    except (message.DecodeError, ValueError, RuntimeError) as err:
        raise CaffeFormatError(f"{path} is not a Caffe model (protobuf: {err or 'cannot decode'})") from None
    if any(layer.HasField("v0_layer") and not layer.name for layer in net.layers):
        raise CaffeFormatError(
            f"{path} is in Caffe's pre-2014 V0 format; convert it with Caffe's upgrade_net_proto_binary first"
        )
    layers, fmt = (net.layer, "V2") if len(net.layer) else (net.layers, "V1")
    blobs = {layer.name: [blob_array(b) for b in layer.blobs] for layer in layers if len(layer.blobs)}
    if not blobs:
        raise CaffeFormatError(f"{path} is not a Caffe model with weights (no layer holds a blob)")
    return CaffeNet(net.name, blobs, fmt)


def write_caffemodel(
    path: str | os.PathLike, name: str, layers: list[tuple[str, str, list[np.ndarray]]], v1: bool = False
) -> Path:
    """Write ``(layer name, type, blobs)`` as a ``.caffemodel``: ``layer`` messages with ``BlobShape`` shapes, or
    (``v1``) deprecated ``layers`` with the 4-D num/channels/height/width shape, as files of 2014 are."""
    m = messages()
    net = m["NetParameter"](name=name)
    for layer_name, kind, arrays in layers:
        layer = (
            net.layers.add(name=layer_name, type=V1_TYPES[kind]) if v1 else net.layer.add(name=layer_name, type=kind)
        )
        for a in arrays:
            blob = layer.blobs.add()
            if v1:  # legacy 4-D: leading dimensions of 1 (an FC weight is 1 x 1 x out x in, a bias 1 x 1 x 1 x n)
                n, c, h, w = (1,) * (4 - a.ndim) + a.shape
                blob.num, blob.channels, blob.height, blob.width = n, c, h, w
            else:
                blob.shape.dim.extend(a.shape)
            blob.data.extend(a.astype(np.float32).ravel().tolist())
    path = Path(path)
    path.write_bytes(net.SerializeToString())
    return path
