"""A building's account as residents read it: what their payments brought in, what was spent, the quarterly reports."""
