"""Billing the SIS owns: tuition, fees, stackable discounts, payment plans and household ledgers in integer cents."""
