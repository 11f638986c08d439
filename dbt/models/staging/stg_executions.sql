-- One row per fill, with its notional (quantity times price).
select
    trade_date::text || '/' || exec_id as exec_key,
    trade_date::text || '/' || cl_ord_id as order_key,
    trade_date::text || '/' || account_id as account_key,
    trade_date,
    exec_id,
    cl_ord_id,
    account_id,
    symbol,
    side,
    fill_qty,
    fill_price,
    fill_qty * fill_price as notional,
    venue,
    transact_time
from {{ source('surveil', 'executions') }}
