"""tinyvid."""
