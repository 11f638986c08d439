"""surveil: a daily trade surveillance pipeline over FIX order flow."""

__version__ = "0.1.0"
