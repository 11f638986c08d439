-- Accounts as of each trading day (reference data is loaded per day, sql/005).
select
    trade_date::text || '/' || account_id as account_key,
    trade_date,
    account_id,
    firm_id,
    account_type,
    beneficial_owner_id
from {{ source('surveil', 'accounts') }}
