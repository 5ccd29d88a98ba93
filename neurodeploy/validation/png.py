"""A matplotlib figure as an inline PNG data URI, for the self-contained HTML reports."""
from __future__ import annotations

import base64
import io
from typing import Any


def png_uri(fig: Any) -> str:
    """``fig`` as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
