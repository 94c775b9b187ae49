"""Rapport: live chat and push for online shops."""
