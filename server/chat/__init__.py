"""Conversations between shoppers and agents: messages, queue and assignment, presence, access."""
