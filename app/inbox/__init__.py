"""The durable inbox: every webhook event is stored here before it is acknowledged."""
