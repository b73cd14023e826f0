"""Domain `reference`: the administrative divisions (core.divisions) (assets/reference/defs.py)."""

from assets.reference.defs import defs as defs
