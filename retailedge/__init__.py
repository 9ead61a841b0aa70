"""The ``retailedge`` command: one front door to the gateway, cloud, simulators and demo."""
