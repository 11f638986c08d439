-- One row per alert; account_ids is an array (a wash trade names both sides), kept whole.
select
    alert_id,
    trade_date,
    rule,
    rule_version,
    symbol,
    account_ids,
    cardinality(account_ids) as accounts,
    cardinality(cl_ord_ids) as orders,
    cardinality(exec_ids) as executions,
    score,
    explanation,
    created_at
from {{ source('surveil', 'alerts') }}
