"""Domain `persons`: person rows and entity resolution: core.persons, core.person_records, id history (assets/persons/defs.py)."""

from assets.persons.defs import defs as defs
