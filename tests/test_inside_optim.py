"""Feature visualisation, DeepDream and channel attribution on tiny models: the objective rises well above its
value on noise and on real-ish images, DeepDream raises the layer's norm and keeps the photo's size and range, and
attribution sums to the logit less its bias where the head is linear (by hand, and on GoogLeNet's inception_5b)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from _synthetic import class_image
from googlenet.contract import ModelContract
from googlenet.inside.attribution import channel_attribution
from googlenet.inside.capture import LayerSizeError
from googlenet.inside.dream import dream, octave_sizes
from googlenet.inside.layers import resolve
from googlenet.inside.load import from_registry
from googlenet.inside.objectives import ObjectiveError, channel, channels, direction, layer_norm, neuron
from googlenet.inside.visualize import model_input, score, visualize

SIZE = 40


@pytest.fixture(scope="module")
def tiny() -> tuple[nn.Module, ModelContract]:
    return from_registry("googlenet", num_classes=10, width=0.125, seed=0)


def _real_images(n: int, size: int) -> Tensor:
    rng = np.random.default_rng(0)
    return torch.stack(
        [torch.from_numpy(np.array(class_image(k % 10, rng, size))).permute(2, 0, 1).float() / 255 for k in range(n)]
    )


def test_visualisation_beats_noise_and_real_images_by_a_margin(tiny) -> None:
    model, contract = tiny
    layer = resolve(model, "inception_4a", pre_relu=True)
    objective = channel(5, layer.name)
    result = visualize(model, contract, layer, objective, size=SIZE, steps=25, lr=0.1, robust=False)
    noise = score(model, contract, layer, objective, torch.rand(8, 3, SIZE, SIZE))
    real = score(model, contract, layer, objective, _real_images(10, SIZE))
    best = float(torch.cat([noise, real]).max())
    spread = float(torch.cat([noise, real]).std())
    final = result.final[0]
    # measured: final 0.44, noise and the synthetic photos at most -1.16, their spread 0.30
    assert final > best + 3 * spread, (final, best, spread)
    assert final > result.history[0][0] + 1.0  # and well above where it started
    assert len(result.history) == 25 and result.images.shape == (1, 3, SIZE, SIZE)
    assert float(result.images.min()) >= 0 and float(result.images.max()) <= 1


def test_with_the_random_transformations_a_shallower_layer_climbs_too(tiny) -> None:
    # the default path (jitter, scale, rotation each step) at inception_3a, whose 6 x 6 map a few pixels of
    # jitter do not scramble; measured: 0.21 at step 0, 0.77 at the end, noise at most -0.17
    model, contract = tiny
    layer = resolve(model, "inception_3a", pre_relu=True)
    objective = channel(2, layer.name)
    result = visualize(model, contract, layer, objective, size=48, steps=20, lr=0.1)
    noise = float(score(model, contract, layer, objective, torch.rand(8, 3, 48, 48)).max())
    assert result.final[0] > result.history[0][0] + 0.3
    assert result.final[0] > noise + 0.5


def test_a_grid_optimises_each_channel_and_is_reproducible(tiny) -> None:
    model, contract = tiny
    layer = resolve(model, "mixed3b_pre_relu")
    objective = channels([1, 7], layer.name)
    a = visualize(model, contract, layer, objective, n=2, size=32, steps=6, lr=0.1, seed=3)
    b = visualize(model, contract, layer, objective, n=2, size=32, steps=6, lr=0.1, seed=3)
    assert torch.equal(a.images, b.images) and a.history == b.history  # robust transforms included: seeded
    # each image is scored on its own channel: recompute channel 7 of image 1 alone
    alone = score(model, contract, layer, channel(7), a.images[1:])
    assert torch.allclose(alone, torch.tensor(a.final[1:]))


def test_objectives_by_hand() -> None:
    a = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    assert torch.equal(channel(1)(a), torch.tensor([5.5, 17.5]))  # mean of 4..7, 16..19
    assert torch.equal(channels([2, 0])(a), torch.tensor([9.5, 13.5]))
    assert torch.equal(neuron(1)(a), torch.tensor([7.0, 19.0]))  # centre of a 2 x 2 map: (1, 1)
    assert torch.allclose(layer_norm()(a), (a**2).flatten(1).mean(1))
    v = torch.tensor([3.0, 0.0, 4.0])  # unit vector (0.6, 0, 0.8)
    assert torch.allclose(direction(v)(a), 0.6 * a[:, 0].mean((1, 2)) + 0.8 * a[:, 2].mean((1, 2)))
    with pytest.raises(ObjectiveError, match=r"channels 0\.\.2"):
        channel(3).check(a)
    with pytest.raises(ObjectiveError, match="needs 3 values"):
        direction(torch.ones(4)).check(a)


def test_dream_raises_the_layers_norm_and_keeps_the_photo(tiny) -> None:
    model, contract = tiny
    layer = resolve(model, "inception_3b")
    photo = torch.from_numpy(np.array(class_image(3, np.random.default_rng(1), 64))).permute(2, 0, 1)[:, :, :56]
    result = dream(model, contract, layer, photo, octaves=2, octave_scale=1.3, steps=5, step_size=4 / 255, jitter=4)
    assert result.image.shape == (3, 64, 56)
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1
    assert result.after > 1.2 * result.before, (result.before, result.after)
    assert result.sizes == [(49, 43), (64, 56)]  # 64 / 1.3 = 49.2, 56 / 1.3 = 43.1
    assert result.history[0][-1] > result.history[0][0] and result.history[1][-1] > result.history[1][0]


def test_dream_refuses_octaves_too_small_for_the_layer(tiny) -> None:
    model, contract = tiny
    photo = torch.zeros(3, 40, 40, dtype=torch.uint8)
    with pytest.raises(LayerSizeError, match=r"use --octaves [12] or fewer"):
        dream(model, contract, resolve(model, "inception_5b"), photo, octaves=6, octave_scale=1.5)


def test_octave_sizes() -> None:
    assert octave_sizes(100, 200, 3, 2.0) == [(100, 200), (50, 100), (25, 50)]


class Tiny(nn.Module):
    """``features``: a 1x1 conv giving A_0 = x and A_1 = 2x; head: global average pool, then ``fc`` with a bias."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 2, 1, bias=False).double()
        self.fc = nn.Linear(2, 2).double()
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
            self.fc.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 0.25]]))
            self.fc.bias.copy_(torch.tensor([0.3, -0.2]))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x.double()).mean(dim=(2, 3)))


def test_attribution_by_hand() -> None:
    # x = [[1, -2], [3, -4]]: mean(A_0) = -0.5, mean(A_1) = -1; d y_c / d A_k[i, j] = W[c, k] / 4, so
    # attr_k = sum_ij A_k W[c, k] / 4 = W[c, k] mean(A_k):
    #   class 0: (1 * -0.5, -1 * -1) = (-0.5, 1.0), logit = 0.5 + 0.3 = 0.8
    #   class 1: (0.5 * -0.5, 0.25 * -1) = (-0.25, -0.25), logit = -0.5 - 0.2 = -0.7
    model = Tiny().eval()
    contract = ModelContract("tiny", 2, input_size=2, in_chans=1, mean=(0.0,), std=(1.0,))
    image = torch.tensor([[1.0, -2.0], [3.0, -4.0]]).expand(3, 2, 2)  # greyscale model: the channels' mean is x
    layer = resolve(model, "features")
    a0 = channel_attribution(model, contract, layer, image, 0)
    a1 = channel_attribution(model, contract, layer, image, 1)
    assert torch.allclose(a0.scores, torch.tensor([-0.5, 1.0], dtype=torch.float64))
    assert torch.allclose(a1.scores, torch.tensor([-0.25, -0.25], dtype=torch.float64))
    assert a0.logit == pytest.approx(0.8) and a1.logit == pytest.approx(-0.7)
    assert a0.top(1) == [(1, 1.0)]
    assert channel_attribution(model, contract, layer, image).class_index == 0  # the top class by default


def test_attribution_at_inception_5b_sums_to_the_logit_less_its_bias(tiny) -> None:
    # after inception_5b GoogLeNet is linear: average pool, dropout (off in eval), fc
    model, contract = tiny
    image = _real_images(1, 48)[0]
    for c in (0, 7):
        attr = channel_attribution(model, contract, resolve(model, "inception_5b"), image, c)
        assert attr.scores.shape == (model.num_features,)
        bias = float(model.fc.bias[c].detach())
        assert float(attr.scores.double().sum()) == pytest.approx(attr.logit - bias, abs=1e-4)


def test_attribution_sum_is_only_first_order_through_later_relus(tiny) -> None:
    # a control: before the last Inception modules the sum is no longer the logit (the test above can fail)
    model, contract = tiny
    image = _real_images(1, 48)[0]
    attr = channel_attribution(model, contract, resolve(model, "inception_4c"), image, 0)
    assert abs(float(attr.scores.sum()) - (attr.logit - float(model.fc.bias[0].detach()))) > 1e-3


def test_model_input_follows_a_caffe_contract() -> None:
    # BVLC's weights: BGR, pixels 0..255 minus the mean (104, 117, 123), std 1
    contract = ModelContract(
        "googlenet", 1000, pixel_range=255.0, channel_order="BGR", mean=(104.0, 117.0, 123.0), std=(1.0, 1.0, 1.0)
    )
    rgb = torch.tensor([0.2, 0.4, 0.8]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    expected = torch.tensor([0.8 * 255 - 104, 0.4 * 255 - 117, 0.2 * 255 - 123]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert torch.allclose(model_input(rgb, contract), expected, atol=1e-4)


def test_a_greyscale_model_is_visualised_through_the_channels_mean() -> None:
    model, contract = from_registry("googlenet", num_classes=10, width=0.125, in_chans=1)
    layer = resolve(model, "inception_3a")
    result = visualize(model, contract, layer, channel(0), size=24, steps=2)
    assert result.images.shape == (1, 3, 24, 24) and len(result.history) == 2
