"""Order management: intents, the order state machine, validation, throttling, reconciliation."""
