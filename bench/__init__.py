"""Benchmarks (`make bench`): each module runs with `python -m bench.<module>`; they start
real instances with the helpers of tests/ (stack.py, imagegen.py, ...)."""
