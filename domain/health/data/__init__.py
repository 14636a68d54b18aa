"""Data files shipped with the health domain (the CDSi map)."""
