"""neurodeploy: compile spiking networks to hardware profiles, simulate, validate.

Importing the package installs the Lava compatibility shim (see ``_lava_compat``) so that
``import lava...`` works on Python 3.11 afterwards; Lava itself is not imported here.
"""
from . import _lava_compat

_lava_compat.install()

__version__ = "0.1.0"
