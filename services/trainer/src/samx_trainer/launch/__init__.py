"""Event -> training through one launcher: a job per run, named from the run, submitted by the consumer
(which commits once it is submitted) and followed to its end beside the poll loop. Backends:
``ray_jobs`` (the local stack's Ray cluster), ``kuberay`` (a RayJob per run) and ``in_process``."""
