"""Seeded, deterministic generator of a synthetic Shanghai landing zone (catalog, district files, ground truth)."""

from assets.generator.config import PRESETS, GeneratorConfig, NoiseRates, PopulationRates
from assets.generator.generate import GenerationSummary, generate

__all__ = ["PRESETS", "GenerationSummary", "GeneratorConfig", "NoiseRates", "PopulationRates", "generate"]
