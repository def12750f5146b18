"""Data of the course: text corpora and generated worlds (numpy and python only, no torch models).

May import ``utils.layers`` and the bottom modules (``course``, ``validate``, ``gradcheck``).
"""
