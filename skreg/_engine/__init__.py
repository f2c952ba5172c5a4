"""The training engine: everything that imports Keras, TensorFlow or JAX, behind one door.

The estimators describe a fit (:class:`~skreg._specs.TrainingRequest`) and call the
functions here; nothing outside this package imports a backend. Importing this module
imports no backend either: each function loads it first (:mod:`._loader`, once per
process, at the first fit or predict).

- :func:`fit`, :func:`predict` and :func:`loss` run on the compiled program of a network,
  leased from the process's cache (:mod:`._cache`) for the call.
- :func:`export_model` builds the Keras model a fitted estimator shows as ``model_``;
  :func:`augment` applies augmentations once, for looking at them.
- The program cache's statistics, clearing and size reach :mod:`skreg._config` through hooks
  that :mod:`._cache` registers when it loads (:func:`skreg.program_cache_info`,
  :func:`skreg.clear_program_cache`).

Inside: :mod:`._program` (what a fit computes, written once), :mod:`._session` (one fit),
:mod:`._joint` (fits trained together as the lanes of one call, :func:`joint_batch`),
:mod:`._jax` and :mod:`._tensorflow` (what differs by backend), :mod:`._network`,
:mod:`._penalty`, :mod:`._augmenters` and :mod:`._random` (the Keras pieces),
:mod:`._tf_functions` and :mod:`._disk` (the on-disk compilation cache), :mod:`._imports`
(what the backend's import leaves out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._loader import backend_name, installed, load, loaded, missing_backend, settings

if TYPE_CHECKING:
    from .._specs import (
        AugmentationPlan,
        NetworkState,
        OptimizerState,
        ProgramKey,
        TrainingOutcome,
        TrainingRequest,
    )

__all__ = [
    "accelerator",
    "augment",
    "backend_name",
    "export_model",
    "fit",
    "installed",
    "joint_batch",
    "joint_supported",
    "load",
    "load_keras_model",
    "loaded",
    "loss",
    "missing_backend",
    "predict",
    "settings",
    "start_quietly",
]


def fit(request: TrainingRequest) -> TrainingOutcome:
    """Train as ``request`` says, on the cached program of its network."""
    n_train = len(request.train_rows)
    load(request.key.network.step_flops(min(request.schedule.batch_size, n_train)))
    from ._cache import PROGRAMS
    from ._joint import take
    from ._precision import own_settings
    from ._session import run

    with own_settings(), PROGRAMS.lease(request.key, exclusive=True) as program:
        lane = take() if program.joint else None
        try:
            return run(program, request, lane)
        finally:
            if lane is not None:
                lane.leave()


def joint_batch(width: int) -> Any:
    """A :class:`._joint.Batch`: tasks whose fits train jointly, where the backend can, in
    calls of ``width`` lanes."""
    from ._joint import Batch

    return Batch(width)


def joint_supported() -> bool:
    """Whether this process's backend trains fits jointly (JAX); loads the backend."""
    load()
    return backend_name() == "jax"


def accelerator() -> bool:
    """Whether the backend's default device is an accelerator (GPU or TPU); loads it."""
    load()
    if backend_name() == "jax":
        import jax

        return jax.default_backend() != "cpu"
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def predict(key: ProgramKey, state: NetworkState, X: np.ndarray) -> np.ndarray:
    """Network outputs for ``X`` in inference mode (no dropout), as float64."""
    load()
    from ._cache import PROGRAMS
    from ._precision import own_settings

    with own_settings(), PROGRAMS.lease(key) as program:
        return program.predict(state.trainable, state.non_trainable, X)


def loss(
    key: ProgramKey,
    state: NetworkState,
    X,
    Y,
    w,
    penalty: tuple[float, float],
    smoothing: float = 0.0,
) -> float:
    """The training objective of ``state`` on the rows ``X, Y`` weighted by ``w``, in
    inference mode (no dropout): for a check on the host, such as divergence after a call's
    last step."""
    load()
    from ._cache import PROGRAMS
    from ._precision import own_settings

    with own_settings(), PROGRAMS.lease(key) as program:
        return program.evaluate(state, X, Y, w, penalty, smoothing)


def export_model(
    key: ProgramKey, state: NetworkState, penalty: tuple[float, float], optimizer: OptimizerState
) -> Any:
    """A compiled Keras model holding a fitted ``state`` (see ``model_``)."""
    load()
    from ._network import export_model as build
    from ._precision import own_settings

    with own_settings():
        return build(key.network, state, penalty, key.loss, optimizer)


def load_keras_model(filepath: Any, **kwargs: Any) -> Any:
    """Load a fitted estimator's ``model_`` saved with ``model_.save(filepath)``, in any
    process and on either backend: :func:`keras.models.load_model` with skreg's layers
    (the tabular front, dropout, the penalty) registered, which ``import skreg`` alone does
    not do (it does not import Keras). ``kwargs`` go to :func:`keras.models.load_model`.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> import skreg
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = skreg.RegularizedMLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.keras")
    >>> clf.model_.save(path)
    >>> model = skreg.load_keras_model(path)
    >>> model.predict(clf.network_inputs(X[:2]), verbose=0).shape
    (2, 3)
    """
    load()
    import keras

    from . import _front, _penalty  # noqa: F401  (register skreg's layers)
    from ._network import own_memory

    model = keras.models.load_model(filepath, **kwargs)
    own_memory(model)
    return model


def augment(
    plan: AugmentationPlan,
    X: np.ndarray,
    Y: np.ndarray,
    host_arrays: Sequence[np.ndarray],
    seeds: np.random.SeedSequence,
) -> tuple[np.ndarray, np.ndarray]:
    """``plan``'s augmentations applied once to the rows ``X`` and targets ``Y`` as one
    training batch, with the host-drawn arrays of that batch and the augmenter's ``seeds``."""
    load()
    import keras

    from ._augmenters import build_augmenter
    from ._precision import own_settings

    with own_settings():
        layer = build_augmenter(plan.kinds, n_features=X.shape[1])
        state = layer.initial_state(plan.strengths, seeds, plan.sources)
        for variable, value in zip(layer.non_trainable_variables, state):
            variable.assign(value)
        X, Y = layer(X, Y, *host_arrays)
        return keras.ops.convert_to_numpy(X), keras.ops.convert_to_numpy(Y)


def start_quietly() -> None:
    """Load the backend and start its runtime with the standard error silenced (see
    :func:`._loader.load`'s ``quiet``). For the command line."""
    load(quiet=True)
