"""Augmentation: what each one does to a batch, and how fits use it."""

import keras
import numpy as np
import pandas as pd
import pytest
from plain import plain
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV

import skreg._base
from skreg import (
    GaussianNoise,
    ImageAugmentation,
    Mixup,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
    SwapNoise,
)
from skreg._engine._augmenters import build_augmenter
from skreg._training import epoch_batches
from skreg.augmentation import plan_augmentation


def make(cls=RegularizedMLPClassifier, **params):
    defaults = dict(hidden_layer_sizes=(16,), learning_rate=1e-2, max_iter=8, random_state=0)
    return cls(**{**plain(cls), **defaults, **params})


def augmenter(*augmentations, n_features, seed=0, n_codes=0, sources=None):
    plan = plan_augmentation(list(augmentations), n_features, sources=sources)
    layer = build_augmenter(plan.kinds, n_codes, n_features)
    state = layer.initial_state(plan.strengths, np.random.SeedSequence(seed), plan.sources)
    for variable, value in zip(layer.non_trainable_variables, state):
        variable.assign(value)
    return layer


def augment(layer, x, y=None, host_arrays=()):
    y = np.zeros((len(x), 1), dtype=np.float32) if y is None else y
    x_out, y_out = layer(x, y, *host_arrays)
    return keras.ops.convert_to_numpy(x_out), keras.ops.convert_to_numpy(y_out)


@pytest.mark.parametrize(
    "augmentation",
    [
        GaussianNoise(std=0.0),
        SwapNoise(rate=0.0),
        Mixup(alpha=0.0),
        ImageAugmentation((2, 4)),
        [GaussianNoise(std=0.0), Mixup(alpha=0.0)],
    ],
    ids=repr,
)
def test_zero_strength_augmentation_trains_the_same_model(classification_data, augmentation):
    X, y = classification_data
    plain = make().fit(X, y).predict_proba(X)
    augmented = make(augmentation=augmentation).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(augmented, plain)


@pytest.mark.parametrize(
    "augmentation",
    [
        GaussianNoise(std=0.5),
        SwapNoise(rate=0.3),
        Mixup(alpha=0.4),
        ImageAugmentation((2, 4), horizontal_flip=True, contrast=0.3),
        ImageAugmentation((2, 4), rotation=20, translation=0.2, zoom=0.2),
        [SwapNoise(rate=0.2), GaussianNoise(std=0.2), Mixup(alpha=0.2)],
    ],
    ids=repr,
)
def test_augmented_fit_is_reproducible_and_predicts_deterministically(
    classification_data, augmentation, numpy_forward
):
    X, y = classification_data
    plain = make().fit(X, y).predict_proba(X)
    clf = make(augmentation=augmentation).fit(X, y)
    first = clf.predict_proba(X)
    assert not np.allclose(first, plain), "the augmentation changed nothing"
    # Predictions see no augmentation: they are the weights' own forward pass.
    np.testing.assert_allclose(first, numpy_forward(clf, X), rtol=1e-4, atol=1e-6)
    # Another seed in between: a program's random states are reseeded by each fit.
    other = make(augmentation=augmentation, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(other, first)
    np.testing.assert_array_equal(
        make(augmentation=augmentation).fit(X, y).predict_proba(X), first
    )


def test_regressor_trains_with_mixup_and_noise(regression_data):
    X, y = regression_data
    reg = make(RegularizedMLPRegressor, augmentation=[Mixup(0.3), GaussianNoise(0.1)])
    reg.set_params(max_iter=60).fit(X, y)
    assert reg.predict(X).shape == y.shape
    assert reg.score(X, y) > 0.8


def test_validation_rows_are_not_augmented(classification_data):
    X, y = classification_data
    seen = {}

    def scorer(estimator, X_val, y_val):
        seen["X"], seen["y"] = X_val.copy(), y_val.copy()
        return -log_loss(y_val, estimator.predict_proba(X_val), labels=estimator.classes_)

    clf = make(
        augmentation=GaussianNoise(std=50.0),
        early_stopping=True,
        scoring=scorer,
        max_iter=1,
        validation_fraction=0.25,
    ).fit(X, y)
    # The scorer got original rows of X...
    assert all((X == row).all(axis=1).any() for row in seen["X"])
    # ...and the recorded validation loss is the fitted network's loss on those rows, unaugmented.
    expected = log_loss(seen["y"], clf.predict_proba(seen["X"]), labels=clf.classes_)
    assert clf.history_["val_loss"][0] == pytest.approx(expected, rel=1e-4)


def test_grid_search_over_an_augmentation_field(classification_data):
    X, y = classification_data
    search = GridSearchCV(
        make(augmentation=GaussianNoise()), {"augmentation__std": [0.0, 3.0]}, cv=2
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert list(search.cv_results_["param_augmentation__std"]) == [0.0, 3.0]
    assert scores[0] > scores[1], "heavy noise should hurt on this clean data"
    assert search.best_estimator_.augmentation.std == 0.0


def test_clone_copies_augmentation_settings():
    clf = make(augmentation=[ImageAugmentation((8, 8), rotation=12, zoom=0.1), Mixup(alpha=0.3)])
    copy = clone(clf)
    assert copy.augmentation is not clf.augmentation
    assert [a.get_params() for a in copy.augmentation] == [
        a.get_params() for a in clf.augmentation
    ]
    single = clone(make(augmentation=SwapNoise(rate=0.25)))
    assert single.get_params()["augmentation__rate"] == 0.25


def test_changing_augmentation_on_warm_start_continues_the_network(classification_data):
    X, y = classification_data
    clf = make(warm_start=True).fit(X, y)
    weights = clf.model_.get_weights()
    optimizer_steps = int(clf.model_.optimizer.iterations)
    clf.set_params(augmentation=GaussianNoise(0.1), max_iter=2).fit(X, y)
    assert clf.n_iter_ == 10
    assert int(clf.model_.optimizer.iterations) == optimizer_steps + 2  # one batch per epoch
    assert not np.allclose(clf.model_.get_weights()[0], weights[0])


def test_a_search_over_augmentation_strengths_compiles_once(classification_data):
    import skreg

    X, y = classification_data
    before = skreg.program_cache_info().epoch_compiles
    for augmentation in [
        [GaussianNoise(0.1), SwapNoise(0.1), Mixup(0.2)],
        [GaussianNoise(0.3), SwapNoise(0.25), Mixup(0.7)],
    ]:
        make(hidden_layer_sizes=(13,), augmentation=augmentation, max_iter=2).fit(X, y)
    image = ImageAugmentation((2, 4), horizontal_flip=True, rotation=5, contrast=0.1)
    for rotation, translation, contrast in [(5, 0.0, 0.1), (20, 0.2, 0.4)]:
        image.set_params(rotation=rotation, translation=translation, contrast=contrast)
        make(hidden_layer_sizes=(13,), augmentation=image, max_iter=2).fit(X, y)
    assert skreg.program_cache_info().epoch_compiles - before == 2


def test_mixup_targets_are_convex_mixtures_of_two_rows_of_the_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 64)]
    batches = epoch_batches(np.ones(64, np.float32), 64, rng, shuffle=False)
    partners, lam = (a[0] for a in Mixup(0.4)._host_draws(rng, batches))
    assert sorted(partners) == list(range(64)), "partners are a permutation of the batch"
    x_out, y_out = augment(augmenter(Mixup(0.4), n_features=3), x, y, (partners, lam))
    lam_col = lam[:, None]
    np.testing.assert_allclose(x_out, lam_col * x + (1 - lam_col) * x[partners], rtol=1e-5)
    np.testing.assert_allclose(y_out, lam_col * y + (1 - lam_col) * y[partners], rtol=1e-5)
    np.testing.assert_allclose(y_out.sum(axis=1), 1.0, rtol=1e-6)
    assert ((y_out >= 0) & (y_out <= 1)).all()


def test_mixup_partners_are_real_rows_of_the_same_batch():
    rng = np.random.default_rng(0)
    # 7 rows in batches of 3, laid out in steps of 4: each step ends with a padding row.
    batches = epoch_batches(np.ones(7, np.float32), 3, rng, True, step=4, slots=3)
    partners, _ = Mixup(0.4)._host_draws(rng, batches)
    for real, row in zip(batches.real_rows, partners):
        assert sorted(row[:real]) == list(range(real)), "real rows mix with real rows"
        np.testing.assert_array_equal(row[real:], np.arange(real, 4))


def test_mixup_weights_follow_the_beta_distribution():
    alpha = 0.4
    rng = np.random.default_rng(0)
    batches = epoch_batches(np.ones(20_000, np.float32), 200, rng, True)
    lam = Mixup(alpha)._host_draws(rng, batches)[1].ravel()
    assert ((lam >= 0) & (lam <= 1)).all()
    assert lam.mean() == pytest.approx(0.5, abs=0.01)
    assert lam.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.05)


def test_gaussian_noise_has_the_requested_standard_deviation():
    layer = augmenter(GaussianNoise(std=0.3), n_features=5)
    x = np.full((20_000, 5), 2.0, dtype=np.float32)
    first, _ = augment(layer, x)
    noise = first - x
    assert noise.mean() == pytest.approx(0.0, abs=0.01)
    assert noise.std() == pytest.approx(0.3, rel=0.02)
    # Roughly Gaussian: about 68% within one standard deviation.
    assert np.mean(np.abs(noise) < 0.3) == pytest.approx(0.683, abs=0.01)
    second, _ = augment(layer, x)
    assert not np.allclose(first, second), "every batch gets fresh noise"


def test_noise_and_mixup_leave_category_codes_whole():
    # A table's embedded categorical columns come last, as level codes: noise would make a
    # row read a neighbouring level, and a mixed code names no level.
    rng = np.random.default_rng(0)
    values = rng.normal(size=(256, 2)).astype(np.float32)
    codes = rng.integers(1, 24, size=(256, 2)).astype(np.float32)
    x = np.hstack([values, codes])
    noisy, _ = augment(augmenter(GaussianNoise(std=0.5), n_features=4, n_codes=2), x)
    np.testing.assert_array_equal(noisy[:, 2:], codes)
    assert np.std(noisy[:, :2] - values) == pytest.approx(0.5, rel=0.1)
    batches = epoch_batches(np.ones(256, np.float32), 256, rng, shuffle=False)
    partners, lam = (a[0] for a in Mixup(0.4)._host_draws(rng, batches))
    mixed, _ = augment(augmenter(Mixup(0.4), n_features=4, n_codes=2), x, None, (partners, lam))
    heavier = np.where(lam[:, None] >= 0.5, codes, codes[partners])
    np.testing.assert_array_equal(mixed[:, 2:], heavier)
    lam = lam[:, None]
    np.testing.assert_allclose(mixed[:, :2], lam * values + (1 - lam) * values[partners], 1e-5)


@pytest.mark.parametrize("augmentation", [GaussianNoise(std=0.3), Mixup(alpha=0.2)])
def test_augmentation_keeps_a_many_level_category_learnable(augmentation):
    import pandas as pd

    rng = np.random.default_rng(0)
    level = rng.integers(0, 24, size=300)
    X = pd.DataFrame({"x": rng.normal(size=300), "c": pd.Categorical(level.astype(str))})
    y = level % 2  # only the category tells the class
    params = dict(hidden_layer_sizes=(8,), max_iter=20, early_stopping=False, dropout=0.0,
                  learning_rate=0.03, random_state=0)  # fmt: skip
    clf = RegularizedMLPClassifier(augmentation=augmentation, **params).fit(X, y)
    assert clf.score(X, y) == 1.0  # 0.57 when the codes were noised or mixed


def test_swap_noise_swaps_entries_for_values_of_the_same_column():
    n_rows, rate = 20_000, 0.2
    x = (np.arange(n_rows)[:, None] + 100_000 * np.arange(4)).astype(np.float32)
    out, _ = augment(augmenter(SwapNoise(rate=rate), n_features=4), x)
    # Every value still belongs to its own column.
    np.testing.assert_array_equal(out // 100_000, x // 100_000)
    # A swapped entry differs unless it drew its own row (probability 1 / n_rows).
    assert np.mean(out != x) == pytest.approx(rate, abs=0.01)


def test_swap_noise_swaps_the_columns_of_one_input_column_together():
    # A table's categorical column is one-hot encoded into several network columns, and a
    # numeric column with missing values gets an indicator: each such set swaps whole, so
    # a swapped row holds one level (not none or two) and a value with its own indicator.
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "x": np.where(rng.random(400) < 0.3, np.nan, rng.normal(size=400)),
        "c": pd.Categorical(rng.choice(list("abc"), 400)),
        "z": rng.normal(size=400),
    })  # fmt: skip
    clf = make(augmentation=SwapNoise(0.5), max_iter=1).fit(table, table["z"] > 0)
    preprocessor = clf._fitted.inputs
    M = clf.network_inputs(table)
    onehot = np.flatnonzero(preprocessor.sources_ == 1)
    assert len(onehot) == 3
    layer = augmenter(SwapNoise(0.5), n_features=M.shape[1], sources=preprocessor.sources_)
    out, _ = augment(layer, M)
    np.testing.assert_array_equal(out[:, onehot].sum(axis=1), 1.0)
    # Each row's one-hot block and (value, indicator) pair is some row's, whole.
    for block in (onehot, np.flatnonzero(preprocessor.sources_ == 0)):
        assert len(block) >= 2
        rows = {tuple(r) for r in M[:, block].tolist()}
        assert {tuple(r) for r in out[:, block].tolist()} <= rows
        assert np.mean((out[:, block] != M[:, block]).any(axis=1)) > 0.2
    # Without the sources each column swaps alone: rows with no level or two appear.
    alone, _ = augment(augmenter(SwapNoise(0.5), n_features=M.shape[1]), M)
    assert np.any(alone[:, onehot].sum(axis=1) != 1.0)


def test_a_fit_swaps_a_tables_input_columns_whole(monkeypatch):
    # The fit hands the augmenter the preprocessor's column sources.
    seen = []
    original = skreg._base.plan_augmentation

    def spy(*args, **kwargs):
        plan = original(*args, **kwargs)
        seen.append(plan.sources)
        return plan

    monkeypatch.setattr(skreg._base, "plan_augmentation", spy)
    table = pd.DataFrame({"c": pd.Categorical(list("abcab") * 8), "x": np.arange(40.0)})
    clf = make(augmentation=SwapNoise(0.2), max_iter=1).fit(table, np.arange(40) % 2)
    np.testing.assert_array_equal(seen[-1], clf._fitted.inputs.sources_)


def test_horizontal_and_vertical_flips_move_the_pixels():
    image = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)  # height, width, channels
    x = np.tile(image.ravel(), (64, 1))
    for flip, flipped in [
        ({"horizontal_flip": True}, image[:, ::-1, :]),
        ({"vertical_flip": True}, image[::-1, :, :]),
    ]:
        out, _ = augment(augmenter(ImageAugmentation((2, 3, 2), **flip), n_features=12), x)
        is_flipped = (out == flipped.ravel()).all(axis=1)
        is_original = (out == image.ravel()).all(axis=1)
        assert (is_flipped | is_original).all()
        assert 10 < is_flipped.sum() < 54, "about half of the images are flipped"


def test_image_augmentation_reads_square_rows_without_image_shape():
    x = np.tile(np.arange(9, dtype=np.float32), (32, 1))
    out, _ = augment(augmenter(ImageAugmentation(horizontal_flip=True), n_features=9), x)
    flipped = np.arange(9).reshape(3, 3)[:, ::-1].ravel()
    assert ((out == flipped).all(axis=1) | (out == x[0]).all(axis=1)).all()


def test_rotation_keeps_the_image_mostly_in_place():
    rng = np.random.default_rng(0)
    image = rng.random((8, 8)).astype(np.float32)
    x = np.tile(image.ravel(), (16, 1))
    out, _ = augment(augmenter(ImageAugmentation(rotation=10), n_features=64), x)
    assert not np.allclose(out, x)
    # A rotation of at most 10 degrees stays close to the image (correlation across pixels).
    assert min(np.corrcoef(row, image.ravel())[0, 1] for row in out) > 0.5


def test_a_wrapped_shift_moves_every_pixel_around_the_edges():
    # A cyclic shift keeps each pixel's value somewhere in the image (the bilinear weights of
    # a periodic shift add up to one per source pixel), so it keeps the image's sum.
    # TensorFlow's "wrap" did not interpolate
    # across the edges: sums of 89.5 to 177.7 for an image summing to 120 (JAX: 120).
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    x = np.tile(image.ravel(), (64, 1))
    shifted = ImageAugmentation((4, 4), translation=0.5, fill_mode="wrap")
    out, _ = augment(augmenter(shifted, n_features=16), x)
    assert not np.allclose(out, x)
    np.testing.assert_allclose(out.sum(axis=1), image.sum(), rtol=1e-5)


def test_a_shift_draws_each_axis_on_its_own():
    # As Keras' RandomTranslation: one shared draw moved every image along its diagonal
    # (shifts across and down perfectly correlated, in the ratio of width to height).
    height, width = 9, 21
    image = np.zeros((height, width), dtype=np.float32)
    image[4, 10] = 1.0  # one bright pixel at the center
    x = np.tile(image.ravel(), (400, 1))
    shifted = ImageAugmentation((height, width), translation=0.2, fill_mode="constant")
    out, _ = augment(augmenter(shifted, n_features=height * width), x)
    out = out.reshape(-1, height, width)
    rows, columns = np.indices((height, width))
    mass = out.sum(axis=(1, 2))
    across = (out * columns).sum(axis=(1, 2)) / mass - 10
    down = (out * rows).sum(axis=(1, 2)) / mass - 4
    assert abs(np.corrcoef(across, down)[0, 1]) < 0.3
    assert np.abs(across).max() <= 0.2 * width + 1e-4 and np.abs(down).max() <= 0.2 * height
    assert np.abs(across).max() > 0.15 * width and np.abs(down).max() > 0.15 * height


@pytest.mark.parametrize(
    ("augmentation", "error", "match"),
    [
        (ImageAugmentation((3, 3)), ValueError, "has 9 values per image, but there are 8 "),
        (ImageAugmentation(), ValueError, "not a square number"),
        (ImageAugmentation((2, 0)), ValueError, "positive integers"),
        (GaussianNoise(std=-1.0), ValueError, "'std' parameter of GaussianNoise"),
        ([GaussianNoise(), "flip"], TypeError, "augmentation must be None"),
        ([Mixup(), Mixup()], ValueError, "at most one Mixup"),
    ],
    ids=["shape", "not-square", "bad-shape", "negative-std", "not-augmentation", "two-mixups"],
)
def test_bad_augmentation_raises_before_training(classification_data, augmentation, error, match):
    X, y = classification_data
    clf = make().fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(error, match=match):
        clf.set_params(augmentation=augmentation).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_an_image_layout_broken_by_the_preprocessing_names_its_columns():
    X = np.random.default_rng(0).random((40, 64))
    X[0, 10] = np.nan  # a missing pixel: the preprocessing adds its indicator column
    with pytest.raises(ValueError, match=r"reads 72 columns made from X's 64 features: the"):
        make(missing_indicators=True).set_params(augmentation=ImageAugmentation((8, 8))).fit(
            X, np.arange(40) % 2
        )


@pytest.mark.parametrize("scaling", ["robust", "standard"])
def test_image_augmentation_refuses_pixels_scaled_column_by_column(scaling):
    # Each pixel column on its own scale: a flip would move values between scales.
    X = np.random.default_rng(0).random((40, 16))
    clf = make(numeric_scaling=scaling, augmentation=ImageAugmentation(horizontal_flip=True))
    with pytest.raises(ValueError, match=f"numeric_scaling='{scaling}' scales each column"):
        clf.fit(X, np.arange(40) % 2)
    clf.set_params(numeric_scaling=None).fit(X, np.arange(40) % 2)  # one scale: trains
    assert clf.n_iter_ > 0


def test_augment_refuses_targets_of_another_length():
    from skreg.augmentation import augment as augment_rows

    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[5, 4\\]"):
        augment_rows(Mixup(), np.ones((5, 2)), np.ones(4))
