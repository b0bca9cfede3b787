"""Forced alignment: pronunciation lexicon (G2P), acoustic model, Viterbi alignment."""
