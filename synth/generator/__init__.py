"""Seeded, deterministic generator of a synthetic Shanghai landing zone (catalog, district files, ground truth)."""

from synth.generator.config import PRESETS, GeneratorConfig, NoiseRates, PopulationRates
from synth.generator.generate import GenerationSummary, generate

__all__ = ["PRESETS", "GenerationSummary", "GeneratorConfig", "NoiseRates", "PopulationRates", "generate"]
