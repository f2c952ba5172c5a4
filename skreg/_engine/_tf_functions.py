"""TensorFlow functions registered under names that do not depend on the process's history.

TensorFlow names a traced function and every function nested in it (loop bodies, branches)
with a process-wide counter (``__inference__run_epochs_1462``), and its XLA compilation
cache keys an entry by that name and by the compiled module, whose operation names carry the
same numbers. So an entry written by one process was found by another only if it had traced
exactly the same functions before: on digits, a process fitting network B then A missed the
entries that an A-then-B process wrote, and compiled both again (B's first fit 5.0-5.6 s
against 3.1-3.4 s with the entry, in alternated processes). The workers of a
parallel search fit the networks in any order, so they could miss every entry.

:class:`StableFunction` registers a traced function's whole library again under names made
from the program's key and signature and the functions' order, so the same program gets the
same names, and the same cache entry, in every process. Two different libraries can never
share a name within a process (checked at registration), and across processes the cache
entry is also keyed by the compiled module itself.

The library is also saved in skreg's compilation cache (:meth:`StableFunction.save`), so a
new process loads it instead of tracing the network again (0.6-0.8 s for digits' network).
This uses TensorFlow's private eager context (``add_function_def``, ``call_function``); if
that fails, the program keeps the function it traced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_REGISTERED: Counter[str] = Counter()  # live StableFunctions per registered name


class StableFunction:
    """A traced function's library under stable names, called like the ``ConcreteFunction``.

    Build one with :meth:`from_traced` or :meth:`load`. ``tag`` says what the function
    computes (its program's key and argument specs); the names are
    ``skreg_<hash of tag>_<i>``. ``variables`` are the program's variables in a fixed order:
    the function's captured variables are saved as positions in it, so :meth:`load` binds a
    saved library to a new process's variables. Raises ``ValueError`` if the process already
    has a different function under one of the names (the caller then keeps what it traced).
    """

    def __init__(self, definitions: list, captures: list, dtypes: list, outputs: Any) -> None:
        import tensorflow as tf
        from tensorflow.python.eager import context

        self._tf = tf
        self._context = context.context()
        with _LOCK:
            for definition in definitions:
                name = definition.signature.name
                if _REGISTERED[name] == 0 and not self._context.has_function(name):
                    continue
                if self._context.get_function_def(name) != definition:
                    raise ValueError(f"TensorFlow already has another function named {name}.")
            for definition in reversed(definitions):
                name = definition.signature.name
                if not self._context.has_function(name):
                    self._context.add_function_def(definition)
                _REGISTERED[name] += 1
        self.definitions = definitions
        self.names = [d.signature.name for d in definitions]
        self._captures = captures
        self._dtypes = dtypes
        self._outputs = outputs
        self._n_outputs = len(tf.nest.flatten(outputs))

    @classmethod
    def from_traced(cls, traced: Any, tag: str) -> StableFunction:
        outer = traced.function_def
        library = {f.signature.name: f for f in traced.graph.as_graph_def().library.function}
        library[outer.signature.name] = outer
        # The counter's values shift by the same amount from one process to another, so
        # ordering by the names' text, then their numbers, gives the same order everywhere.
        order = sorted(library, key=lambda name: (name != outer.signature.name, _shape(name)))
        digest = hashlib.sha256(tag.encode()).hexdigest()[:16]
        names = {old: f"skreg_{digest}_{i}" for i, old in enumerate(order)}
        pattern = re.compile(
            "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r"(?!\d)"
        )
        captures = list(traced.captured_inputs)
        n_inputs = len(traced.inputs) - len(captures)
        return cls(
            [_renamed(library[old], names, pattern) for old in order],
            captures,
            [t.dtype for t in traced.inputs[:n_inputs]],
            _template(traced.structured_outputs),
        )

    @classmethod
    def load(cls, path: Path, tag: str, variables: list) -> StableFunction | None:
        """The function saved at ``path`` for ``tag``, or None if there is none to use."""
        import tensorflow as tf
        from tensorflow.core.framework import function_pb2

        try:
            entry = json.loads(path.read_bytes())
            if entry["tag"] != tag:
                return None
            definitions = [
                function_pb2.FunctionDef.FromString(base64.b64decode(d))
                for d in entry["definitions"]
            ]
            dtypes = [tf.as_dtype(name) for name in entry["dtypes"]]
            captures = [variables[i].handle for i in entry["captures"]]
        except Exception:  # missing, being replaced, or not ours: trace instead
            return None
        arguments = definitions[0].signature.input_arg
        if len(arguments) != len(dtypes) + len(captures):
            return None
        return cls(definitions, captures, dtypes, _nested(entry["outputs"]))

    def save(self, path: Path, tag: str, variables: list) -> None:
        """Write the function for :meth:`load`, if it captures only ``variables``."""
        positions = {id(v.handle): i for i, v in enumerate(variables)}
        if not all(id(c) in positions for c in self._captures):
            return
        entry = {
            "tag": tag,
            "definitions": [
                base64.b64encode(d.SerializeToString()).decode() for d in self.definitions
            ],
            "captures": [positions[id(c)] for c in self._captures],
            "dtypes": [dtype.name for dtype in self._dtypes],
            "outputs": self._outputs,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so that a process reading at the same time sees either
        # no entry or a whole one.
        part = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.part")
        try:
            part.write_text(json.dumps(entry))
            os.replace(part, path)
        except OSError:  # a full disk: no partial file left to keep it full
            part.unlink(missing_ok=True)
            raise

    def __call__(self, *args: Any) -> Any:
        tf = self._tf
        flat = tf.nest.flatten(args)
        inputs = [tf.convert_to_tensor(a, dtype) for a, dtype in zip(flat, self._dtypes)]
        outputs = self._context.call_function(
            self.names[0].encode(), inputs + self._captures, self._n_outputs
        )
        return tf.nest.pack_sequence_as(self._outputs, outputs)

    def release(self) -> None:
        """Unregister the names no other live function uses."""
        with _LOCK:
            for name in self.names:
                _REGISTERED[name] -= 1
                if _REGISTERED[name] == 0:
                    del _REGISTERED[name]
                    self._context.remove_function(name)
        self.names = []


def entry_path(cache: str, tag: str) -> Path:
    """Where the function for ``tag`` is saved in the compilation cache's folder ``cache``."""
    return Path(cache) / "functions" / f"{hashlib.sha256(tag.encode()).hexdigest()[:32]}.json"


def _template(outputs: Any) -> Any:
    """The nesting of ``outputs`` (tuples), with None for each tensor."""
    if isinstance(outputs, tuple | list):
        return tuple(_template(o) for o in outputs)
    return None


def _nested(template: Any) -> Any:
    if isinstance(template, list):
        return tuple(_nested(t) for t in template)
    return None


def _shape(name: str) -> tuple[str, list[int]]:
    return re.sub(r"\d+", "#", name), [int(n) for n in re.findall(r"\d+", name)]


def _renamed(definition: Any, names: dict[str, str], pattern: re.Pattern) -> Any:
    """A copy of the ``FunctionDef`` with every function name in ``names`` replaced, also
    where ``pattern`` finds one inside an argument's or an operation's name."""

    def sub(text: str) -> str:
        return pattern.sub(lambda match: names[match.group(0)], text)

    renamed = type(definition)()
    renamed.CopyFrom(definition)
    signature = renamed.signature
    signature.name = names[definition.signature.name]
    for arg in (*signature.input_arg, *signature.output_arg):
        arg.name = sub(arg.name)
    for node in renamed.node_def:
        node.name = sub(node.name)
        node.input[:] = [sub(i) for i in node.input]
        for attr in node.attr.values():
            functions = [attr.func] if attr.HasField("func") else list(attr.list.func)
            for function in functions:
                function.name = names.get(function.name, function.name)
    for mapping in (renamed.ret, renamed.control_ret):
        items = [(sub(k), sub(v)) for k, v in mapping.items()]
        mapping.clear()
        mapping.update(items)
    return renamed
