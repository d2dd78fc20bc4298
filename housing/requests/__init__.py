"""Service requests: residents and dispatchers file them, staff move them to done against deadlines."""
