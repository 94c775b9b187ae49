"""Pushing to customers: their inbox stream, order updates, segments, campaigns, vouchers, reminders."""
