"""Durable work: the engine (the job stream, retries, the fast lane), the timer and its due set, background tasks."""
