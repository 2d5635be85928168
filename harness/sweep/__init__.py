"""Sweeps: many comparisons at once (cases x dtypes x seeds x batch sizes x learning rates), on this machine or on Dask.

    grid.py       the grid and its points (command line or TOML)
    point.py      one point, run where an executor puts it: the comparison, its metrics and its full report
    executors.py  serial, a local process pool, or a Dask cluster; a point whose worker dies is retried or recorded
    store.py      the sweep folder, written point by point (atomically) so a sweep can be resumed
    driver.py     one session: the missing points on an executor, saved as they finish, with a progress bar
    report.py     pass rates over seeds, worst points, the spread of gradient differences
    cli.py        ``funcad-compare sweep``
"""
