"""Looking inside GoogLeNet: feature visualisation, DeepDream and channel attribution.

- :mod:`.layers`: the papers' layer names (Caffe/BVLC, Table 1, Lucid) -> this project's modules;
- :mod:`.capture`: a layer's activations by a forward hook; the smallest input that reaches a layer;
- :mod:`.params`: the Fourier image with decorrelated colour (Lucid's parameterisation);
- :mod:`.transforms`: random jitter, scale and rotation (transformation robustness);
- :mod:`.objectives`: channel, neuron, layer L2 (DeepDream), direction; total variation;
- :mod:`.visualize`: the optimisation loop (Distill's *Feature Visualization*, 2017);
- :mod:`.dream`: DeepDream with octaves and jitter (the 2015 notebook);
- :mod:`.attribution`: activation x gradient per channel (*The Building Blocks of Interpretability*, 2018);
- :mod:`.images`: photos in, PNGs, grids and the attribution sheet out;
- :mod:`.load`: the one place models and checkpoints are loaded from.

The commands are ``googlenet visualize``, ``googlenet dream`` and ``googlenet attribute`` (docs/interpret.md).
"""
