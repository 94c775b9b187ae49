"""The `rapport` subcommands that are more than a few lines (server/cli.py holds the parser)."""
