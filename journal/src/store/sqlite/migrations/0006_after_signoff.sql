-- A unit a kiosk sends for a month the head has already signed off (an offline kiosk catching
-- up): taken in, as every confirmed unit is, and marked with the sign-off it came after, so the
-- journal shows it and the head can reopen the month (session 7).
ALTER TABLE units ADD COLUMN after_signoff TEXT;
