"""Training on an NVIDIA GPU through JAX: runs where JAX sees one, skips (with the reason) elsewhere."""

import jax
import numpy as np
import pytest

import edgekeras as ek

pytestmark = pytest.mark.gpu


@pytest.fixture
def gpu():
    device = jax.devices()[0]
    if device.platform != "gpu":
        pytest.skip(f"needs a GPU visible to JAX; jax.devices()[0] is {device.platform} ({device.device_kind})")
    return device


def bright_half_images(n, seed):
    """16x16 noise images; the label says whether the top or the bottom half is brighter."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 0.5, (n, 16, 16, 1)).astype("float32")
    x[y == 0, :8] += 0.5
    x[y == 1, 8:] += 0.5
    return x, y


def test_a_small_cnn_trains_on_the_gpu(gpu):
    ek.utils.set_random_seed(0)
    model = ek.Sequential([ek.Input((16, 16, 1)), ek.layers.Conv2D(8, 3, activation="relu"),
                           ek.layers.MaxPooling2D(), ek.layers.Flatten(), ek.layers.Dense(2, activation="softmax")])
    model.compile(ek.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = bright_half_images(512, seed=0)
    history = model.fit(x, y, batch_size=64, epochs=4, verbose=0)
    x_test, y_test = bright_half_images(256, seed=1)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"] > 0.9
    # The trained state is what the compiled steps returned: it must live on the GPU, not the host.
    state = model.weights + model.optimizer.variables + [v for m in model.metrics for v in m.variables]
    assert {device for v in state for device in v.value.devices()} == {gpu}
