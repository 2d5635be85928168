"""Where two engines differ, layer by layer: capture (``capture``), chained and isolated comparison (``compare``),
planted layer faults (``faults``) and the report's layer table and heatmap (``report``)."""
