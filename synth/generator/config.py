"""Generator settings: sizes, presets and every noise rate, with their documented defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PresetName = Literal["tiny", "default", "bench", "city"]
EngineName = Literal["classic", "vector"]
DEFAULT_SEED = 20261126
LAST_MONTH = (2026, 10)  # the newest monthly period; quarterly and annual periods end before it
COVERAGE_DATE = (2026, 10, 1)  # ages in coverage rules (e.g. 高龄 = 80+) are taken on this day


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoiseRates(_Frozen):
    """Probabilities of the defects planted in delivered files (per row unless stated)."""

    id_blank: float = Field(0.03, description="ID cell left empty")
    id_legacy15: float = Field(0.02, description="old 15-digit ID (rows of people born before 2000)")
    id_lowercase_x: float = Field(0.30, description="check digit X written as x (rows whose ID ends in X)")
    id_wrong_check: float = Field(0.005, description="wrong check digit")
    id_digit_typo: float = Field(0.003, description="two adjacent digits swapped or one digit replaced")
    id_fullwidth: float = Field(0.01, description="ID typed in full-width digits ０-９")
    name_homophone: float = Field(0.01, description="one character replaced by a homophone (张伟→章伟)")
    name_space: float = Field(0.015, description="leading/trailing or inner space in the name (张 伟)")
    phone_format: float = Field(0.05, description="+86 prefix, spaces or dashes in a phone")
    phone_fullwidth: float = Field(0.01, description="phone in full-width digits")
    phone_blank: float = Field(0.02, description="phone left empty (non-required phone fields only)")
    date_mixed: float = Field(0.03, description="a date cell in another style than the rest of its file")
    unusable_no_name_no_id: float = Field(0.001, description="row with neither name nor ID (quarantine)")
    unusable_bad_integer: float = Field(0.002, description="required 整数 field holding 不详 (quarantine)")
    column_anomaly: float = Field(
        0.02, description="per file: a column missing, renamed to a synonym, or extra"
    )
    xlsx_share: float = Field(0.40, description="share of (committee, form) deliveries made as .xlsx")
    csv_encodings: dict[str, float] = Field(
        default_factory=lambda: {"utf-8": 0.40, "utf-8-sig": 0.25, "gbk": 0.20, "gb18030": 0.15},
        description="CSV encoding mix (per (committee, form))",
    )
    district_wide_districts: float = Field(
        0.125, description="share of districts delivering some forms district-wide"
    )
    district_wide_forms: float = Field(
        0.35, description="share of forms such a district delivers district-wide"
    )
    broken_files: int = Field(
        4, ge=0, le=4, description="files broken on purpose (empty, non-zip xlsx, no header, unknown form)"
    )
    corrections: int = Field(2, ge=0, le=5, description="re-delivered `_更正` files with one value fixed")


class PopulationRates(_Frozen):
    """Facts about residents that make entity resolution hard (they are true, not defects)."""

    movers: float = Field(
        0.03, description="share of households that move to another township/district mid-window"
    )
    mover_new_phone: float = Field(0.5, description="share of movers' own mobiles replaced when moving")
    phone_change: float = Field(0.05, description="share of people whose mobile changes once in the window")
    common_name: float = Field(0.10, description="share of people named from the ~20 very common names")
    twins: float = Field(
        0.03, description="share of households with 2+ children whose children include twins"
    )
    migrants_central: float = Field(
        0.15, description="share of migrant (来沪) households in central districts"
    )
    migrants_outer: float = Field(0.30, description="share of migrant households in outer districts")
    local_other_district: float = Field(
        0.20, description="locals whose ID region is another Shanghai district"
    )
    local_legacy_code: float = Field(
        0.08, description="locals born before 1990 with a pre-merger region code"
    )
    landline_elderly: float = Field(0.10, description="people 75+ reachable only by a 021 landline")


class GeneratorConfig(_Frozen):
    """What to generate. Same config (including seed) ⇒ byte-identical output."""

    seed: int = DEFAULT_SEED
    districts: int | None = Field(None, ge=1, le=16, description="how many of the 16 districts (None = all)")
    committees_per_district: int | None = Field(
        None, ge=1, description="committees per district (None = all)"
    )
    residents_per_committee: int = Field(60, ge=4, description="mean residents per committee (±15%)")
    periods: int = Field(3, ge=1, le=36, description="monthly periods back from 2026-10")
    engine: EngineName = Field(
        "classic",
        description="row rendering: classic (row by row, the bundled sample's bytes) or vector (column-wise "
        "numpy draws per file, same rates and defects, other bytes; much faster on large presets)",
    )
    noise: NoiseRates = Field(default_factory=NoiseRates)
    population: PopulationRates = Field(default_factory=PopulationRates)

    @classmethod
    def preset(cls, name: PresetName, **overrides: object) -> GeneratorConfig:
        """A named preset with optional overrides (None values are ignored)."""
        base = dict(PRESETS[name])
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


PRESETS: dict[str, dict[str, object]] = {
    # unit tests: 2 districts × 2 committees × ~40 residents
    "tiny": {"districts": 2, "committees_per_district": 2, "residents_per_committee": 40, "periods": 3},
    # the bundled sample (data/sample): every district, 3 committees each
    "default": {"districts": 16, "committees_per_district": 3, "residents_per_committee": 60, "periods": 3},
    # ≥1M data rows for benchmarks
    "bench": {"districts": 16, "committees_per_district": 25, "residents_per_committee": 600, "periods": 3},
    # the whole city: 6,509 committees, ~25M residents (streams per committee; not run in CI)
    "city": {
        "districts": 16,
        "committees_per_district": None,
        "residents_per_committee": 3800,
        "periods": 3,
        "engine": "vector",
    },
}
