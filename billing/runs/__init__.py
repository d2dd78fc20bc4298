"""The monthly billing run, and the months billed without a reading."""
