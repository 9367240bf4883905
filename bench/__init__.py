"""Benchmarks for swarmctl: provisioning next to a parallel-SSH floor, idempotent
re-runs, a scale curve and CLI start-up. Run `python -m bench --help`.

Benchmarks print figures and write them to `bench/results/`; no test asserts a time.
"""
