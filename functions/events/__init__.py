"""Outbound events (DESIGN §7): the publisher to EventBridge, the events routes, webhook endpoints and deliveries."""
