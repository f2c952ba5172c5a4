"""What the estimators tell the engine, and what it hands back: frozen, NumPy-only records.

Data flow downward: an estimator validates its input and describes a fit as a
:class:`TrainingRequest`; the engine (:mod:`skreg._engine`) trains it and returns a
:class:`TrainingOutcome`, from which the estimator stores its fitted record. Nothing here
imports Keras, so ``clone``, ``repr``, pickling and unpickling never load a backend.

What is compiled and what is a run-time input is decided here: a :class:`ProgramKey` (layer
widths, activation, batch normalization, augmentation kinds, optimizer, loss) selects the
compiled program; everything else (penalties, dropout rates, augmentation strengths, the
learning rate and its schedule, early stopping's settings, the data) is fed to it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils import check_random_state


def int32(count: int) -> np.int32:
    """A count as a compiled program's int32. One beyond its range (a patience of
    ``sys.maxsize``, "never") is its largest, which no fit reaches."""
    return np.int32(min(int(count), np.iinfo(np.int32).max))


def float32(values: Any) -> Any:
    """Numbers as a compiled program's float32s. One beyond its range (a ``tol`` of 1e300,
    an overflowing penalty) is infinite, which compares and diverges as the number would."""
    with np.errstate(over="ignore"):
        return np.float32(values)


def seed_sequence(random_state: Any) -> np.random.SeedSequence:
    """The one seed sequence a fit (or an augmentation's look) draws everything from, made
    from a ``random_state`` as scikit-learn reads it: an int gives the same sequence every
    time, without touching global random state."""
    return np.random.SeedSequence(check_random_state(random_state).randint(2**31))


def child_seed(seeds: np.random.SeedSequence) -> int:
    """A 32-bit seed from the next child of ``seeds`` (a layer's random generator, a split)."""
    return int(seeds.spawn(1)[0].generate_state(1)[0])


@dataclass(frozen=True)
class FrontSpec:
    """The network's front for tables (``skreg._engine._front``): the input matrix is
    ``n_numeric`` numeric columns, dense columns up to ``n_dense``, then one code column per
    embedded categorical with ``levels`` codes each, embedded in ``embedding_dim`` numbers.
    ``periodic`` adds ``periodic_dim`` periodic features per numeric column, ``scale`` a
    learned scale per dense column."""

    n_numeric: int
    n_dense: int
    levels: tuple[int, ...] = ()
    embedding_dim: int = 8
    periodic: bool = False
    scale: bool = False
    periodic_dim: int = 3

    @property
    def width(self) -> int:
        """The number of values the front hands the first dense layer."""
        periodic = self.n_numeric * self.periodic_dim if self.periodic else 0
        return self.n_dense + periodic + len(self.levels) * self.embedding_dim

    @property
    def n_variables(self) -> int:
        """How many trainable variables the front holds, ahead of the dense layers'."""
        periodic = 4 if self.periodic and self.n_numeric else 0
        return int(self.scale) + periodic + len(self.levels)

    def sources(self) -> np.ndarray:
        """For each value the front hands on, the input column it comes from."""
        periodic = np.repeat(np.arange(self.n_numeric), self.periodic_dim) if self.periodic else []
        codes = np.repeat(self.n_dense + np.arange(len(self.levels)), self.embedding_dim)
        return np.concatenate([np.arange(self.n_dense), periodic, codes]).astype(np.int64)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that defines the network's architecture (and so its compiled programs)."""

    n_features: int
    n_outputs: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str = "relu"
    output_activation: str | None = None
    batch_normalization: bool = False
    front: FrontSpec | None = None

    def step_flops(self, rows: int) -> float:
        """The arithmetic of one training step on ``rows`` rows, in floating-point
        operations: a multiply-add per weight and row forward, two backward."""
        width = self.n_features if self.front is None else self.front.width
        sizes = (width, *self.hidden_layer_sizes, self.n_outputs)
        return 6.0 * rows * sum(a * b for a, b in zip(sizes, sizes[1:]))

    def same_weights_as(self, other: NetworkSpec) -> bool:
        """Whether a network built from ``other`` has variables of the same shapes."""
        shapes = ("n_features", "n_outputs", "hidden_layer_sizes", "batch_normalization")
        same = all(getattr(self, name) == getattr(other, name) for name in (*shapes, "front"))
        # A parametric activation has slopes of its own: a variable per hidden unit.
        return same and (self.activation == "prelu") == (other.activation == "prelu")


@dataclass(frozen=True)
class NetworkState:
    """The values of a network's variables, as NumPy arrays in the model's variable order.

    ``trainable`` are the weights, ``non_trainable`` the batch-normalization statistics, the
    dropout rates and the dropout layers' random-generator states.
    """

    trainable: tuple[np.ndarray, ...]
    non_trainable: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class OptimizerState:
    """An optimizer's variables as NumPy arrays, in the order of ``optimizer.variables``
    (the learning rate among them)."""

    name: str
    values: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class ProgramKey:
    """What a compiled program depends on; everything else is a run-time input.

    ``augmentation`` holds the augmentation kinds in order, each ``(name, structure)`` with
    a name of :mod:`skreg.augmentation`'s (``"gaussian_noise"``, ``"image"``, ...).
    """

    network: NetworkSpec
    optimizer: str
    loss: str
    augmentation: tuple = ()
    # The rows of one training step (skreg._training.step_rows): each compiles its own code
    # (20-30 MB), so each is a program of its own, which the cache's size bounds (a grid over
    # 30 batch sizes grew one program by 550 MB that no eviction freed).
    step: int = 0


def dropout_rates(dropout: float | Sequence[float], n_hidden: int) -> tuple[float, ...]:
    """Expand ``dropout`` into one rate per hidden layer.

    A single number applies to every hidden layer (its range is checked with the other
    parameters); a sequence must give one rate per layer, each in [0, 1).
    """
    unordered = isinstance(dropout, set | dict | str)
    if isinstance(dropout, numbers.Real) or (not unordered and np.shape(dropout) == ()):
        return (float(dropout),) * n_hidden
    flat = not unordered and np.ndim(dropout) == 1
    items = list(np.asarray(dropout, dtype=object)) if flat else [None]
    if not all(isinstance(r, numbers.Real) and not isinstance(r, bool | np.bool_) for r in items):
        raise TypeError(
            "dropout must be a rate in [0, 1) or a sequence of rates, one per hidden layer; "
            f"got {dropout!r}."
        )
    rates = tuple(float(rate) for rate in items)
    if len(rates) != n_hidden:
        raise ValueError(
            f"dropout has {len(rates)} rates but there are {n_hidden} hidden layers; give one "
            "rate per hidden layer or a single rate for all of them."
        )
    if any(not 0.0 <= rate < 1.0 for rate in rates):
        raise ValueError(f"Every dropout rate must be in [0, 1); got {rates}.")
    return rates


@dataclass(frozen=True)
class Batches:
    """One epoch's batches: row indices and per-row weights, both ``(slots, step_rows)``
    (with a leading epoch axis when laid out for several epochs).

    Batch ``b`` holds ``real_rows[b]`` rows; the other positions of its step repeat them with
    weight 0. Only the first ``n_batches`` slots are run.
    """

    order: np.ndarray
    weights: np.ndarray
    real_rows: np.ndarray

    @property
    def n_batches(self) -> int:
        return len(self.real_rows)


@dataclass(frozen=True)
class AugmentationPlan:
    """What a fit's augmentations compile to, and what it feeds the compiled program.

    ``kinds`` is part of the training program's key; ``strengths`` (one tuple per kind) are
    the augmenter's run-time values; ``host_draws`` are called once per epoch; ``sources``
    (or None), the input column each network column comes from: swap noise swaps them whole.
    """

    kinds: tuple = ()
    strengths: tuple[tuple[float, ...], ...] = ()
    host_draws: tuple[Callable[[np.random.Generator, Batches], tuple], ...] = ()
    sources: np.ndarray | None = None

    def draw(self, rng: np.random.Generator, batches: Batches) -> tuple[np.ndarray, ...]:
        """The epoch's host-drawn arrays, in the order the augmenter takes them."""
        return tuple(array for draw in self.host_draws for array in draw(rng, batches))


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after ``patience`` epochs in a row that do not beat the best score by ``tol``.

    As in scikit-learn's MLPs, the best weights are those of the highest score (any
    improvement counts there), while the patience counter only resets on an improvement of
    at least ``tol``: a score that creeps up by less than ``tol`` per epoch has plateaued.
    """

    patience: int
    tol: float
    # Scored by the epoch's training loss (scikit-learn's MLPs without early stopping), the
    # last epoch's weights kept; else by the validation split, the best epoch's kept.
    on_training_loss: bool = False

    def update(self, best: Any, bad: Any, score: Any, ops: Any = np) -> tuple[Any, Any, Any]:
        """One epoch's score: whether it is a new best, the best, the epochs without improvement.

        ``ops`` is the array namespace: NumPy on the host, ``keras.ops`` inside a compiled
        program, so both run this one rule. ``best`` starts at minus infinity.
        """
        first = ops.logical_not(ops.isfinite(best))
        improved = ops.logical_or(first, score > best)
        plateau = ops.logical_and(ops.logical_not(first), score < best + self.tol)
        bad = ops.where(plateau, bad + 1, ops.zeros_like(bad))
        return improved, ops.where(improved, score, best), bad


# The learning-rate schedules, by the index a compiled program selects them with.
SCHEDULES = ("constant", "invscaling", "adaptive", "cosine", "coslog4")


def schedule_name(name: str, open_ended: bool) -> str:
    """The learning-rate schedule a fit runs: ``name``, or for "auto" "coslog4" over a fixed
    budget of epochs and "constant" when the epochs are not known in advance (``open_ended``:
    a patience rule may end the fit at any epoch, ``early_stopping=True``, or the user calls
    ``partial_fit`` as often as they like). coslog4's cycles span ``max_iter`` epochs; at
    their low points the validation loss stalls and a patience rule stops the fit, and past
    ``max_iter`` its rate stays near 0. Measured on the nested grid search
    (``benchmarks/bench_nested_cv.py``, ``early_stopping=True``): mean outer score 0.842 with
    coslog4, 0.872 with constant."""
    if name != "auto":
        return name
    return "constant" if open_ended else "coslog4"


def early_stopping_mode(value: Any) -> bool | str:
    """An ``early_stopping`` setting as True, False or its string ("best_epoch", "auto",
    "train_loss"): a NumPy boolean (from a grid built with ``np.array([True, False])``) as
    Python's, so that ``mode is True`` reads it as the user meant."""
    return value if isinstance(value, str) else bool(value)


def patience_rule(mode: bool | str) -> bool:
    """Whether an ``early_stopping`` mode may stop a fit before its budget (a patience
    rule, on the validation split or the training loss): "auto" learning-rate schedules are
    then constant, as a cycling rate's low points would stop it."""
    return mode is True or mode == "train_loss"


# The hidden layers' activations: Keras' names, and "prelu" for keras.layers.PReLU.
ACTIVATIONS = ("relu", "prelu", "tanh", "sigmoid", "elu", "selu", "gelu", "silu", "linear")


class ScheduleClock(NamedTuple):
    """Where a learning-rate schedule stands, carried from epoch to epoch inside a compiled
    program and from fit to fit (``partial_fit``, ``warm_start``).

    ``samples`` counts the training rows seen (scikit-learn's ``t_``), ``epoch`` the epochs of
    the current run, ``factor`` the adaptive schedule's multiplier, ``best`` the lowest training
    loss and ``bad`` the epochs in a row that did not beat it by ``tol``.
    """

    samples: Any
    epoch: Any
    factor: Any
    best: Any
    bad: Any

    @classmethod
    def start(cls, samples: float = 0.0) -> ScheduleClock:
        return cls(np.float32(samples), np.int32(0), np.float32(1.0), np.float32(np.inf),
                   np.int32(0))  # fmt: skip


@dataclass(frozen=True)
class LearningRateSchedule:
    """How the learning rate moves from epoch to epoch; every schedule runs in one compiled
    program, so a grid over schedules or their settings compiles nothing new.

    - ``"constant"``: ``learning_rate`` throughout.
    - ``"invscaling"``: ``learning_rate / (t + 1) ** power_t``, ``t`` the training rows seen
      before the epoch, as scikit-learn's ``learning_rate="invscaling"``.
    - ``"adaptive"``: divided by 5 each time ``patience`` epochs in a row fail to lower the
      training loss by ``tol``, as scikit-learn's ``learning_rate="adaptive"``.
    - ``"cosine"``: annealed from ``learning_rate`` towards 0 along half a cosine over
      ``horizon`` epochs, ``learning_rate * (1 + cos(pi * epoch / horizon)) / 2``.
    - ``"coslog4"``: four warm-up-and-anneal cycles, each twice as long as the one before
      (RealMLP's): ``learning_rate * (1 - cos(2 pi log2(1 + 15 t))) / 2`` at the middle of
      each epoch, ``t = (epoch + 0.5) / horizon``.
    """

    name: str = "constant"
    learning_rate: float = 1e-3
    power_t: float = 0.5
    patience: int = 10
    tol: float = 0.0
    horizon: int = 1
    n_train: int = 1

    def low_points(self) -> tuple[int, ...]:
        """The epoch counts, before the horizon, after which coslog4's rate was at a cycle's
        lowest (the ends of its first three cycles: 14, 41 and 94 of 200 epochs); other
        schedules have none."""
        if self.name != "coslog4":
            return ()
        ends = (round((2**k - 1) * self.horizon / 15 - 0.5) + 1 for k in (1, 2, 3))
        return tuple(sorted({end for end in ends if 1 <= end < self.horizon}))

    def inputs(self) -> tuple:
        """The schedule as a compiled program's run-time inputs."""
        return (np.int32(SCHEDULES.index(self.name)), np.float32(self.learning_rate),
                np.float32(self.power_t), int32(self.patience), float32(self.tol),
                np.float32(self.horizon), np.float32(self.n_train))  # fmt: skip


@dataclass(frozen=True)
class TrainingSchedule:
    """How long and how to train. With ``low_points`` (epoch counts), a fit with a validation
    score stops at one of them when its score there is no better than at the previous one:
    a whole cycle of the learning rate that ends lower did not help, the fit is past its
    best (racing's pruning over epochs, :mod:`skreg._cv`)."""

    epochs: int
    batch_size: int
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None
    verbose: int = 0
    learning_rate: LearningRateSchedule = LearningRateSchedule()
    low_points: tuple[int, ...] = ()


@dataclass(frozen=True)
class Validation:
    """The per-epoch validation hook of :func:`skreg._training.train`.

    ``score`` turns the epoch's validation loss (or None) into the metrics to record and the
    score to maximize. ``uses_weights`` says that it looks at the weights being trained (a
    scikit-learn scorer): then every epoch returns to the host, and early stopping is decided
    here; otherwise the compiled program decides it, on the negated validation loss, with
    the same :class:`EarlyStopping` rule.
    """

    score: Callable[[float | None], tuple[dict[str, float], float]]
    uses_weights: bool = False
    # What the score is, for messages: "the validation loss", "scoring='r2' on 12 rows".
    name: str = "the validation loss"


@dataclass(frozen=True)
class EpochHooks:
    """Calls around each epoch (scikit-learn's callbacks): ``begin(epoch, result)`` before
    it and ``end(epoch, result)`` after it, which returns True to stop training there;
    ``result``, the call's :class:`TrainingResult` so far."""

    begin: Callable[[int, TrainingResult], None]
    end: Callable[[int, TrainingResult], bool]


@dataclass(frozen=True)
class Fresh:
    """A fit that starts from new weights, drawn from ``seeds``."""

    seeds: np.random.SeedSequence


@dataclass(frozen=True)
class Continue:
    """A fit that continues ``network`` (``warm_start``, ``partial_fit``) with ``optimizer``'s
    state, or a fresh optimizer when it is None (the optimizer changed)."""

    network: NetworkState
    optimizer: OptimizerState | None


@dataclass(frozen=True)
class TrainingRequest:
    """Everything one fit needs; the engine's ``fit(request)`` does the rest."""

    key: ProgramKey
    start: Fresh | Continue
    dropout: tuple[float, ...]
    learning_rate: float
    penalty: tuple[float, float]
    X: np.ndarray
    Y: np.ndarray
    train_rows: np.ndarray
    train_weights: np.ndarray
    schedule: TrainingSchedule
    seeds: np.random.SeedSequence  # shuffling and the augmenter's random streams
    augmentation: AugmentationPlan = AugmentationPlan()
    validation_rows: np.ndarray | None = None
    validation_weights: np.ndarray | None = None
    # Given a function that returns the network being trained (as NumPy arrays), the
    # validation hook and the per-epoch hooks (scikit-learn's callbacks).
    make_validation: Callable[[Callable[[], NetworkState]], Validation] | None = None
    make_hooks: Callable[[Callable[[], NetworkState]], EpochHooks] | None = None
    # Where the learning-rate schedule starts (None: at its beginning).
    clock: ScheduleClock | None = None
    # The training loss of the first epoch of the run this fit continues, for the divergence
    # check (None: this fit starts the run).
    reference_loss: float | None = None
    # For a continued fit: the loss of the model it starts from on the first PROBE_ROWS of
    # its training rows, computed when asked (by a loss beyond the reference's bound).
    start_loss: Callable[[], float] | None = None
    # The optimizer's settings given at run time, by Keras' names (beta_1, beta_2, epsilon,
    # rho, weight_decay); those the optimizer does not have are left out.
    optimizer_settings: tuple[tuple[str, float], ...] = ()
    # The classifier's label smoothing (0 for the regressor).
    label_smoothing: float = 0.0
    # "flat_cosine": the dropout rates and the weight decay follow RealMLP's flat-then-cosine
    # schedule over the budget; "constant": they stay as given.
    regularization_schedule: str = "constant"


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch returned: losses, and whether it set a new best validation score
    (None unless the session stops early by itself), and whether the session's early
    stopping ended the fit after it."""

    loss: float
    val_loss: float | None = None
    improved: bool | None = None
    learning_rate: float | None = None
    stopped: bool = False


@dataclass
class TrainingResult:
    """What one call of the training loop observed, epoch by epoch."""

    history: dict[str, list[float]] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None

    @property
    def n_epochs(self) -> int:
        return len(self.history.get("loss", []))


@dataclass(frozen=True)
class TrainingOutcome:
    """What the engine hands back: the trained state as NumPy arrays, what the loop saw,
    and where the learning-rate schedule stopped."""

    network: NetworkState
    optimizer: OptimizerState
    result: TrainingResult
    clock: ScheduleClock
    # A call of one epoch without a validation split: the objective on its first
    # ``PROBE_ROWS`` training rows after its last step, computed by the compiled program.
    probe_loss: float | None = None


# Rows on which a one-epoch call's loss after its last step is measured (divergence check).
PROBE_ROWS = 512


def hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive ints, or a clear error. An empty
    sequence is no hidden layer: a linear model of the inputs (as in MLPClassifier)."""
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes))
    if sizes.ndim == 1 and sizes.size == 0:
        return ()
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
        raise ValueError(
            "hidden_layer_sizes must be a positive integer or a sequence of positive integers "
            "(empty for no hidden layer); "
            f"got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)
