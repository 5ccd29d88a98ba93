"""Simulation backends, installed as neurodeploy.compilers."""
