"""Each building's money: what the company spent on it, and the quarterly reports it publishes."""
