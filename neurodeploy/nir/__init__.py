"""NIR interchange: import NIR graphs (snnTorch, Norse, Sinabs, Spyx, Rockpool) into the IR and
export IR networks or builds as NIR. The equations and what is refused: docs/nir.md.

Modules: :mod:`.graphio` (NIR files, errors, sizes checked before reading), :mod:`.params`
(neuron parameter mapping), :mod:`.conv` (convolutions unrolled), :mod:`.importer` (graph ->
IR pieces), :mod:`.bias_timing` (when Affine/Conv biases start), :mod:`.metadata` (the
``neurodeploy_ir`` entry, checked), :mod:`.ir_files` (IR YAML and weight files), :mod:`.flat`
(realised networks, comparison), :mod:`.exporter` (IR or build -> graph),
:mod:`.export_checks` (output path, learning pathway), :mod:`.export_options` (time unit,
r = 1, one Output, node order).
"""
from __future__ import annotations

from .graphio import NirError, read_graph, write_graph

__all__ = ["NirError", "read_graph", "write_graph", "import_file", "export_file"]


def import_file(nir_path, out_yaml, dt=None, integrator="euler", current_input="euler"):
    """Import a .nir file to a network YAML with weight files beside it; (path, notes).

    ``integrator`` "exact" integrates LIF/LI nodes exactly over a step (as Sinabs does);
    ``current_input`` "jump" adds a CubaLIF's input to its current whole (as Norse does)."""
    from .ir_files import import_file as run
    return run(nir_path, out_yaml, dt, integrator, current_input)


def export_file(source, out, time_unit="ir", r_one=False, record=None):
    """Export a network YAML or a build directory to a .nir file; (path, notes).

    ``time_unit`` "s" writes times in seconds, ``r_one`` writes LIF-family nodes with r = 1,
    ``record`` writes one Output for that population (see :mod:`.export_options`)."""
    from .export_options import ExportOptions
    from .exporter import export_file as run
    return run(source, out, ExportOptions(time_unit, r_one, record))
