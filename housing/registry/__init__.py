"""The register of districts, management companies, buildings, apartments and people."""
