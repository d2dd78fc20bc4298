"""MQTT ingestion: the device contract, the consumer, its storage and its leases."""
