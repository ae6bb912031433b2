"""The Functional API: two inputs, a residual Add, a Concatenate and two outputs, as in tf.keras."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from digits_data import load_digits_split  # noqa: E402

import edgekeras as keras  # noqa: E402
from edgekeras import layers  # noqa: E402

(x_train, y_train), (x_test, y_test) = load_digits_split()
rows_train, cols_train = x_train.mean(axis=2)[..., 0], x_train.mean(axis=1)[..., 0]
rows_test, cols_test = x_test.mean(axis=2)[..., 0], x_test.mean(axis=1)[..., 0]

image = keras.Input(shape=(8, 8, 1), name="image")
profile = keras.Input(shape=(16,), name="profile")
x = layers.Flatten()(image)
x = layers.Dense(32, activation="relu")(x)
shortcut = x
x = layers.Dense(32, activation="relu")(x)
x = layers.Add()([x, shortcut])
merged = layers.Concatenate()([x, layers.Dense(16, activation="relu")(profile)])
digit = layers.Dense(10, activation="softmax", name="digit")(merged)
is_even = layers.Dense(1, activation="sigmoid", name="is_even")(merged)
model = keras.Model(inputs=[image, profile], outputs=[digit, is_even], name="two_headed")
model.summary()

model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    loss={"digit": "sparse_categorical_crossentropy", "is_even": "binary_crossentropy"},
    loss_weights={"digit": 1.0, "is_even": 0.5},
    metrics={"digit": ["accuracy"], "is_even": ["accuracy"]},
)
train_inputs = {"image": x_train, "profile": np.concatenate([rows_train, cols_train], axis=1)}
test_inputs = {"image": x_test, "profile": np.concatenate([rows_test, cols_test], axis=1)}
model.fit(train_inputs, {"digit": y_train, "is_even": (y_train % 2 == 0).astype("float32")},
          batch_size=64, epochs=20, verbose=2)
results = model.evaluate(test_inputs, {"digit": y_test, "is_even": (y_test % 2 == 0).astype("float32")},
                         verbose=0, return_dict=True)
print(results)
print(f"test_accuracy={results['digit_accuracy']:.4f}")
