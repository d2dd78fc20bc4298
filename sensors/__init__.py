"""Meters, condition sensors and MQTT ingestion (builds on the housing domain)."""
