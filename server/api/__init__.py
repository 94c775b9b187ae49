"""REST endpoints, one module per resource; every body validated by the same models as frames."""
