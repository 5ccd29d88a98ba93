"""The verdict every benchmark ends with: the missed targets, loudly, and the exit status."""
from __future__ import annotations


def verdict(missed: list[str], met_line: bool = True) -> int:
    """Print the missed targets (exit status 1) or that all were met (0)."""
    if missed:
        print("\nMISSED: " + "; ".join(missed))
        return 1
    if met_line:
        print("\nall targets met")
    return 0
