"""The Fourier image parameterisation and decorrelated colour of ``googlenet.inside.params``, and the random
transformations: round trips, the covariance the colour transform claims, Lucid's published constants, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from googlenet.inside import transforms
from googlenet.inside.params import (
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    FourierImage,
    colour_sqrt,
    decorrelate,
    imagenet_covariance,
    rfft_frequencies,
)

# Lucid's color_correlation_svd_sqrt (lucid/optvis/param/color.py), printed to two digits
LUCID_SVD_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


@pytest.mark.parametrize(("h", "w"), [(32, 32), (31, 40), (17, 9)])
@pytest.mark.parametrize("decorrelated", [True, False])
def test_image_to_spectrum_to_image_round_trips(h: int, w: int, decorrelated: bool) -> None:
    rgb = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(h * w)) * 0.9 + 0.05
    back = FourierImage.from_image(rgb, decorrelated=decorrelated)().detach()
    assert back.shape == rgb.shape
    assert torch.allclose(back, rgb, atol=2e-5), (back - rgb).abs().max()


def test_frequencies_are_numpys() -> None:
    # |f| of each rfft2 coefficient, recomputed with numpy's fftfreq (odd width: the last column is not Nyquist)
    h, w = 6, 5
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, : w // 2 + 1]
    assert np.allclose(rfft_frequencies(h, w).numpy(), np.sqrt(np.abs(fx) ** 2 + fy**2))


def test_eigenvectors_are_orthonormal_to_their_printed_precision() -> None:
    v = np.array(IMAGENET_EIGVEC)
    assert np.allclose(v.T @ v, np.eye(3), atol=2e-4)


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_colour_square_root_has_the_covariance_it_claims(method: str) -> None:
    m = colour_sqrt(method).numpy()
    v, lam = np.array(IMAGENET_EIGVEC), np.array(IMAGENET_EIGVAL)
    sigma = v @ np.diag(lam) @ v.T  # recomputed here, float64
    scale = np.sqrt(lam.max() * (v[:, 0] ** 2).sum()) if method == "eigen" else None
    # M M^T is Sigma up to the one scale that makes M's largest column unit
    ratio = (m @ m.T) / sigma
    assert np.allclose(ratio, ratio[0, 0], rtol=1e-9)
    assert np.isclose(np.linalg.norm(m, axis=0).max(), 1.0)
    if scale is not None:
        assert np.isclose(ratio[0, 0], 1 / scale**2)
    # and it is what the pixels show: unit-variance independent components mixed by M
    z = torch.randn(1, 3, 400, 500, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pixels = decorrelate(z, torch.from_numpy(m)).flatten(2)[0].numpy()
    assert np.allclose(np.cov(pixels), m @ m.T, atol=0.01)
    assert np.allclose(imagenet_covariance().numpy(), sigma)


def test_eigen_square_root_is_lucids_matrix() -> None:
    v, lam = np.array(IMAGENET_EIGVEC), np.array(IMAGENET_EIGVAL)
    ours = v * np.sqrt(lam)
    signs = np.sign(ours[0]) * np.sign(LUCID_SVD_SQRT[0])  # eigenvectors are defined up to sign
    assert np.allclose(ours * signs, LUCID_SVD_SQRT, atol=0.015)


def test_spectrum_has_the_one_over_f_prior() -> None:
    # equal-variance coefficients: the image's power at frequency f falls like 1/f^2 (decay_power 1)
    img = FourierImage(64, 32, 32, sd=1.0, decorrelated=False, generator=torch.Generator().manual_seed(0))
    comps = img.components().detach()
    power = torch.fft.rfft2(comps, norm="ortho").abs().pow(2).mean(dim=(0, 1))
    f = rfft_frequencies(32, 32)
    low, high = power[(f > 0.05) & (f < 0.07)].mean(), power[(f > 0.2) & (f < 0.28)].mean()
    assert 8 < float(low / high) < 32  # (0.24 / 0.06)^2 = 16


def test_transforms_keep_gradients_and_shapes() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 40, 40, requires_grad=True)
    y = transforms.standard(40, g)(x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert y.shape[:2] == (2, 3) and 30 <= y.shape[-1] <= 50


def test_affine_rotation_by_hand() -> None:
    # a 90 degree rotation of a 4 x 4 ramp is torch.rot90 (the grid is centred, align_corners=False)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    rotated = transforms.affine(x, degrees=90)
    assert torch.allclose(rotated, torch.rot90(x, k=1, dims=(-2, -1)), atol=1e-4) or torch.allclose(
        rotated, torch.rot90(x, k=-1, dims=(-2, -1)), atol=1e-4
    )
    assert torch.equal(transforms.affine(x), x)
    assert math.isclose(float(transforms.affine(x, scale=1.0, degrees=360).sum()), float(x.sum()), rel_tol=1e-4)


def test_jitter_and_roll() -> None:
    x = torch.arange(25.0).view(1, 1, 5, 5)
    assert transforms.jitter(2, torch.Generator().manual_seed(0))(x).shape == (1, 1, 3, 3)
    assert torch.equal(transforms.roll(transforms.roll(x, 2, -1), -2, 1), x)
    assert transforms.roll(x, 1, 0)[0, 0, 0, 0] == 20
