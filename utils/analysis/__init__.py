"""Measurements on models: spectra, gradient flow through time, clipping, cell traces, metrics.

May import ``utils.training`` and everything below it; never ``viz`` or ``checks``.
"""
