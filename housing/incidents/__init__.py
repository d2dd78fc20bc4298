"""Service incidents: periods when a building got less than the norm (sensor-detected or planned)."""
