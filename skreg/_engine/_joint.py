"""Joint training: fits that run side by side as the lanes of one compiled call.

A :class:`Batch` runs a list of tasks (for the CV estimators: a fold model's fit and score),
each in a thread of its own. Each task's fit reaches :func:`skreg._engine.fit` as any fit
does; on a program that can batch (JAX: ``jax.vmap`` of the epoch loop,
:meth:`~._program.Program.joint`), its session hands every compiled call to its
:class:`Lane` instead of making it. Once every live task has handed in a call or ended, the
batch makes the calls of the fits that share a program and input shapes as one call of the
program's ``joint_epochs`` function, their values stacked along a leading model axis, and
hands each lane its slice.

Everything of a fit stays its own: its rows and weights, penalty, label smoothing, learning
rate and schedule (its uploaded data), its dropout rates and random streams (its state), its
early stopping and best weights (kept inside the loop, per lane: a lane that stopped idles
while the others run). The host side of each fit (:func:`skreg._training.train`: epochs per
call, divergence checks, the fitted record) runs unchanged in its thread.

Every joint call has the batch's ``width`` lanes, so that a program compiles its joint
function once whatever the number of fits (the CV estimators give every round of a search
the widest round's width): a lane whose fit has ended, and the lanes beyond a group's fits,
run again the last inputs they saw (or the group's first lane's) with zero epochs, and their
outputs are dropped. On an accelerator the idle lanes run in parallel with the others; on a
CPU they cost their share of the arithmetic.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

_CURRENT = threading.local()
# The position of the epoch count in a call's inputs, see ._session.Session.run_epochs.
_N_EPOCHS = 6


def take() -> Lane | None:
    """The lane of the task running in this thread, if it runs in a :class:`Batch` and its
    lane has not served a fit yet: a lane serves the task's first fit only (a scorer that
    fits a model of its own trains it alone)."""
    lane = getattr(_CURRENT, "lane", None)
    _CURRENT.lane = None
    return lane


class Lane:
    """One task's place in a :class:`Batch`."""

    def __init__(self, batch: Batch, index: int) -> None:
        self.batch = batch
        self.index = index

    def call(self, program: Any, inputs: tuple) -> Any:
        """The outputs of ``program``'s epochs function on ``inputs``, computed with the
        other lanes' calls."""
        return self.batch._post(self.index, program, inputs)

    def leave(self) -> None:
        """End the lane's part in the joint calls (its fit has ended): the others no longer
        wait for it."""
        self.batch._leave(self.index)


class Batch:
    """Tasks whose fits train jointly (see the module docstring).

    ``joint_calls`` counts the calls that ran several lanes at once, ``lanes`` the lanes of
    the widest one: for tests and benchmarks.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self._condition = threading.Condition()
        self._live: set[int] = set()
        self._posts: dict[int, tuple[Any, tuple]] = {}
        self._results: dict[int, Any] = {}
        self._groups: dict[tuple, _Group] = {}
        self.joint_calls = 0
        self.lanes = 0
        self._stopped = False  # interrupted: every lane ends at its next call

    def run(self, tasks: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run every task in a thread of its own, as a lane; return their results in order
        (raise the first task's error, by order, once all have ended).

        scikit-learn's configuration (a thread-local) is the caller's in every thread.
        """
        from sklearn import config_context, get_config

        from .._training import held_output

        config = get_config()
        self._live = set(range(len(tasks)))
        printed: list[list[str]] = [[] for _ in tasks]

        def in_lane(index: int, task: Callable[[], Any]) -> Any:
            _CURRENT.lane = Lane(self, index)
            try:
                with config_context(**config), held_output() as printed[index]:
                    return task()
            finally:
                _CURRENT.lane = None
                self._leave(index)

        # warnings.catch_warnings (a fit's, a compile's) is not thread-safe: lanes leaving
        # theirs out of order can leave the process's filters and display as one lane set
        # them (a later warning then vanishes). This one puts back the caller's.
        with warnings.catch_warnings():
            pool = ThreadPoolExecutor(max_workers=max(1, len(tasks)))
            try:
                futures = [pool.submit(in_lane, i, task) for i, task in enumerate(tasks)]
                wait(futures)
            except BaseException:  # Ctrl-C: the lanes trained on to their fits' end
                self._stop()
                raise
            finally:
                pool.shutdown(wait=True)
        # The fits' epoch lines (verbose), in the tasks' order, as one-by-one fits print them.
        for lines in printed:
            if lines:
                print("\n".join(lines), flush=True)
        return [future.result() for future in futures]

    def _post(self, index: int, program: Any, inputs: tuple) -> Any:
        with self._condition:
            self._posts[index] = (program, inputs)
            self._run_when_ready()
            while index not in self._results and not self._stopped:
                self._condition.wait()
            if self._stopped:
                raise KeyboardInterrupt("the joint fits were interrupted")
            result = self._results.pop(index)
        if isinstance(result, BaseException):
            raise result
        return result

    def _stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()

    def _leave(self, index: int) -> None:
        with self._condition:
            self._live.discard(index)
            self._run_when_ready()

    def _run_when_ready(self) -> None:
        """Once every live lane waits on a call, make the calls, one per group."""
        if self._stopped or not self._posts or len(self._posts) < len(self._live):
            return
        posts, self._posts = self._posts, {}
        calls: dict[tuple, dict[int, tuple]] = {}
        programs: dict[tuple, Any] = {}
        for index in sorted(posts):
            program, inputs = posts[index]
            key = _signature(program, inputs)
            calls.setdefault(key, {})[index] = inputs
            programs[key] = program
        for key, group_calls in calls.items():
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(programs[key], sorted(group_calls), self.width)
            try:
                outputs = group.run(group_calls)
            except BaseException as error:  # each lane's fit raises it in its own thread
                outputs = dict.fromkeys(group_calls, error)
            if group.width > 1:
                self.joint_calls += 1
                self.lanes = max(self.lanes, group.width)
            self._results.update(outputs)
        self._condition.notify_all()


class _Group:
    """The fits that share a program and input shapes, in a fixed order of lanes, padded
    to ``width`` lanes."""

    def __init__(self, program: Any, fits: list[int], width: int) -> None:
        self.program = program
        self.fits = fits
        self.width = max(width, len(fits))
        self.last: list[tuple] = []

    def run(self, calls: dict[int, tuple]) -> dict[int, Any]:
        import keras

        alone = {i: inputs for i, inputs in calls.items() if i not in self.fits}
        outputs = {i: self.program.call("epochs", *inputs) for i, inputs in alone.items()}
        if self.width == 1:
            own = [i for i in self.fits if i in calls]
            return outputs | {i: self.program.call("epochs", *calls[i]) for i in own}
        if not self.last:
            self.last = [calls[self.fits[0]]] * self.width
        lanes = []
        for position in range(self.width):
            index = self.fits[position] if position < len(self.fits) else None
            if index in calls:
                self.last[position] = calls[index]
                lanes.append(calls[index])
            else:  # an ended fit, or padding: no epoch
                idle = list(self.last[position])
                idle[_N_EPOCHS] = np.int32(0)
                lanes.append(tuple(idle))
        stacked = keras.tree.map_structure(lambda *values: keras.ops.stack(values), *lanes)
        joint = self.program.call("joint_epochs", *stacked)
        for position, index in enumerate(self.fits):
            if index in calls:
                outputs[index] = keras.tree.map_structure(lambda v, p=position: v[p], joint)
        return outputs


def _signature(program: Any, inputs: tuple) -> tuple:
    import keras

    leaves = keras.tree.flatten(inputs)
    return (id(program), *((np.shape(v), str(getattr(v, "dtype", type(v)))) for v in leaves))
