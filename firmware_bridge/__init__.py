"""Pure wire-protocol codecs and the record types shared by simulators, gateways and the cloud."""
