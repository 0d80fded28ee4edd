"""Benchmarks (opt-in): plan, timing, machine info, reports, plots, MAC counter (litesr-edge bench)."""
