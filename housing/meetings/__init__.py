"""Owners' meetings: agenda, share-weighted votes, a verifiable count, decisions that take effect."""
