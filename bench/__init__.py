"""The performance harness (`python -m bench`), its floor, and the fault-injection run."""
