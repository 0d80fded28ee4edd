"""Quality evaluation (opt-in): metrics, MATLAB bicubic, datasets, peers (litesr-edge eval)."""
