"""What both phases use: the run's image cache on disk, progress, the Ray connection, checkpoint storage."""
