"""File input and output: audio, Parquet tables, TextGrids, survey CSVs."""
