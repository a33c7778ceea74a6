"""SAM-X labeling service."""
