"""The widget and agent WebSocket endpoints: thin; they hand validated frames to the services."""
