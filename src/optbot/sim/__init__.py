"""A local Angel One SmartAPI server: REST, WS V2 market feed, order-update socket, exchange, replay."""
