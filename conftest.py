"""pytest's settings for the whole tree (the tests' own fixtures are in tests/conftest.py)."""

# ``--doctest-modules`` imports every module under skreg/ to collect its examples. The
# engine's modules import Keras, which skreg itself loads only at the first fit, after
# setting up its threads and compilation cache; they hold no examples, so collecting them
# would only load the backend in an order no user sees.
collect_ignore_glob = ["skreg/_engine/*.py"]
