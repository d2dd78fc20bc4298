"""Local stand-ins for external HTTP services that cannot be reached from tests, written from their public docs."""
