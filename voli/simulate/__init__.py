"""Synthetic interview corpora with known truth (see voli.simulate.sample)."""
