"""`surveil watch`: intraday alerts from a live FIX drop copy (issue 23); see docs/streaming.md."""
