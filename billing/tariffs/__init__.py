"""Services and tariffs: what is billed, at what price, and the quality deduction from it."""
