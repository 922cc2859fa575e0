"""Shared test configuration: only a hypothesis profile chosen by ``HYPOTHESIS_PROFILE`` (``ci``: no deadline)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
