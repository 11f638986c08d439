"""FIX engine logs → trading days: the `import-fix` package (rules: docs/fix-import.md).

A FIX engineer's way in: `parser` finds and verifies messages in a log (`framing` its
numpy fast path, which frames and checks a whole chunk at once); `fields` decodes
their values and holds the tag and enum mappings; `orders` is the order state machine (new,
replace, cancel, the report's order, final status); `fills` the fills, busts and trade
reports; `spill` keeps per-key state past the in-memory window; `daybuilder` dispatches
each message of a date to those handlers and writes the day's rows; `importer` reads the
logs and publishes the day folders. Nothing here imports the CLI, the pipeline or the
database.
"""

# Entries of each per-key map (orders, fills, OrderIDs, trade reports) kept in memory, shared
# between the dates being built; the rest wait in the spill file. A few hundred bytes each.
HOT_ENTRIES = 30_000
MIN_HOT_ENTRIES = 1_000  # per date, however many dates one import builds
SETTLE_EVERY = 64  # messages between checks of the maps' sizes

from surveil.fix.daybuilder import DayBuilder, _write_csv  # noqa: E402
from surveil.fix.fields import (  # noqa: E402
    ACCOUNT_ROLES,
    CLIENT_CAPACITY,
    CLIENT_RULE80A,
    FIRM_ROLES,
    ORDER_TYPES,
    OWNER_ROLE,
    PROPRIETARY_CAPACITY,
    PROPRIETARY_RULE80A,
    SIDES,
    STATUS_OF_EXEC_TYPE,
    STATUS_ONLY_EXEC_TYPES,
    TIME_IN_FORCE,
    TRADE_EXEC_TYPES,
)
from surveil.fix.importer import REJECT_COLUMNS, ImportResult, import_fix  # noqa: E402

__all__ = [
    "ACCOUNT_ROLES",
    "CLIENT_CAPACITY",
    "CLIENT_RULE80A",
    "FIRM_ROLES",
    "HOT_ENTRIES",
    "MIN_HOT_ENTRIES",
    "ORDER_TYPES",
    "OWNER_ROLE",
    "PROPRIETARY_CAPACITY",
    "PROPRIETARY_RULE80A",
    "REJECT_COLUMNS",
    "SETTLE_EVERY",
    "SIDES",
    "STATUS_OF_EXEC_TYPE",
    "STATUS_ONLY_EXEC_TYPES",
    "TIME_IN_FORCE",
    "TRADE_EXEC_TYPES",
    "DayBuilder",
    "ImportResult",
    "_write_csv",
    "import_fix",
]
