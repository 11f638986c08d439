"""`surveil watch`: intraday alerts from a live FIX drop copy (issue 23); see docs/streaming.md.

The defaults live here, in a module with no imports, so that the CLI's options show the
watcher's own values without loading the watcher at start-up."""

DEFAULT_DETECT_EVERY_S = 2.0  # pass start to pass start: alerts within 5 s of their message
DEFAULT_BATCH_BYTES = 4 << 20  # the most of the log read into one commit
