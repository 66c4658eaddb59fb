"""The staff area: users, sign-in, the leads list, export and the audit log."""
