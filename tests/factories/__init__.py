"""Test factories: plain functions that make rows, one module per domain."""
