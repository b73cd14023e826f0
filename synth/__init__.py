"""Synthetic data for development, tests and benchmarks: never imported by the production pipeline.

- `synth.generator`: the seeded landing-zone generator (`jianfu generate`) and its return-flow simulator
  (`synth.generator.returns`, used by the sample run of the reflow stage).
- `synth.persons`: synthetic person records with ground truth for the entity-resolution tests and benchmarks.
- `synth.forms`: the hand-labelled form fields and the precision/recall evaluation of the field matcher.
"""
