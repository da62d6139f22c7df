-- A recipient who leaves the institution (выбыл) keeps their record and units; from the day after
-- their last day the kiosks refuse their cards and plan vs fact stops counting their programme.
ALTER TABLE recipients ADD COLUMN left_on TEXT; -- the last day they were served, where they left
