"""Test support: real servers, real clients."""
