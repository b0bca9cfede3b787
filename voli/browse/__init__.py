"""``voli browse``: check tokens by ear: a vowel chart and tables served on 127.0.0.1, from which a
click plays a token and shows its spectrogram, and a token can be excluded (exclusions.csv)."""
