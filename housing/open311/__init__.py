"""Open311 GeoReport v2: the city's civic-tech clients read and file service requests."""
