"""Callbacks (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger), then save and reload."""

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from digits_data import load_digits_split  # noqa: E402

import edgekeras as keras  # noqa: E402

(x_train, y_train), (x_test, y_test) = load_digits_split()
workdir = tempfile.mkdtemp()

model = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
    keras.callbacks.ModelCheckpoint(os.path.join(workdir, "best.keras"), monitor="val_loss", save_best_only=True),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2),
    keras.callbacks.CSVLogger(os.path.join(workdir, "training.csv")),
]
history = model.fit(x_train, y_train, batch_size=32, epochs=40, validation_split=0.2, callbacks=callbacks, verbose=2)
print("epochs run:", len(history.history["loss"]))

path = os.path.join(workdir, "digits_mlp.keras")
model.save(path)
reloaded = keras.models.load_model(path)
np.testing.assert_allclose(model.predict(x_test, verbose=0), reloaded.predict(x_test, verbose=0), atol=1e-6)
best = keras.models.load_model(os.path.join(workdir, "best.keras"))
loss, accuracy = reloaded.evaluate(x_test, y_test, verbose=0)
print(f"reloaded model predicts identically; test_accuracy={accuracy:.4f}")
