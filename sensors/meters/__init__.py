"""Meters and condition sensors: the register of devices, their alerts and their pages."""
