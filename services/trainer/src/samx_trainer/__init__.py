"""SAM-X trainer service: phase 1 (SimCLR pretext on Ray Train, then SCAN clustering) over the archive.

Model code lives in ``samx_ml`` (torch only); this package adds the data source (MinIO), the Ray Train
wrapping, the artifacts and the ``clustering.completed`` event."""
