"""Webhook endpoints: verify, store in the inbox, acknowledge. Never process in the request."""
