"""Deployment: export (ONNX, TorchScript) with a parity check, int8 files, and the back-end benchmark.

The back ends, ONNX Runtime sessions and exported-file loading live in :mod:`googlenet.runtime`.
"""
