"""Announcements: staff post to their buildings or entrances, officials to a district or the city."""
