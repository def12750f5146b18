"""Exercise checks: ``core.py`` holds what every check shares (messages, calling the student's
function, comparing arrays); one module per notebook holds that notebook's checks, or one per
family of its exercises where a notebook has several
(``welcome`` for 00, ``rnn_basics`` for 01, ``char_rnn`` for 02, ``bptt`` for 03,
``gradient_flow`` for 04, ``lstm_gru`` for 05; ``captioning``, ``decode_loop`` and
``beam_search`` for 06; ``attention`` (the soft-attention step) and ``attention_losses``
(REINFORCE surrogate, doubly stochastic regulariser) for 07; ``vqa`` for 08).
"""
