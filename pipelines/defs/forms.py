"""Domain `forms`: field matching to data elements, form overlap, prefill and form plans, burden marts (assets/forms/defs.py)."""

from assets.forms.defs import defs as defs
