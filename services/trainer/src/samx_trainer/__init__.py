"""SAM-X trainer service: phase 1 (SimCLR pretext on Ray Train, then SCAN clustering) and phase 2 (the
classifier the radiologist's names are injected into) over the archive, and the backbone pretraining.

Model code and the one training loop per stage live in ``samx_ml`` (torch only); this package adds the
data sources (MinIO), the Ray Train wrapping, the artifacts and the events:

    phase1/      archive -> pretext -> SCAN clusters -> run artifacts and ``clustering.completed``
    phase2/      label set + run -> injected labels -> splits -> classifier -> registry, promotion
    common/      the run's image cache, progress, the Ray connection, checkpoint storage
    launch/      event -> training: one job per event, on Ray Jobs or as a KubeRay RayJob
    consumer.py  the Kafka consumer that hands events to the launcher; __main__.py the command line
"""
