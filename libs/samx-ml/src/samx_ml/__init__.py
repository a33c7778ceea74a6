"""SAM-X model code (torch only)."""
