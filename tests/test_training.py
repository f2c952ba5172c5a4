"""The training loop: batch layout, early stopping and divergence, with scripted sessions."""

import numpy as np
import pytest

from skreg._specs import EarlyStopping, EpochRecord, TrainingSchedule, Validation
from skreg._training import bucket_rows, epoch_batches, step_rows, train


def test_epoch_batches_cover_every_row_once_and_pad_with_zero_weight():
    weights = np.linspace(1, 2, 10).astype(np.float32)
    batches = epoch_batches(weights, 4, np.random.default_rng(0), shuffle=True)
    assert batches.order.shape == batches.weights.shape == (3, 4)
    real = batches.weights.ravel() > 0
    assert sorted(batches.order.ravel()[real]) == list(range(10))
    assert np.sum(~real) == 2
    np.testing.assert_allclose(batches.weights.ravel()[real], weights[batches.order.ravel()[real]])


def test_epoch_batches_keep_order_without_shuffle():
    batches = epoch_batches(np.ones(6, np.float32), 3, np.random.default_rng(0), shuffle=False)
    np.testing.assert_array_equal(batches.order.ravel(), np.arange(6))


def test_a_padded_layout_repeats_each_batch_rows_with_zero_weight():
    rows = np.array([10, 11, 12, 13, 14, 15, 16])
    weights = np.arange(1.0, 8.0, dtype=np.float32)
    batches = epoch_batches(weights, 3, None, False, rows=rows, step=4, slots=5)
    assert batches.order.shape == (5, 4) and batches.n_batches == 3
    np.testing.assert_array_equal(batches.real_rows, [3, 3, 1])
    # Batch 0 holds rows 10-12, then repeats row 10 with weight 0.
    np.testing.assert_array_equal(batches.order[0], [10, 11, 12, 10])
    np.testing.assert_array_equal(batches.weights[0], [1, 2, 3, 0])
    np.testing.assert_array_equal(batches.order[2], [16, 16, 16, 16])
    np.testing.assert_array_equal(batches.weights[2], [7, 0, 0, 0])
    assert not batches.weights[3:].any(), "unused slots weigh nothing"
    assert batches.weights.sum() == weights.sum()


def test_every_fold_of_a_small_data_set_shares_one_layout():
    # Outer and inner folds, with and without an early-stopping split, of 150 to 1800 rows.
    sizes = [150, 120, 108, 80, 72, 1800, 1440, 1296, 960, 864]
    assert {bucket_rows(n) for n in sizes} == {2048}
    assert {step_rows(200, n) for n in sizes} == {200}
    assert step_rows(32, 20) == 32 and step_rows(4096, 100) == 256
    assert bucket_rows(5000) == 8192


class ScriptedSession:
    """A session whose losses are scripted: the loop without a network.

    Like a compiled program, it runs up to ``epochs_per_call`` epochs per call and, given an
    early-stopping rule, applies it to the negated validation loss and keeps the best epoch.
    """

    def __init__(self, losses, val_losses=None, epochs_per_call=4):
        self.losses = list(losses)
        self.val_losses = list(val_losses) if val_losses is not None else None
        self.epochs_per_call = epochs_per_call
        self.epoch = 0
        self.calls = 0
        self.restored = None
        self.best = (-np.inf, 0, None)

    def run_epochs(self, rng, epochs, stopping):
        self.calls += 1
        records = []
        for _ in range(epochs):
            loss = self.losses[self.epoch]
            val_loss = self.val_losses[self.epoch] if self.val_losses else None
            self.epoch += 1
            improved = None
            if stopping is not None:
                score, bad, best_epoch = self.best
                improved, score, bad = (
                    bool(v) if i == 0 else float(v)
                    for i, v in enumerate(stopping.update(score, bad, -val_loss))
                )
                self.best = (score, bad, self.epoch if improved else best_epoch)
            records.append(EpochRecord(loss, val_loss, improved))
            if not np.isfinite(loss) or (stopping is not None and bad >= stopping.patience):
                break
        return records

    def snapshot(self):
        return self.epoch

    def restore(self, snapshot):
        self.restored = snapshot

    def restore_best(self):
        self.restored = self.best[2]


def loss_validation():
    return Validation(lambda val_loss: ({"val_loss": val_loss}, -val_loss))


def scorer_validation(scores):
    scores = iter(scores)
    return Validation(lambda val_loss: ({"val_score": 0.0}, next(scores)), uses_weights=True)


def test_training_runs_every_epoch_without_early_stopping():
    session = ScriptedSession([1.0, 0.5, 0.4], epochs_per_call=2)
    result = train(session, TrainingSchedule(epochs=3, batch_size=8), np.random.default_rng(0))
    assert result.history == {"loss": [1.0, 0.5, 0.4]}
    assert result.n_epochs == 3 and result.best_epoch == 3 and session.restored is None
    assert session.calls == 2, "several epochs per call"


@pytest.mark.parametrize("where", ["program", "host"])
def test_early_stopping_restores_the_best_epoch(where):
    scores = [0.1, 0.5, 0.3, 0.2, 0.4, 0.45, 0.9]
    session = ScriptedSession([1.0] * 7, val_losses=[-s for s in scores])
    validation = loss_validation() if where == "program" else scorer_validation(scores)
    schedule = TrainingSchedule(epochs=7, batch_size=8, early_stopping=EarlyStopping(3, 0.0))
    result = train(session, schedule, np.random.default_rng(0), validation)
    assert result.n_epochs == 5  # epochs 3, 4 and 5 did not beat epoch 2
    assert result.best_epoch == 2 and result.best_score == 0.5
    assert session.restored == 2
    assert session.calls == (2 if where == "program" else 5)


def test_a_plateau_within_tol_stops_but_the_best_weights_are_kept():
    # As in scikit-learn: any improvement updates the best weights, but only an improvement
    # of at least tol resets the patience counter.
    scores = [0.5, 0.50005, 0.5001, 0.6, 0.7, 0.8]
    session = ScriptedSession([1.0] * 6, val_losses=[-s for s in scores])
    schedule = TrainingSchedule(epochs=6, batch_size=8, early_stopping=EarlyStopping(2, 1e-3))
    result = train(session, schedule, np.random.default_rng(0), loss_validation())
    assert result.n_epochs == 3
    assert result.best_epoch == 3 and result.best_score == 0.5001 and session.restored == 3


def test_the_validation_loss_reaches_the_validation_hook():
    seen = []
    session = ScriptedSession([1.0, 1.0], val_losses=[0.7, 0.6])

    def score(val_loss):
        seen.append(val_loss)
        return {"val_loss": val_loss}, -val_loss

    schedule = TrainingSchedule(epochs=2, batch_size=8)
    result = train(session, schedule, np.random.default_rng(0), Validation(score))
    assert seen == [0.7, 0.6] and result.history["val_loss"] == [0.7, 0.6]
    assert result.best_score == -0.6


@pytest.mark.parametrize("loss", [np.nan, np.inf])
def test_non_finite_loss_raises(loss):
    session = ScriptedSession([1.0, loss, 0.5, 0.5])
    with pytest.raises(FloatingPointError, match="diverged"):
        train(session, TrainingSchedule(epochs=3, batch_size=8), np.random.default_rng(0))


def test_a_loss_that_grows_a_thousandfold_raises():
    session = ScriptedSession([0.9, 5.0, 2e3])
    match = "grew from 0.9 at the first epoch to 2000 at epoch 3"
    with pytest.raises(FloatingPointError, match=match):
        train(session, TrainingSchedule(epochs=3, batch_size=8), np.random.default_rng(0))


def test_a_continued_run_is_judged_against_its_first_epoch():
    # partial_fit and warm_start chains: each call's loss against the run's first, not its own.
    schedule = TrainingSchedule(epochs=1, batch_size=8)
    with pytest.raises(FloatingPointError, match="grew from 0.5 at the first epoch to 900"):
        train(ScriptedSession([900.0]), schedule, np.random.default_rng(0), reference=0.5)
    result = train(ScriptedSession([400.0]), schedule, np.random.default_rng(0), reference=0.5)
    assert result.history["loss"] == [400.0]


def test_a_loss_that_grows_from_near_zero_within_the_floor_trains_on():
    # A warm start on data the network already fits: noise is not divergence.
    session = ScriptedSession([1e-6, 1e-4, 5e-3])
    result = train(session, TrainingSchedule(epochs=3, batch_size=8), np.random.default_rng(0))
    assert result.n_epochs == 3


@pytest.mark.parametrize("score", [np.nan, -np.inf])
def test_a_scorer_that_cannot_rank_epochs_raises(score):
    session = ScriptedSession([1.0] * 3, val_losses=[0.5] * 3)
    schedule = TrainingSchedule(epochs=3, batch_size=8, early_stopping=EarlyStopping(2, 0.0))
    validation = Validation(lambda _: ({}, score), uses_weights=True, name="scoring='r2'")
    with pytest.raises(ValueError, match="scoring='r2' gave"):
        train(session, schedule, np.random.default_rng(0), validation)


def test_a_non_finite_validation_loss_is_divergence():
    session = ScriptedSession([1.0] * 3, val_losses=[0.5, np.nan, 0.5])
    with pytest.raises(FloatingPointError, match="validation loss became nan at epoch 2"):
        train(session, TrainingSchedule(epochs=3, batch_size=8), np.random.default_rng(0),
              loss_validation())  # fmt: skip


def test_a_constant_validation_score_warns_that_epoch_one_was_kept():
    session = ScriptedSession([1.0, 0.8, 0.6, 0.4], val_losses=[0.25] * 4)
    schedule = TrainingSchedule(epochs=4, batch_size=8, early_stopping=EarlyStopping(3, 0.0))
    with pytest.warns(UserWarning, match="kept the weights of epoch 1.*over the 4 epochs"):
        result = train(session, schedule, np.random.default_rng(0), loss_validation())
    assert result.best_epoch == 1
