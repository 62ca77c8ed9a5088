"""Broker abstraction: the `Broker` protocol, its models and errors, and the Angel One adapter."""
