"""Tests of Rapport."""
