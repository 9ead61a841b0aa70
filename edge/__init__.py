"""The gateway runtime: device connectors, a durable SQLite outbox and the uplink to the cloud."""
