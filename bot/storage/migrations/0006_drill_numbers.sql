-- Drills are numbered per person (#1, #2, ... of their own), not by the table's row id, which counts
-- everybody's drills: a person's third drill is #3 to them, and the numbers say nothing about others.
ALTER TABLE drills ADD COLUMN number INTEGER;
UPDATE drills SET number = (SELECT COUNT(*) FROM drills AS earlier
                            WHERE earlier.user_id = drills.user_id AND earlier.id <= drills.id);
CREATE UNIQUE INDEX drills_user_number ON drills (user_id, number);
