"""Deployment: export (ONNX, TorchScript) with a parity check, inference back ends, int8, benchmarks."""
