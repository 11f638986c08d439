-- The fills of one account in one symbol, in time order.
--
-- front_running looks up, for each large client order, the proprietary account's fills in
-- the symbol during the minutes after it (the unwind). On (account_id, symbol) alone each
-- lookup reads every fill of the account in the symbol that day and filters on time, a cost
-- that grows with the square of the day's size: at 3M orders 26,000 lookups read 133 fills
-- each. With transact_time in the key the lookup reads the window only. The index still
-- serves every query by (account_id, symbol), so it replaces the old one.
--
-- Built on every day already loaded, under a lock that holds loads (not reads) meanwhile.
DROP INDEX executions_account_symbol_idx;
CREATE INDEX executions_account_symbol_time_idx ON executions (account_id, symbol, transact_time);
