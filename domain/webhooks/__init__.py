"""Webhooks: per-org subscriptions to domain events, signed deliveries with retries and an attempt log."""
