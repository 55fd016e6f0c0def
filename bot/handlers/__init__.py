"""Job handlers: what each kind of durable job does, run by `bot.work` and idempotent by step."""
