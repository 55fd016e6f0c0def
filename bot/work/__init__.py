"""Durable work: the engine (the job stream, the due set, the fast lane), wake-ups, background tasks."""
