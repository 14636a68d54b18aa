"""Health records: immunization compliance against requirements kept as data."""
