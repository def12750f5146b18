"""Exercise checks: ``core.py`` holds what every check shares (messages, calling the student's
function, comparing arrays); one module per notebook holds that notebook's checks
(``welcome`` for 00, ``rnn_basics`` for 01, ``char_rnn`` for 02, ``bptt`` for 03,
``gradient_flow`` for 04, ``lstm_gru`` for 05).
"""
