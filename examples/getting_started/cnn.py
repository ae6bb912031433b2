"""A Conv2D / MaxPooling2D / Flatten CNN, as in the tf.keras image classification guide."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from digits_data import load_digits_split  # noqa: E402

import edgekeras as keras  # noqa: E402
from edgekeras import layers  # noqa: E402

(x_train, y_train), (x_test, y_test) = load_digits_split()
num_classes = 10
y_train_onehot = keras.utils.to_categorical(y_train, num_classes)
y_test_onehot = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(16, kernel_size=(3, 3), activation="relu", padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train_onehot, batch_size=64, epochs=20, validation_split=0.1, verbose=2)
score = model.evaluate(x_test, y_test_onehot, verbose=0)
print("Test loss:", score[0])
print(f"test_accuracy={score[1]:.4f}")
