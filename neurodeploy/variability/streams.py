"""Stream numbers of the counter-based random function (:mod:`.counter_rng`), apart from it
so that a noise model's definition can name its stream without importing numba."""

#: streams of the temporal noise models (:mod:`neurodeploy.noise_models`) and neurons
STREAM_MEMBRANE = 1
STREAM_SPIKE_DROP = 2
STREAM_STOCHASTIC = 3
STREAM_CURRENT = 4
#: streams of the learning engine's weight updates (compilers/cpu/learn_rules.py); their
#: ``pop`` coordinate is a projection's id and ``step`` the update's index.
STREAM_UPDATE_NOISE = 5
STREAM_UPDATE_ROUNDING = 12
