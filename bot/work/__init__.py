"""Durable work: the job queue, deadlines and their firer, the fast lane, background tasks."""
