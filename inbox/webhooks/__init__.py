"""Outbound webhooks: signed event deliveries to admins' URLs through an outbox."""
