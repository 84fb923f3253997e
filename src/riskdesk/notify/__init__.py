"""Effects that reach people and systems: e-mail (SMTP) and webhooks, with Jinja templates."""
