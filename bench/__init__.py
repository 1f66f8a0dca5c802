"""Benchmarks: side by side with encord-agents 0.2.10 on the local emulator. Run with `python -m bench [NAME...]`."""
