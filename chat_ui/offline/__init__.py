"""The offline assistant: reads a staff question (text, slots, names, periods, intents), answers it (planner)."""
