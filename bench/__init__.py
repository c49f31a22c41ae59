"""PointsNet benchmarks: `python -m bench` prints one table of figures; it asserts nothing."""
