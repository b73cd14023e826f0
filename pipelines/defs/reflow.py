"""Domain `reflow`: prefilled workbooks, reconciled returns, observed burden, and their jobs and schedule (assets/reflow/defs.py)."""

from assets.reflow.defs import defs as defs
