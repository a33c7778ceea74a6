"""The local stack: real Apache Kafka (KRaft), a real MinIO server and a local Ray head, run as
processes of this machine for the demo and the tests. Built once into ``<dir>/build``; state, logs
and PID files under ``<dir>/stack``."""
