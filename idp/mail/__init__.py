"""Sending mail: SMTP, or an outbox folder of .eml files for development."""
