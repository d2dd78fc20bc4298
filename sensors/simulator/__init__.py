"""Simulated devices: realistic readings for the seeded smart meters and sensors, over MQTT.

profiles.py (pure usage and temperature profiles), devices.py (what to simulate, loaded
from the database), messages.py (faults and device messages), rounds.py (one round per
simulated quarter hour, paced onto a publisher), publisher.py (paho at QoS 1), run.py
(`housing simulate`). The behaviour and the faults are described in docs/simulator.md.
"""
