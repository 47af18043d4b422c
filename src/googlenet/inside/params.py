"""The image being optimised, parameterised as Lucid does (Olah et al., *Feature Visualization*, Distill 2017).

A picture is not optimised pixel by pixel: gradient ascent on pixels finds high-frequency patterns the network
reacts to but a person cannot read. Two changes of basis make the steepest direction a natural-looking one:

1. **Fourier basis.** The parameters are the image's 2-D real FFT (``torch.fft.rfft2``, orthonormal), each
   frequency scaled by ``1 / max(f, 1/side) ** decay_power``: equal steps on every coefficient then give an image
   whose spectrum falls like ``1/f``, as natural images' does.
2. **Decorrelated colour.** The three channels of the Fourier image are taken as independent, unit-variance
   colour components and mixed into RGB by a square root of ImageNet's RGB covariance: ``rgb = M @ c`` with
   ``M M^T = Sigma`` (scaled so ``M``'s largest column has norm 1). Sigma is the eigendecomposition AlexNet's
   colour augmentation published (Krizhevsky et al. 2012: eigenvalues :data:`IMAGENET_EIGVAL`, eigenvectors
   :data:`IMAGENET_EIGVEC`, pixels in 0..1); its symmetric-eigen square root ``V sqrt(Lambda)`` is, to the two
   digits Lucid prints, Lucid's ``color_correlation_svd_sqrt``. The Cholesky factor is another square root.

A sigmoid maps the result into 0..1 (Lucid's ``to_valid_rgb``). :meth:`FourierImage.from_image` inverts all three
steps, so an optimisation can also start from a photo.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# ImageNet RGB covariance (pixels in 0..1) as published with AlexNet's PCA colour augmentation, the values
# fb.resnet.torch and most reimplementations copy: eigenvalues and eigenvectors (columns)
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
MAGIC = 4.0  # Lucid divides the Fourier image by 4 so that its pixels start near sigmoid's linear range


def imagenet_covariance(dtype: torch.dtype = torch.float64) -> Tensor:
    """Sigma = V diag(lambda) V^T, 3 x 3, RGB."""
    v = torch.tensor(IMAGENET_EIGVEC, dtype=dtype)
    return v @ torch.diag(torch.tensor(IMAGENET_EIGVAL, dtype=dtype)) @ v.T


def colour_sqrt(method: str = "eigen", dtype: torch.dtype = torch.float64) -> Tensor:
    """A square root M of :func:`imagenet_covariance` (``M @ M.T == Sigma``) divided by its largest column norm.

    ``method``: ``"eigen"`` (``V sqrt(Lambda)``, Lucid's) or ``"cholesky"`` (lower triangular).
    """
    if method == "eigen":
        v = torch.tensor(IMAGENET_EIGVEC, dtype=dtype)
        m = v * torch.tensor(IMAGENET_EIGVAL, dtype=dtype).sqrt()
    elif method == "cholesky":
        m = torch.linalg.cholesky(imagenet_covariance(dtype))
    else:
        raise ValueError(f"method must be 'eigen' or 'cholesky', got {method!r}")
    return m / m.norm(dim=0).max()


def decorrelate(x: Tensor, m: Tensor) -> Tensor:
    """Colour components ``x`` (N x 3 x H x W) -> RGB: ``M @ x`` at every pixel."""
    return torch.einsum("rc,nchw->nrhw", m.to(x.dtype), x)


def rfft_frequencies(h: int, w: int) -> Tensor:
    """``|f|`` (cycles per pixel) of each coefficient of ``torch.fft.rfft2`` of an ``h x w`` image: h x (w//2 + 1)."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :]
    return (fx * fx + fy * fy).sqrt()


def spectrum_scale(h: int, w: int, decay_power: float = 1.0) -> Tensor:
    """``1 / max(|f|, 1/max(h, w)) ** decay_power``: the 1/f prior on each coefficient (Lucid's ``fft_image``)."""
    return 1.0 / rfft_frequencies(h, w).clamp(min=1.0 / max(h, w)) ** decay_power


class FourierImage(nn.Module):
    """N images of ``h x w`` RGB in 0..1, from a learnable scaled spectrum (see the module docstring).

    Args:
        n: images in the batch.
        h, w: image size, px.
        sd: standard deviation of the initial coefficients (Lucid: 0.01).
        decay_power: exponent of the 1/f scaling (0: a plain Fourier basis).
        decorrelated: mix colours by :func:`colour_sqrt` (False: channels are RGB themselves).
        generator: random numbers for the initial spectrum (a seed makes the picture reproducible).
    """

    def __init__(
        self,
        n: int,
        h: int,
        w: int,
        sd: float = 0.01,
        decay_power: float = 1.0,
        decorrelated: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.h, self.w = h, w
        shape = (n, 3, h, w // 2 + 1, 2)  # real and imaginary parts
        self.spectrum = nn.Parameter(torch.randn(shape, generator=generator) * sd)
        self.register_buffer("scale", spectrum_scale(h, w, decay_power).float()[..., None])
        self.register_buffer("colour", colour_sqrt().float() if decorrelated else torch.eye(3))

    def components(self) -> Tensor:
        """The decorrelated colour components before the sigmoid, N x 3 x h x w."""
        coeffs = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        return torch.fft.irfft2(coeffs, s=(self.h, self.w), norm="ortho") / MAGIC

    def forward(self) -> Tensor:
        """The images, N x 3 x h x w in 0..1."""
        return torch.sigmoid(decorrelate(self.components(), self.colour))

    @torch.no_grad()
    def set_image(self, rgb: Tensor, eps: float = 1e-3) -> None:
        """Set the parameters so that :meth:`forward` returns ``rgb`` (N x 3 x h x w in 0..1, clamped to
        ``[eps, 1 - eps]``, where the sigmoid is invertible)."""
        x = rgb.to(torch.float64).clamp(eps, 1 - eps)
        logits = torch.log(x) - torch.log1p(-x)
        comps = torch.einsum("rc,nchw->nrhw", torch.linalg.inv(self.colour.double()), logits)
        coeffs = torch.fft.rfft2(comps * MAGIC, norm="ortho") / self.scale[..., 0].double()
        self.spectrum.copy_(torch.view_as_real(coeffs).to(self.spectrum.dtype))

    @classmethod
    def from_image(cls, rgb: Tensor, decay_power: float = 1.0, decorrelated: bool = True) -> FourierImage:
        """A parameterisation whose image is ``rgb`` (N x 3 x h x w in 0..1)."""
        n, _, h, w = rgb.shape
        image = cls(n, h, w, sd=0.0, decay_power=decay_power, decorrelated=decorrelated)
        image.set_image(rgb)
        return image
