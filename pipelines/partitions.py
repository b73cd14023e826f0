"""Partitions: ingestion is partitioned by district (16), the unit in which districts deliver files.

No time dimension: periods belong to forms (月报/季报/年报/不定期 each have their own), so a delivery
date axis would not line up with them. Each district partition mirrors that district's whole landing
folder incrementally (unchanged files are not read again), which is what a nightly run needs.
"""

from __future__ import annotations

import dagster as dg

from assets.reference.divisions import district_codes

district_partitions = dg.StaticPartitionsDefinition(district_codes())
