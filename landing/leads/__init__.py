"""Leads: the form's checks, the spam guards, the store and the notification outbox."""
