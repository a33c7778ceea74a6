"""SAM-X."""
