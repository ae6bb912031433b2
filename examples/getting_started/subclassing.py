"""A subclassed Model with __init__/call, trained with fit, as in the tf.keras guide."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from digits_data import load_digits_split  # noqa: E402

import edgekeras as keras  # noqa: E402


class DigitClassifier(keras.Model):
    def __init__(self, hidden=64, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(hidden, activation="relu")
        self.dropout = keras.layers.Dropout(0.1)
        self.classifier = keras.layers.Dense(num_classes, activation="softmax")

    def call(self, inputs, training=False):
        x = self.flatten(inputs)
        x = self.hidden(x)
        x = self.dropout(x, training=training)
        return self.classifier(x)


(x_train, y_train), (x_test, y_test) = load_digits_split()
model = DigitClassifier()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=15, verbose=2)
model.summary()
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test_accuracy={accuracy:.4f}")
