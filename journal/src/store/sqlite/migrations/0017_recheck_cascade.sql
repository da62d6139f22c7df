-- A group's cap (002 l.1251) judges each session of the group against the group's earlier ones,
-- so a late earlier session changes the verdicts of the group's later sessions' recipients, who
-- were not in it. Their pairs are queued by the re-check itself (`cascade` = 1), and a pair so
-- queued queues no others: the cascade is one step.
ALTER TABLE recheck_queue ADD COLUMN cascade INTEGER NOT NULL DEFAULT 0;
