"""Households: guardians, students and the billing shares of students in split custody."""
