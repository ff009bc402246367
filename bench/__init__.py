"""The benchmark of mlgate against the raw tools (bench/README.md)."""
