"""One fit on a compiled program: the uploaded data, the fit's state while it trains, and
the sequence of a fit (:func:`run`), written once for both backends.

The host side of a fit (how many epochs per call, early stopping on a scorer, callbacks,
divergence) is :func:`skreg._training.train`, which drives a :class:`Session`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

from .._specs import (
    PROBE_ROWS,
    Batches,
    EarlyStopping,
    EpochRecord,
    NetworkState,
    OptimizerState,
    ScheduleClock,
    TrainingOutcome,
    TrainingRequest,
    float32,
    int32,
)
from .._training import bucket_rows, epoch_batches, step_rows, train
from ._front import level_codes
from ._program import Data, Program, numpy

# The patience of a call that does not stop early: longer than any run.
_NEVER = np.int32(np.iinfo(np.int32).max)


def run(program: Program, request: TrainingRequest, lane: Any = None) -> TrainingOutcome:
    """Train as ``request`` says on ``program`` (leased for the fit by the caller); with
    ``lane`` (a :class:`._joint.Lane`), jointly with the other lanes of its batch."""
    # The fit's second and third child streams: the ones every model so far was trained with.
    _, augmentation_seeds, shuffle_seeds, _ = request.seeds.spawn(4)
    session = Session(program, request, augmentation_seeds, lane)
    validation = None
    if request.make_validation is not None:
        validation = request.make_validation(session.network)
    hooks = None if request.make_hooks is None else request.make_hooks(session.network)
    rng = np.random.default_rng(shuffle_seeds)
    result = train(
        session, request.schedule, rng, validation, hooks, request.reference_loss,
        request.start_loss,
    )  # fmt: skip
    trainable, non_trainable, optimizer = (
        list(numpy(v) for v in group) for group in program.read(session.state)
    )
    # The fitted state keeps the rates and decay the fit was given, not the schedule's last.
    _, dropout, weight_decay = session.data.regularization
    for i, position in enumerate(program.dropout_positions):
        non_trainable[position] = numpy(dropout[i]).astype(non_trainable[position].dtype)
    if program.weight_decay_index is not None:
        index = program.weight_decay_index
        optimizer[index] = numpy(weight_decay).astype(optimizer[index].dtype)
    return TrainingOutcome(
        network=NetworkState(tuple(trainable), tuple(non_trainable)),
        optimizer=OptimizerState(program.key.optimizer, tuple(optimizer)),
        result=result,
        clock=ScheduleClock(*(np.asarray(numpy(v)) for v in session.clock)),
        probe_loss=session.probe_loss,
    )


class Session:
    """A fit in progress (the :class:`skreg._training.Session` protocol)."""

    def __init__(
        self,
        program: Program,
        request: TrainingRequest,
        seeds: np.random.SeedSequence,
        lane: Any = None,
    ) -> None:
        self.program = program
        self.lane = lane
        self.request = request
        schedule = request.schedule
        n_train = len(request.train_rows)
        self.batch_size = min(schedule.batch_size, n_train)
        self.step = step_rows(schedule.batch_size, n_train)
        rows = bucket_rows(len(request.X))
        self.slots = -(-rows // self.step)
        # Each call uploads its epochs' batch indices: about 1 MB per call at most.
        self.epochs_per_call = max(1, min(32, 2**17 // (self.slots * self.step)))
        stopping = schedule.early_stopping
        # A call of one epoch without a validation split validates on its first training
        # rows: the divergence check reads that loss (_validation_layout, probe_loss).
        self._probing = request.validation_rows is None and schedule.epochs == 1
        data = Data(
            X=_padded(request.X, rows),
            Y=_padded(request.Y, rows),
            validation=self._validation_layout(),
            # A penalty beyond float32's range is inf: the fit diverges, and says so.
            penalty=float32(request.penalty),
            smoothing=np.float32(request.label_smoothing),
            patience=int32(stopping.patience) if stopping else _NEVER,
            tol=float32(stopping.tol if stopping else 0.0),
            on_training_loss=np.bool_(stopping is not None and stopping.on_training_loss),
            schedule=schedule.learning_rate.inputs(),
            regularization=(),
            **_levels(program, request, rows, self.step),
        )
        self.clock = ScheduleClock.start() if request.clock is None else request.clock
        values = program.start_values(request, seeds)
        # The schedule multiplies the rates and decay the fit starts with.
        index = program.weight_decay_index
        data = data._replace(regularization=(
            np.bool_(request.regularization_schedule == "flat_cosine"),
            np.asarray([values[1][i] for i in program.dropout_positions], np.float32),
            np.float32(0.0 if index is None else values[2][index]),
        ))  # fmt: skip
        self.data = keras.tree.map_structure(keras.ops.convert_to_tensor, data)
        self.state = program.enter(values)
        self.best = program.initial_best(self.state)
        self.n_validation = 0 if request.validation_rows is None else len(request.validation_rows)
        self.probe_loss: float | None = None  # see _validation_layout
        self._drawn: list[tuple] = []  # epochs drawn and not yet run

    def run_epochs(
        self, rng: np.random.Generator, epochs: int, stopping: EarlyStopping | None
    ) -> list[EpochRecord]:
        arrays, n_batches, n_epochs, host = self.epoch_inputs(rng, epochs)
        data = self.data if stopping is not None else self.data._replace(patience=_NEVER)
        inputs = (self.state, self.best, self.clock, data, arrays, n_batches, n_epochs, host)
        if self.lane is None:
            outputs = self.program.call("epochs", *inputs)
        else:  # with the other fits of its batch, in one call (:mod:`._joint`)
            outputs = self.lane.call(self.program, inputs)
        self.state, self.best, clock, records = outputs
        self.clock = ScheduleClock(*clock)
        if self._probing:  # the program's "validation" loss: on the probe rows
            self.probe_loss = float(keras.ops.convert_to_numpy(records[1])[0])
        records = self.records(*records, stopping)
        if stopping is not None and records:
            # The program's rule counts the epochs without improvement across calls: it
            # ended the fit after the last epoch run, also when that was the call's last
            # (one epoch a call with callbacks or 32,768 rows and more).
            bad = int(keras.ops.convert_to_numpy(self.best[1]))
            records[-1] = dataclasses.replace(records[-1], stopped=bad >= stopping.patience)
        return records

    def snapshot(self) -> Any:
        return self.program.read(self.state)[:2]

    def restore(self, snapshot: Any) -> None:
        self.state = self.program.write_weights(self.state, snapshot)

    def restore_best(self) -> None:
        self.state = self.program.restore_best(self.state, self.best)

    def network(self) -> NetworkState:
        """The network being trained, as NumPy arrays (for scorers and callbacks)."""
        trainable, non_trainable, _ = self.program.read(self.state)
        return NetworkState(tuple(map(numpy, trainable)), tuple(map(numpy, non_trainable)))

    def epoch_inputs(self, rng: np.random.Generator, epochs: int) -> tuple:
        """The next ``epochs`` epochs' batches and host draws, padded to a full call.

        Epochs are drawn ``epochs_per_call`` at a time and handed out in order, so the random
        stream, and with it the trained network, does not depend on how many epochs each
        call runs (one at a time with callbacks or a scorer, many otherwise).
        """
        while len(self._drawn) < epochs:
            self._drawn.extend(self._draw_epochs(rng))
        taken, self._drawn = self._drawn[:epochs], self._drawn[epochs:]
        fill = [taken[-1]] * (self.epochs_per_call - epochs)  # never run
        orders, weights, draws = zip(*(taken + fill))
        host = tuple(np.stack(arrays) for arrays in zip(*draws))
        return (np.stack(orders), np.stack(weights)), self._n_batches, np.int32(epochs), host

    def records(self, losses, val_losses, improved, rates, ran, stopping) -> list[EpochRecord]:
        losses = np.asarray(keras.ops.convert_to_numpy(losses), dtype=np.float64)
        val_losses = keras.ops.convert_to_numpy(val_losses)
        improved = keras.ops.convert_to_numpy(improved)
        rates = keras.ops.convert_to_numpy(rates)
        n = int(keras.ops.convert_to_numpy(ran))
        return [
            EpochRecord(
                loss=float(losses[e]),
                val_loss=float(val_losses[e]) if self.n_validation else None,
                improved=bool(improved[e]) if stopping is not None else None,
                learning_rate=float(rates[e]),
            )
            for e in range(n)
        ]

    def _validation_layout(self) -> tuple[np.ndarray, np.ndarray, np.int32]:
        """The rows the program's validation loss is computed on after each epoch: the
        validation split's; for a call of one epoch without one (``partial_fit``,
        ``max_iter=1``), the first :data:`PROBE_ROWS` training rows, whose loss after the
        call's last step the divergence check reads (:attr:`probe_loss`); else none."""
        request = self.request
        rows, weights = request.validation_rows, request.validation_weights
        if self._probing:
            rows, weights = request.train_rows[:PROBE_ROWS], request.train_weights[:PROBE_ROWS]
        if rows is None or len(rows) == 0:
            order = np.zeros((self.slots, self.step), np.int32)
            return order, order.astype(np.float32), np.int32(0)
        batches = epoch_batches(
            weights, self.step, None, False, rows=rows, step=self.step, slots=self.slots
        )
        return batches.order, batches.weights, np.int32(batches.n_batches)

    def _draw_epochs(self, rng: np.random.Generator) -> list[tuple]:
        """``epochs_per_call`` epochs' (order, weights, host draws), drawn in one go."""
        request = self.request
        batches = epoch_batches(
            request.train_weights, self.batch_size, rng, request.schedule.shuffle,
            rows=request.train_rows, step=self.step, slots=self.slots,
            epochs=self.epochs_per_call,
        )  # fmt: skip
        self._n_batches = np.int32(batches.n_batches)
        return [
            (order, weights,
             request.augmentation.draw(rng, Batches(order, weights, batches.real_rows)))
            for order, weights in zip(batches.order, batches.weights)
        ]  # fmt: skip


def _levels(program: Program, request: TrainingRequest, rows: int, step: int) -> dict:
    """The fit's table of distinct numeric values and the rows' codes in it (``Data``'s
    ``levels`` and ``codes``): none when the training steps augment their rows (noise
    makes every value new) or when the table would not pay (:func:`._front.level_codes`)."""
    front = program.key.network.front
    found = None
    if not program.key.augmentation:
        found = level_codes(front, request.X, request.train_rows, step)
    if found is None:
        n = front.n_numeric if front is not None else 0
        return {"levels": np.zeros((n, 0), np.float32), "codes": np.zeros((rows, 0), np.int32)}
    table, codes = found
    return {"levels": table, "codes": _padded(codes, rows, np.int32)}


def _padded(array: np.ndarray, rows: int, dtype: Any = np.float32) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=dtype)
    out[: len(array)] = array
    return out
