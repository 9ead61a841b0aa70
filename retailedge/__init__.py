"""The ``retailedge`` command: one front door to the gateway, the cloud, the simulators and the demo."""
