"""Independent references: plain float64 NumPy, written from the formulas.

Nothing here calls ferrograd. Each area has its own section; add functions inside your
section only.
"""

from __future__ import annotations

import numpy as np

# ============================================================================ ops (tensor ops)

# ============================================================================ activations

# ============================================================================ regression losses

# ============================================================================ distribution measures

# ============================================================================ classification losses

# ============================================================================ margin losses

# ============================================================================ contrastive losses
