"""`make demo`: train a small CNN on scikit-learn's digits with edgekeras and save model.keras."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import edgekeras as keras  # noqa: E402
from digits_data import load_digits_split  # noqa: E402

OUT_DIR = os.environ.get("EDGEKERAS_DEMO_OUT", "out")


def build_model():
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ], name="digits_cnn")


def main():
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits_split()
    model = build_model()
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=30, validation_split=0.1, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print("\nHistory (last epoch):", {k: round(v[-1], 4) for k, v in history.history.items()})
    print(f"Test accuracy: {accuracy:.4f} (loss {loss:.4f}) on {len(x_test)} held-out digits")
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "model.keras")
    model.save(path)
    print(f"Saved {path}")
    if accuracy < 0.95:
        sys.exit(f"Demo accuracy {accuracy:.4f} is below the 0.95 bar.")


if __name__ == "__main__":
    main()
