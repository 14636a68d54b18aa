"""Behavior incidents: listing by org, period and severity, and recording new incidents."""
