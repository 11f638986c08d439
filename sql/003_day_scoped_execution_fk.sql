-- Executions reference the orders of their own day, partition to partition.
--
-- A foreign key declared on the partitioned `executions` table references the whole
-- partitioned `orders` table: attaching a new day then checks the day's fills with a join
-- against every day's orders, a cost that grows with the warehouse's history. The key
-- includes trade_date, so a fill can only ever match an order of its own day: the same
-- guarantee holds when each executions partition references its day's orders partition,
-- and the check then joins one day to one day. Loads add the constraint to every day they
-- build (surveil/load.py); this migration moves the days already loaded.
ALTER TABLE executions DROP CONSTRAINT executions_trade_date_cl_ord_id_fkey;

DO $$
DECLARE
    day record;
BEGIN
    FOR day IN
        SELECT e.relname AS executions_partition, o.relname AS orders_partition
        FROM pg_inherits ei
        JOIN pg_class e ON e.oid = ei.inhrelid
        JOIN pg_inherits oi ON oi.inhparent = 'orders'::regclass
        JOIN pg_class o ON o.oid = oi.inhrelid
        WHERE ei.inhparent = 'executions'::regclass
          AND pg_get_expr(o.relpartbound, o.oid) = pg_get_expr(e.relpartbound, e.oid)
    LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (trade_date, cl_ord_id) '
            'REFERENCES %I (trade_date, cl_ord_id)',
            day.executions_partition, day.executions_partition || '_order_fkey',
            day.orders_partition);
    END LOOP;
END
$$;
