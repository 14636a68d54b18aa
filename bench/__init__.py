"""`sis bench`: the benchmarks a school network decides on, behind one command (issue 17).

The scripts beside this file each measure one thing and stay runnable by hand; the modules named
`harness`, `report`, `databases` and `section_*` put them behind `sis bench` (see `command.py`),
which writes docs/benchmarks.md.
"""
