"""``python -m simulators gps ...``."""

from simulators.cli import simulate_group

simulate_group(prog_name="python -m simulators")
