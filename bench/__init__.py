"""Benchmarks of the RabbitMQ deployment kit: ``python -m bench --help``."""
