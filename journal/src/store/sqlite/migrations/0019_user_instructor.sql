-- The instructor a staff account is at the kiosks (their PIN and card), where it is one.
-- Disabling the account takes that instructor off the kiosks. One account per instructor among
-- the accounts in use.
ALTER TABLE users ADD COLUMN instructor TEXT;
CREATE UNIQUE INDEX users_instructor ON users(instructor)
    WHERE instructor IS NOT NULL AND disabled_at IS NULL;
