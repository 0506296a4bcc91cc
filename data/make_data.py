"""Rebuild everything in data/ deterministically, offline, in well under a minute on 2 CPU cores.

    python data/make_data.py            # rewrite data/ (same content every time)
    python data/make_data.py --check    # rebuild in a temp folder, compare with data/manifest.json

What it makes (from scikit-learn's bundled digits, so nothing is downloaded):
  digits.npz          8x8 digit images (0..16 ints as sklearn ships them) split 80/20, stratified, seed 0
  digits_cnn.pt       state_dict of course_utils.models.DigitsCNN trained on the split (PyTorch)
  digits_keras.keras  a small Keras CNN trained on the same split (channels-last input)
  manifest.json       content hashes, test accuracies and the package versions that made them

Content hashes cover the arrays and weights, not the container bytes (a .keras file records its save time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np

# Set before TensorFlow loads: quiet C++ logging, and no oneDNN kernels, which may reorder float reductions
# (with them off, training gives the same weights on every x86 CPU).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

DATA_DIR = Path(__file__).resolve().parent
SEED = 0
TORCH_EPOCHS = 25
KERAS_EPOCHS = 40


def sha256_arrays(arrays: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def save_npz_deterministic(path: Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but with fixed zip timestamps so rebuilding gives identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buffer = BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())


def make_digits(out: Path) -> dict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.data.astype(np.uint8)  # values 0..16
    y = bunch.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SEED)
    save_npz_deterministic(out / "digits.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return {
        "file": "digits.npz",
        "content_sha256": sha256_arrays([x_train, y_train, x_test, y_test]),
        "train": len(x_train),
        "test": len(x_test),
        "source": "sklearn.datasets.load_digits (bundled with scikit-learn)",
    }


def _scaled(split: dict, key: str) -> np.ndarray:
    return (split[key].astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)


def make_torch_cnn(out: Path, split: dict) -> dict:
    import torch

    from course_utils.models import DigitsCNN

    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # one thread: reductions happen in the same order on every machine
    torch.use_deterministic_algorithms(True)
    x_train, y_train = torch.from_numpy(_scaled(split, "x_train")), torch.from_numpy(split["y_train"].astype(np.int64))
    x_test, y_test = torch.from_numpy(_scaled(split, "x_test")), torch.from_numpy(split["y_test"].astype(np.int64))
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(TORCH_EPOCHS):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(1) == y_test).float().mean())
    state = model.state_dict()
    torch.save(state, out / "digits_cnn.pt")
    return {
        "file": "digits_cnn.pt",
        "content_sha256": sha256_arrays([v.numpy() for v in state.values()]),
        "test_accuracy": round(accuracy, 4),
        "epochs": TORCH_EPOCHS,
    }


def make_keras_model(out: Path, split: dict) -> dict:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    x_train = _scaled(split, "x_train").transpose(0, 2, 3, 1)  # Keras is channels-last (NHWC)
    x_test = _scaled(split, "x_test").transpose(0, 2, 3, 1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax", name="probabilities"),
        ],
        name="digits_keras",
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, split["y_train"], epochs=KERAS_EPOCHS, batch_size=64, shuffle=True, verbose=0)
    _, accuracy = model.evaluate(x_test, split["y_test"], verbose=0)
    model.save(out / "digits_keras.keras")
    return {
        "file": "digits_keras.keras",
        "content_sha256": sha256_arrays([np.asarray(w) for w in model.get_weights()]),
        "test_accuracy": round(float(accuracy), 4),
        "epochs": KERAS_EPOCHS,
    }


def build(out: Path) -> dict:
    import sklearn
    import tensorflow as tf
    import torch

    digits = make_digits(out)
    with np.load(out / "digits.npz") as f:
        split = {k: f[k] for k in f.files}
    return {
        "digits": digits,
        "torch_cnn": make_torch_cnn(out, split),
        "keras_cnn": make_keras_model(out, split),
        "versions": {
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
            "tensorflow": tf.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="rebuild in a temp folder and compare with data/")
    args = parser.parse_args(argv)
    if not args.check:
        manifest = build(DATA_DIR)
        (DATA_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(manifest, indent=2))
        return 0
    committed = json.loads((DATA_DIR / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = build(Path(tmp))
    problems = [
        f"{key}: committed {committed[key]['content_sha256'][:12]}, rebuilt {rebuilt[key]['content_sha256'][:12]}"
        for key in ("digits", "torch_cnn", "keras_cnn")
        if committed[key]["content_sha256"] != rebuilt[key]["content_sha256"]
    ]
    if problems:
        print("data/ differs from a fresh rebuild:\n  " + "\n  ".join(problems))
        return 1
    print("data/ matches a fresh rebuild (digits, torch_cnn, keras_cnn)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
