"""Clients of the vendors' APIs the platform reads from and delivers to, and their shared plumbing."""
