"""PyTorch modules of the course: cells written from the equations, language models, encoders.

May import ``utils.data``, ``utils.layers`` and the bottom modules.
"""
