"""Quality scores of management companies: one per company and month, with every input kept."""
