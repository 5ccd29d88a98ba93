"""Adversarial validation of a build (``validate --attack``): docs/attacks.md."""
