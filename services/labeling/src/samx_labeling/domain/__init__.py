"""The labeling domain: sessions, labels, vocabulary, suggestions, publishing. It knows the database
(through SQLAlchemy sessions) but neither Kafka nor MinIO: those sit behind the ports in ``ports.py``."""
