"""Daily attendance: membership days, rates, chronic absence and recording a day's status."""
