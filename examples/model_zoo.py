"""The proof model set: small edge nets (the demo CNN, an MLP and the MLPerf Tiny shapes) built the
same way with edgekeras or real Keras, with trained weights, so the compiler is held against
architectures people actually deploy and against files that real Keras wrote.

`build(name, keras_module, seed)` gives identical weights in both libraries: the weights come from a
brief seeded training run with edgekeras's JAX trainer (on scikit-learn's digits for the two digit
classifiers, on learnable synthetic tasks for the MLPerf Tiny shapes, see `data`), kept in an on-disk
cache, and are copied into whichever library's model with set_weights.
"""

import contextlib
import functools
import hashlib
import io
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODELS = ("digits_cnn", "mlp", "ds_cnn", "mobilenet_v1_025", "resnet8", "dense_autoencoder")
CLASSIFIERS = ("digits_cnn", "mlp", "ds_cnn", "mobilenet_v1_025", "resnet8")
# Trained on real data (scikit-learn's digits); `data` gives their held-out digits.
TRAINED = ("digits_cnn", "mlp")
INPUT_SHAPES = {
    "digits_cnn": (8, 8, 1), "mlp": (64,), "ds_cnn": (49, 10, 1), "mobilenet_v1_025": (96, 96, 3),
    "resnet8": (32, 32, 3), "dense_autoencoder": (640,),
}


def _check_name(name):
    if name not in MODELS:
        raise ValueError(f"Unknown model '{name}'; the zoo has {', '.join(MODELS)}.")


# ---- architectures --------------------------------------------------------------------------------
def _digits_cnn(keras):
    L = keras.layers
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        L.Conv2D(16, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Conv2D(32, 3, padding="same", activation="relu"),
        L.GlobalAveragePooling2D(),
        L.Dropout(0.2),
        L.Dense(10, activation="softmax"),
    ], name="digits_cnn")


def _mlp(keras, units=(64, 32)):
    L = keras.layers
    hidden = [L.Dense(n, activation="relu") for n in units]
    return keras.Sequential([keras.Input(shape=(64,)), *hidden, L.Dense(10, activation="softmax")], name="mlp")


def _bn_relu(keras, x, max_value=None):
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU(max_value=max_value)(x)


def _ds_cnn(keras):
    """MLPerf Tiny keyword spotting (DS-CNN small), 49 MFCC frames x 10 coefficients, 12 keywords."""
    L = keras.layers
    inputs = keras.Input(shape=(49, 10, 1))
    x = L.Conv2D(64, (10, 4), strides=2, padding="same")(inputs)
    x = L.Dropout(0.2)(_bn_relu(keras, x))
    for _ in range(4):
        x = _bn_relu(keras, L.DepthwiseConv2D(3, padding="same")(x))
        x = _bn_relu(keras, L.Conv2D(64, 1, padding="same")(x))
    x = L.Dropout(0.4)(x)
    x = L.Flatten()(L.AveragePooling2D(pool_size=(25, 5))(x))
    return keras.Model(inputs, L.Dense(12, activation="softmax")(x), name="ds_cnn")


MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _mobilenet_v1_025(keras, alpha=0.25):
    """MLPerf Tiny visual wake words: Keras's MobileNet v1 layer pattern at width 0.25 (ReLU6,
    bias-free convs, asymmetric ZeroPadding2D before each stride-2 depthwise conv)."""
    L = keras.layers
    inputs = keras.Input(shape=(96, 96, 3))
    x = L.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False)(inputs)
    x = _bn_relu(keras, x, 6.0)
    for filters, stride in MOBILENET_BLOCKS:
        if stride == 2:
            x = L.ZeroPadding2D(((0, 1), (0, 1)))(x)
        x = L.DepthwiseConv2D(3, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False)(x)
        x = _bn_relu(keras, x, 6.0)
        x = _bn_relu(keras, L.Conv2D(int(filters * alpha), 1, padding="same", use_bias=False)(x), 6.0)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(2, activation="softmax")(x), name="mobilenet_v1_025")


def _resnet8(keras):
    """MLPerf Tiny image classification (CIFAR-10 ResNet-8)."""
    L = keras.layers
    inputs = keras.Input(shape=(32, 32, 3))
    x = _bn_relu(keras, L.Conv2D(16, 3, padding="same")(inputs))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = _bn_relu(keras, L.Conv2D(filters, 3, strides=stride, padding="same")(x))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.Flatten()(L.AveragePooling2D(pool_size=8)(x))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x), name="resnet8")


def _dense_autoencoder(keras, width=640):
    """MLPerf Tiny anomaly detection (ToyADMOS autoencoder), input 640 (5 frames x 128 mels)."""
    L = keras.layers
    inputs = keras.Input(shape=(width,))
    x = inputs
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = _bn_relu(keras, L.Dense(units)(x))
    return keras.Model(inputs, L.Dense(width)(x), name="dense_autoencoder")


ARCHITECTURES = {
    "digits_cnn": _digits_cnn, "mlp": _mlp, "ds_cnn": _ds_cnn, "mobilenet_v1_025": _mobilenet_v1_025,
    "resnet8": _resnet8, "dense_autoencoder": _dense_autoencoder,
}


# ---- weights --------------------------------------------------------------------------------------
# Every model gets a brief seeded training run: the digit models on scikit-learn's digits, the MLPerf
# Tiny shapes on the synthetic tasks of `data` (the classifiers its labels, the autoencoder to
# reconstruct its input). Untrained BatchNorm+ReLU stacks are chaotic: int8 rounding noise grows
# through them layer by layer as it does in no deployed (trained) net, so int8-vs-float results
# would measure the random init. Per model: (training samples, None = the digits training split,
# epochs, batch size, Adam learning rate). Training the whole zoo takes 1-2 minutes on two CPU cores,
# once per machine: the weights are cached on disk (see `_cache_path`).
TRAINING = {
    "digits_cnn": (None, 15, 64, 1e-2), "mlp": (None, 25, 64, 1e-2),
    "ds_cnn": (1024, 2, 32, 3e-3), "mobilenet_v1_025": (768, 6, 16, 5e-3), "resnet8": (1024, 2, 32, 3e-3),
    "dense_autoencoder": (2048, 12, 64, 3e-3),
}
BATCHNORM_SAMPLES = 256


def _training_set(name, seed):
    """(x, y) to fit: y is x itself for the autoencoder."""
    samples, *_ = TRAINING[name]
    if name in TRAINED:
        from digits_data import load_digits_split

        (x, y), _ = load_digits_split()
        return x.reshape((len(x),) + INPUT_SHAPES[name]), y
    x, y = data(name, samples, seed + 1000)
    return x, (x if y is None else y)


def _estimate_batchnorm(model, x):
    """Set every BatchNorm's moving statistics to those of one training-mode pass over `x` (what
    "precise BN" does): a few hundred steps leave Keras's momentum-0.99 averages far behind the
    trained weights."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.momentum = 0.0  # this model is discarded once its weights are read
    model(x, training=True)


def _train(name, seed):
    """The trained weights of `name`, made with edgekeras from `seed`."""
    import edgekeras

    edgekeras.utils.set_random_seed(seed)
    model = ARCHITECTURES[name](edgekeras)
    _, epochs, batch_size, rate = TRAINING[name]
    x, y = _training_set(name, seed)
    loss = "sparse_categorical_crossentropy" if name in CLASSIFIERS else "mse"
    model.compile(optimizer=edgekeras.optimizers.Adam(rate), loss=loss)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
    _estimate_batchnorm(model, x[:BATCHNORM_SAMPLES])
    return [np.asarray(w, dtype="float32") for w in model.get_weights()]


def _cache_path(name, seed):
    """Where the weights of (name, seed) are kept between processes; the key changes whenever this
    file or the digits loader changes, so an edited recipe never reads stale weights."""
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for source in ("model_zoo.py", "digits_data.py"):
        with open(os.path.join(here, source), "rb") as f:
            digest.update(f.read())
    folder = os.environ.get("EDGEKERAS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgekeras")
    return os.path.join(folder, "zoo", f"{name}-{seed}-{digest.hexdigest()[:16]}.npz")


def _store(path, weights):
    """Write atomically (temp file + rename): test workers may train the same model at once. An
    unwritable cache only costs the next process a retraining."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), suffix=".tmp", delete=False) as f:
            np.savez(f, *weights)
        os.replace(f.name, path)
    except OSError:
        pass


@functools.lru_cache(maxsize=None)
def _weights(name, seed):
    """The zoo's weights for (name, seed): trained once, then read from the on-disk cache."""
    path = _cache_path(name, seed)
    if os.path.exists(path):
        with np.load(path) as saved:
            return tuple(saved[f"arr_{i}"] for i in range(len(saved.files)))
    weights = _train(name, seed)
    _store(path, weights)
    return tuple(weights)


def build(name, keras_module, seed=0):
    """The model `name` built with `keras_module` (edgekeras or keras), carrying the zoo's weights."""
    _check_name(name)
    model = ARCHITECTURES[name](keras_module)
    model.set_weights(list(_weights(name, seed)))
    return model


# ---- data -----------------------------------------------------------------------------------------
# The synthetic tasks' fixed parts (keyword templates, image palette, machine-sound spectra) come from
# this seed, independent of the `seed` that draws samples.
TASK_SEED = 20261104
CLASSES = {"ds_cnn": 12, "mobilenet_v1_025": 2, "resnet8": 10}


def data(name, n, seed=0):
    """(x, y): `n` float32 inputs for `name` and their int labels (None for the autoencoder).
    Digit inputs come from the held-out split the models were not trained on. The others are drawn
    from `seed` (the training sets use seeds >= 1000) for synthetic tasks shaped like the MLPerf Tiny
    ones: keywords told apart by their spectral envelope (DS-CNN), images classified by the frequency
    band and colour of their dominant wave (ResNet-8, MobileNet), machine sounds to reconstruct
    (autoencoder)."""
    _check_name(name)
    rng = np.random.default_rng(seed)
    if name in TRAINED:
        from digits_data import load_digits_split

        _, (x_test, y_test) = load_digits_split()
        if n > len(x_test):
            raise ValueError(f"data('{name}'): only {len(x_test)} held-out digits, asked for {n}.")
        pick = rng.choice(len(x_test), n, replace=False)
        x = x_test[pick].reshape((n,) + INPUT_SHAPES[name])
        return x.astype("float32"), y_test[pick]
    if name == "dense_autoencoder":
        return _machine_sounds(rng, n).astype("float32"), None
    y = rng.integers(0, CLASSES[name], n)
    maker = _keywords if name == "ds_cnn" else _images
    return maker(rng, y, CLASSES[name], INPUT_SHAPES[name]).astype("float32"), y


def _images(rng, y, classes, shape, distractors=2):
    """Images in [0, 1]: a dominant plane wave in a random direction whose frequency band (label
    parity: 1.5-4 or 7-11 cycles per image) and colour (label // 2, on a hue wheel) give the label,
    plus weaker random waves, a colour cast and noise."""
    (height, width, channels), n = shape, len(y)
    band = np.where(y % 2 == 0, rng.uniform(1.5, 4.0, n), rng.uniform(7.0, 11.0, n))
    angle = rng.uniform(0, np.pi, n)
    dominant = (band[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1))[:, None]
    freq = np.concatenate([dominant, rng.uniform(-12, 12, (n, distractors, 2))], 1)
    hue = 2 * np.pi * (y // 2) / ((classes + 1) // 2)
    colour = 0.5 + 0.5 * np.cos(hue[:, None] + 2 * np.pi * np.arange(channels) / channels)
    colours = np.concatenate([1.5 * colour[:, None], 0.5 * rng.uniform(0, 1, (n, distractors, channels))], 1)
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    phase = rng.uniform(0, 2 * np.pi, (n, distractors + 1, 1, 1))
    planes = np.sin(2 * np.pi * (freq[..., 0, None, None] * yy + freq[..., 1, None, None] * xx) + phase)
    img = np.einsum("nkhw,nkc->nhwc", planes, colours)
    img += 0.5 * rng.uniform(-1, 1, (n, 1, 1, channels)) + 0.3 * rng.normal(size=img.shape)
    return 1 / (1 + np.exp(-img))


def _keywords(rng, y, classes, shape):
    """MFCC-like frames (49 x 10, about unit scale) of `classes` keywords: each keyword's spectral
    envelope glides from a start to an end template over the utterance; a per-utterance offset and
    frame noise make its samples differ."""
    frames, bins, _ = shape
    start, end = np.random.default_rng(TASK_SEED).normal(0, 1, (2, classes, 1, bins))
    glide = np.linspace(0, 1, frames)[:, None]
    x = (1 - glide) * start[y] + glide * end[y]
    x += 0.5 * rng.normal(0, 1, (len(y), 1, bins)) + 0.5 * rng.normal(0, 1, (len(y), frames, bins))
    return x[..., None]


def _machine_sounds(rng, n, frames=5, bins=128, modes=6):
    """Log-mel-like frames (5 x 128, flattened) of a machine whose spectrum mixes a few smooth
    resonances: low-dimensional like a normal machine's sound, so the autoencoder's 8-unit
    bottleneck can reconstruct it up to the frame noise; the resonances' amplitudes are bounded, as
    real energies are, so a calibration set of ~100 samples covers the output range."""
    centres = np.random.default_rng(TASK_SEED).uniform(0, bins, modes)
    resonances = np.exp(-0.5 * ((np.arange(bins) - centres[:, None]) / 10.0) ** 2)
    envelope = rng.uniform(-1.7, 1.7, (n, modes)) @ resonances
    return (envelope[:, None, :] + 0.3 * rng.normal(0, 1, (n, frames, bins))).reshape(n, frames * bins)


# ---- files written by real Keras ------------------------------------------------------------------
def _real_keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def _keras_model(name, seed):
    """The real-Keras model, called once (Keras's ONNX export needs a traced call)."""
    model = build(name, _real_keras(), seed)
    model(data(name, 1, seed)[0])
    return model


def save_keras_variants(name, folder, seed=0):
    """Save NAME.keras and legacy NAME.h5 written by real Keras; returns the two paths."""
    _check_name(name)
    model = _keras_model(name, seed)
    os.makedirs(folder, exist_ok=True)
    paths = os.path.join(folder, f"{name}.keras"), os.path.join(folder, f"{name}.h5")
    for path in paths:
        model.save(path)
    return paths


def export_onnx(name, folder, seed=0):
    """NAME.onnx exported by Keras itself (`model.export(format="onnx")`); returns its path."""
    _check_name(name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.onnx")
    _keras_model(name, seed).export(path, format="onnx", verbose=False)
    return path


def export_tflite(name, folder, seed=0):
    """NAME.tflite (float) converted by TensorFlow's TFLiteConverter; returns its path."""
    import tensorflow as tf

    _check_name(name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.tflite")
    converter = tf.lite.TFLiteConverter.from_keras_model(_keras_model(name, seed))
    with contextlib.redirect_stdout(io.StringIO()):  # TensorFlow prints the whole saved signature
        flat = converter.convert()
    with open(path, "wb") as f:
        f.write(flat)
    return path
