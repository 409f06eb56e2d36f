"""xpnet's benchmark suite: ``python -m benchmarks --backend numpy`` (or ``nox -s bench``)."""
