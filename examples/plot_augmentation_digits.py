"""
Image augmentation on scikit-learn's digits
===========================================

The same network is trained at equal epochs with no augmentation, with image augmentation
(small rotations, shifts and zoom, as Keras' old ``ImageDataGenerator`` did) and with dropout
plus augmentation, plus ZCA whitening in front of the plain network for comparison. Each
variant is scored by 5-fold cross-validation; the script prints a table and saves a grid of
augmented digits to ``skreg-output/augmented_digits.png``.

The pixels are divided by 16 (their maximum), and ``numeric_scaling=None`` keeps the
estimator from scaling each pixel column on its own: image transforms move pixels around,
so every pixel must be on the same scale (the estimator refuses an ``ImageAugmentation``
otherwise).

Run: ``python examples/plot_augmentation_digits.py`` (about a minute on 2 cores).
"""

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skreg import ImageAugmentation, RegularizedMLPClassifier, ZCAWhitening  # noqa: E402
from skreg.augmentation import augment  # noqa: E402

X, y = load_digits(return_X_y=True)
X = X / 16.0
images = ImageAugmentation((8, 8), rotation=12, translation=0.1, zoom=0.1)
network = dict(
    hidden_layer_sizes=(256, 256), max_iter=60, batch_size=64, numeric_scaling=None, random_state=0
)
variants = {
    "none": RegularizedMLPClassifier(**network),
    "ZCA whitening": make_pipeline(ZCAWhitening(), RegularizedMLPClassifier(**network)),
    "augmentation": RegularizedMLPClassifier(**network, augmentation=images),
    "dropout + augmentation": RegularizedMLPClassifier(
        **network, dropout=0.3, augmentation=images
    ),
}

cv = StratifiedKFold(5, shuffle=True, random_state=0)
print(f"{'variant':<24}{'train acc':>10}{'CV acc':>16}{'gap':>8}{'fit s':>8}")
for name, model in variants.items():
    start = time.perf_counter()
    scores = cross_validate(model, X, y, cv=cv, return_train_score=True)
    seconds = (time.perf_counter() - start) / cv.get_n_splits()
    train, test = scores["train_score"].mean(), scores["test_score"]
    print(
        f"{name:<24}{train:>10.3f}{test.mean():>9.3f} ± {test.std():.3f}"
        f"{train - test.mean():>8.3f}{seconds:>8.1f}"
    )

# What the network sees: each row is one digit, then four augmented versions of it.
originals = X[:6]
fig, axes = plt.subplots(len(originals), 5, figsize=(5, 6))
for col in range(5):
    shown = originals if col == 0 else augment(images, originals, random_state=col)
    for row, image in enumerate(shown):
        axes[row, col].imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[row, col].set_axis_off()
axes[0, 0].set_title("original", fontsize=8)
for col in range(1, 5):
    axes[0, col].set_title(f"augmented {col}", fontsize=8)
fig.suptitle("ImageAugmentation(rotation=12, translation=0.1, zoom=0.1)", fontsize=9)
fig.tight_layout()
out = Path("skreg-output")
out.mkdir(exist_ok=True)
fig.savefig(out / "augmented_digits.png", dpi=100)
print(f"saved {out / 'augmented_digits.png'}")
