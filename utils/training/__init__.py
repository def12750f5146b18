"""Training loops, one module per task: char_lm, adding, tbptt, hello.

May import ``utils.models``, ``utils.data``, ``utils.layers`` and the bottom modules; never
``analysis``, ``viz`` or ``checks``.
"""
