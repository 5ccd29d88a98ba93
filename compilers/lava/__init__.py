"""The lava backend."""
