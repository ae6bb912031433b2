"""The proof model set: small edge nets (the demo CNN, an MLP and the MLPerf Tiny shapes) built the
same way with edgekeras or real Keras, with seeded weights, so the compiler is held against
architectures people actually deploy and against files that real Keras wrote.

`build(name, keras_module, seed)` gives identical weights in both libraries: the weights are made
once with edgekeras (seeded random values with BatchNorm statistics and the output layer calibrated
on seeded inputs, or a brief seeded training run on scikit-learn's digits for the two digit
classifiers) and copied into whichever library's model with set_weights.
"""

import contextlib
import functools
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODELS = ("digits_cnn", "mlp", "ds_cnn", "mobilenet_v1_025", "resnet8", "dense_autoencoder")
CLASSIFIERS = ("digits_cnn", "mlp", "ds_cnn", "mobilenet_v1_025", "resnet8")
TRAINED = ("digits_cnn", "mlp")
# Spread of the last Dense's outputs for the seeded random nets: logits of a few units give clear
# top-1 decisions (MobileNet's are kept smaller: float rounding grows through its 27 layers, and
# softmax errors scale with the logits); the autoencoder reconstructs unit-scale features.
HEAD_STD = {"ds_cnn": 2.0, "mobilenet_v1_025": 1.0, "resnet8": 2.0, "dense_autoencoder": 1.0}
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
def _random_weights(layer, rng):
    """He-normal kernels and small biases; BatchNorm gets random gamma/beta and placeholder
    statistics that `_calibrate_batchnorm` replaces."""
    out = []
    for var in layer.weights:
        shape = tuple(var.shape)
        short = var.name.split("/")[-1]
        if short == "gamma":
            out.append(rng.uniform(0.6, 1.4, shape))
        elif short == "moving_variance":
            out.append(np.ones(shape))
        elif short in ("kernel", "depthwise_kernel"):
            fan_in = np.prod(shape[:2]) if short == "depthwise_kernel" else np.prod(shape[:-1])
            out.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape))
        else:  # bias, beta, moving_mean
            out.append(rng.normal(0.0, 0.1, shape))
    return [w.astype("float32") for w in out]


def _calibrate_batchnorm(model, x, rng):
    """Set each BatchNorm's moving statistics near the real statistics of its input on `x`, then
    perturb them: the outputs stay input-dependent through deep stacks of seeded random layers,
    and the statistics are far from (0, 1), so folding BN into the convs is really exercised."""
    import edgekeras

    bns = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    probe = edgekeras.Model(model.inputs, [bn._inbound_nodes[0].input_tensors[0] for bn in bns])
    for i, bn in enumerate(bns):
        act = np.asarray(probe(x)[i])
        act = act.reshape(-1, act.shape[-1])
        # Nearly dead channels would get huge BN gains that amplify float noise: floor their spread.
        mean, std = act.mean(axis=0), act.std(axis=0)
        std = np.maximum(std, 0.5 * np.median(std) + 1e-3)
        gamma, beta, _, _ = bn.get_weights()
        mean = mean + 0.2 * std * rng.normal(size=mean.shape)
        var = std ** 2 * rng.uniform(0.7, 1.4, std.shape)
        bn.set_weights([gamma, beta, mean.astype("float32"), var.astype("float32")])


def _calibrate_head(model, x, target_std):
    """Center the last Dense's outputs on `x` and scale them to `target_std`: seeded random nets
    otherwise let one input-independent direction pick the same class for every input, and top-1
    agreement would test nothing."""
    import edgekeras

    head = model.layers[-1]
    feats = np.asarray(edgekeras.Model(model.inputs, head._inbound_nodes[0].input_tensors[0])(x))
    kernel, _ = head.get_weights()
    out = feats @ kernel
    scale = target_std / (out.std(axis=0).mean() + 1e-6)
    head.set_weights([(kernel * scale).astype("float32"), (-out.mean(axis=0) * scale).astype("float32")])


def _train_digits(model, name):
    """A brief seeded training run on scikit-learn's digits so top-1 means something."""
    import edgekeras
    from digits_data import load_digits_split

    (x_train, y_train), _ = load_digits_split()
    if name == "mlp":
        x_train = x_train.reshape(len(x_train), 64)
    model.compile(optimizer=edgekeras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, batch_size=64, epochs=15 if name == "digits_cnn" else 25, verbose=0, shuffle=True)


@functools.lru_cache(maxsize=None)
def _weights(name, seed):
    """The zoo's weights for (name, seed), made once per process with edgekeras."""
    import edgekeras

    edgekeras.utils.set_random_seed(seed)
    model = ARCHITECTURES[name](edgekeras)
    if name in TRAINED:
        _train_digits(model, name)
    else:
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(_random_weights(layer, rng))
        x = data(name, 32, seed + 1000)[0]
        _calibrate_batchnorm(model, x, rng)
        _calibrate_head(model, x, HEAD_STD[name])
    return tuple(np.array(w, dtype="float32") for w in model.get_weights())


def build(name, keras_module, seed=0):
    """The model `name` built with `keras_module` (edgekeras or keras), carrying the zoo's weights."""
    _check_name(name)
    model = ARCHITECTURES[name](keras_module)
    model.set_weights(list(_weights(name, seed)))
    return model


# ---- data -----------------------------------------------------------------------------------------
def data(name, n, seed=0):
    """(x, y): `n` float32 inputs for `name`, and int labels for the digit models (None otherwise).
    Digit inputs come from the held-out split the models were not trained on."""
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
    if name in ("mobilenet_v1_025", "resnet8"):
        return _images(rng, n, *INPUT_SHAPES[name]), None
    frames = {"ds_cnn": (49, 10), "dense_autoencoder": (5, 128)}[name]
    return _features(rng, n, *frames).reshape((n,) + INPUT_SHAPES[name]), None


def _images(rng, n, height, width, channels, waves=3):
    """Images in [0, 1] made of a few random plane waves per image plus a colour cast and noise:
    unlike white noise, they differ from each other after global pooling."""
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    freq = rng.uniform(-12.0, 12.0, (n, waves, 2, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, waves, 1, 1))
    planes = np.sin(2 * np.pi * (freq[:, :, 0] * yy + freq[:, :, 1] * xx) + phase)
    img = np.einsum("nkhw,nkc->nhwc", planes, rng.uniform(0, 1, (n, waves, channels)))
    img += rng.uniform(-1, 1, (n, 1, 1, channels)) + 0.3 * rng.normal(size=img.shape)
    return (1 / (1 + np.exp(-img))).astype("float32")


def _features(rng, n, frames, bins):
    """Standardized MFCC / log-mel-like frames: a per-utterance spectral envelope plus frame noise."""
    envelope = rng.normal(0, 1, (n, 1, bins))
    return (envelope + 0.5 * rng.normal(0, 1, (n, frames, bins))).astype("float32")


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
