"""One settings model per domain. Each package owns its section file; the root model composes them."""
