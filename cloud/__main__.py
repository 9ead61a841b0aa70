"""``python -m cloud ...``: the cloud CLI without the ``retailedge`` root command."""

from cloud.cli import cloud_group

if __name__ == "__main__":
    cloud_group(prog_name="python -m cloud")
