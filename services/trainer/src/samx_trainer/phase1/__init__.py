"""Phase 1: the archive -> SimCLR pretext on Ray Train -> SCAN clusters -> the run's artifacts."""
