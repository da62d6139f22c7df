-- What the regional export (ЕГИССО) needs of a recipient beside the name and birth date
-- (session 19): the СНИЛС, as 11 digits, one person's in a site; and the sex.
ALTER TABLE recipients ADD COLUMN snils TEXT CHECK (snils IS NULL OR length(snils) = 11);
ALTER TABLE recipients ADD COLUMN sex TEXT CHECK (sex IS NULL OR sex IN ('female', 'male'));
CREATE UNIQUE INDEX recipients_snils ON recipients(site, snils) WHERE snils IS NOT NULL;
