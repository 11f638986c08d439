-- One row per order of every loaded day (the day's current copy: load replaces it whole).
select
    trade_date::text || '/' || cl_ord_id as order_key,
    trade_date::text || '/' || account_id as account_key,
    trade_date,
    cl_ord_id,
    account_id,
    firm_id,
    symbol,
    side,
    order_type,
    time_in_force,
    quantity,
    limit_price,
    transact_time,
    ord_status,
    cum_qty,
    avg_px,
    cancel_time,
    ord_status in ('4', '6', 'C') as is_cancelled,  -- cancelled, pending cancel, expired
    cum_qty > 0 as is_filled
from {{ source('surveil', 'orders') }}
