"""``python -m edge run --config FILE``."""

from edge.cli import gateway_group

if __name__ == "__main__":
    gateway_group(prog_name="python -m edge")
