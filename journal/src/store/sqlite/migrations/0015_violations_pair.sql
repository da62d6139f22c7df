-- The re-check replaces a (site, recipient, service) pair's violations: without this index each
-- pair scanned every violation, so a batch grew with all that was found before (a year's
-- backfill held the write lock for seconds, and a page's audit entry waited past the busy
-- timeout).
CREATE INDEX violations_pair ON violations(site, recipient, service);
