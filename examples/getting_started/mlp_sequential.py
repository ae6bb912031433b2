"""A Sequential MLP, written exactly as for tf.keras; only the import line names edgekeras."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from digits_data import load_digits_split  # noqa: E402

import edgekeras as keras  # noqa: E402

(x_train, y_train), (x_test, y_test) = load_digits_split()
x_train = x_train.reshape(-1, 64)
x_test = x_test.reshape(-1, 64)

model = keras.Sequential(
    [
        keras.Input(shape=(64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.summary()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1, verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
predictions = model.predict(x_test[:5], verbose=0)
print("predicted classes:", np.argmax(predictions, axis=-1), "true:", y_test[:5])
print(f"test_accuracy={accuracy:.4f}")
