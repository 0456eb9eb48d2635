"""Repository maintenance scripts (not part of the Lambda package)."""
