"""variability."""
